"""The data section of a run's ``config.json``: what a model needs to know of its data.

(And :func:`describe_model`: the classes of a user's own model, as ``config.json`` names them.)

Example:
    >>> info = DataInfo(64, (8, 8), num_classes=10)
    >>> DataInfo.from_dict(info.to_dict(), Path("config.json")) == info
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyro_vae.data.splits import DataSplits
from pyro_vae.errors import InputError
from pyro_vae.models.vae import VAE

__all__ = ["DataInfo", "describe_model"]


@dataclass(frozen=True)
class DataInfo:
    """The width of a datapoint, its image shape, its classes (M2) and its condition (CVAE).

    Attributes:
        data_dim: values per datapoint (target and condition of a conditional model).
        image_shape: ``(height, width)`` for grey images, ``(channels, height, width)`` for
            colour ones, or ``None``.
        num_classes: the classes of a model with a class, ``None`` for every other model.
        condition_dim: the width of the condition that ends each row of a conditional model's
            data, 0 for every other model.
        dequantize_bits: the depth of the pixels the run dequantized, 0 when it did not.
    """

    data_dim: int
    image_shape: tuple[int, ...] | None
    num_classes: int | None = None
    condition_dim: int = 0
    dequantize_bits: int = 0

    def __getattr__(self, name: str) -> Any:
        """Only missing attributes come here: ``run.data.test`` says where the data are."""
        if name in ("train", "validation", "test", "y_train", "y_test"):
            raise AttributeError(
                f"a loaded run records the shape of its data, not the data: run.load_data() "
                f"reads them again (.{name} is there), as train(...).data held them"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def of(cls, splits: DataSplits, num_classes: int | None = None) -> DataInfo:
        """What a run records of the data it trains on."""
        return cls(
            splits.data_dim,
            splits.image_shape,
            num_classes,
            splits.condition_dim,
            splits.dequantize_bits,
        )

    @property
    def channels(self) -> int:
        """Colour channels of the images: 3 for ``(C, H, W)`` shapes, else 1."""
        return self.image_shape[0] if self.image_shape and len(self.image_shape) == 3 else 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``num_classes``, ``condition_dim`` only where the model has them)."""
        out: dict[str, Any] = {
            "data_dim": self.data_dim,
            "image_shape": list(self.image_shape or []) or None,
        }
        if self.num_classes is not None:
            out["num_classes"] = self.num_classes
        if self.condition_dim:
            out["condition_dim"] = self.condition_dim
        if self.dequantize_bits:
            out["dequantize_bits"] = self.dequantize_bits
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path) -> DataInfo:
        """Read the data section of ``path``; :class:`InputError` if it is damaged."""
        data_dim, shape = data.get("data_dim"), data.get("image_shape")
        valid_shape = shape is None or (
            isinstance(shape, list)
            and len(shape) in (2, 3)
            and all(isinstance(s, int) and s > 0 for s in shape)
        )
        if not (isinstance(data_dim, int) and 0 < data_dim <= 1 << 24 and valid_shape):
            raise InputError(
                f"{path}: the data section is invalid; restore the file or train again"
            )
        width = data.get("condition_dim", 0)
        if not (isinstance(width, int) and 0 <= width < data_dim):
            raise InputError(
                f"{path}: condition_dim {width!r} is invalid; restore the file or train again"
            )
        image_shape = tuple(shape) if shape else None
        # a conditional model's rows are the image and its condition, or an image cut in two
        if image_shape and math.prod(image_shape) not in (data_dim, data_dim - width):
            raise InputError(f"{path}: image_shape {shape} does not match data_dim {data_dim}")
        classes = data.get("num_classes")
        if classes is not None and not (isinstance(classes, int) and 0 < classes <= 1 << 16):
            raise InputError(
                f"{path}: num_classes {classes!r} is invalid; restore the file or train again"
            )
        bits = data.get("dequantize_bits", 0)
        if not (isinstance(bits, int) and 0 <= bits <= 16):
            raise InputError(
                f"{path}: dequantize_bits {bits!r} is invalid; restore the file or train again"
            )
        return cls(data_dim, image_shape, classes, width, bits)


def describe_model(vae: VAE) -> str:
    """The classes a model is made of, as ``config.json`` records a custom one.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> describe_model(build_vae(Config(), 64))  # doctest: +NORMALIZE_WHITESPACE
        'pyro_vae.models.vae.VAE(prior=pyro_vae.parts.priors.StandardNormalPrior,
         encoder=pyro_vae.parts.guides.DiagonalGaussianEncoder,
         likelihood=pyro_vae.parts.likelihoods.BernoulliLikelihood)'
    """

    def name(obj: object) -> str:
        return f"{type(obj).__module__}.{type(obj).__qualname__}"

    parts = ", ".join(f"{role}={name(getattr(vae, role))}" for role in _ROLES)
    return f"{name(vae)}({parts})"


_ROLES = ("prior", "encoder", "likelihood")
