"""The grammar of ``--condition``: what the conditional VAE is given beside each target.

What a condition means for the data (which pixels, which arrays) is
:mod:`pyro_vae.data.conditions`; here is only what a setting may say, checked where the
settings are (:class:`pyro_vae.config.Config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyro_vae.errors import InputError, setting, where

__all__ = ["CONDITION_KINDS", "Condition"]

#: The kinds of condition, with what each gives the model.
CONDITION_KINDS = {
    "none": "no condition (every model but cvae)",
    "quadrants:K": "K = 1, 2 or 3 quadrants of the image given, the rest completed",
    "label": "the image's class, one-hot: class-conditional generation",
    "arrays": "the arrays c_train and c_test of an npz file, one row per image",
}


@dataclass(frozen=True)
class Condition:
    """A parsed ``--condition``: its kind and, for ``quadrants``, how many are given.

    Attributes:
        kind: ``"none"``, ``"quadrants"``, ``"label"`` or ``"arrays"``.
        quadrants: K for ``quadrants``, else 0.
    """

    kind: str
    quadrants: int = 0

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Read ``--condition``; :class:`~pyro_vae.errors.InputError` names what is wrong.

        Example:
            >>> Condition.parse("quadrants:3"), Condition.parse("label").kind
            (Condition(kind='quadrants', quadrants=3), 'label')
        """
        kind, _, count = text.partition(":")
        if kind == "quadrants":
            if not count.isdigit() or not 1 <= int(count) <= 3:
                raise InputError(
                    f"{setting('condition', text)} gives {count or 'no number of'} quadrants: "
                    f"give 1, 2 or 3, e.g. {setting('condition', 'quadrants:2')}"
                )
            return cls("quadrants", int(count))
        if kind in ("none", "label", "arrays") and not count:
            return cls(kind)
        raise InputError(
            f"unknown condition {text!r}: choose one of {', '.join(CONDITION_KINDS)} "
            f"({where('condition')})"
        )

    def __str__(self) -> str:
        return f"quadrants:{self.quadrants}" if self.kind == "quadrants" else self.kind
