"""What a prior, an encoder and a likelihood must provide: the contracts of the swappable parts.

:class:`pyro_vae.VAE` composes three ``torch.nn.Module``s into a Pyro model and guide. Any module
with the methods below fits, built in or your own; these ``typing.Protocol``s say so in code
(a type checker checks them; at run time :func:`check_part` does, with one clear message).

* :class:`Prior`: ``forward()`` returns P(z), a distribution with ``event_shape ==
  (latent_dim,)`` and an empty batch shape, with an exact ``log_prob`` and ``sample``.
* :class:`Encoder`: ``forward(x)`` returns Q(z|x) for ``x`` of shape ``[..., data_dim]``: batch
  shape ``x.shape[:-1]``, event shape ``(latent_dim,)``, reparameterized (``rsample``).
* :class:`Likelihood`: ``forward(z)`` returns P(X|z) over flat data vectors (event shape
  ``(data_dim,)``) for ``z`` of shape ``[..., latent_dim]``; ``mean(z)`` returns E[X|z]. An
  optional ``support`` attribute says which data it models (``"binary"``, ``"unit"`` for
  [0, 1], ``"discrete"`` for pixels of a given depth, k / (2**bits - 1), or ``"real"``, the
  default), which decides whether data are binarized and how they are checked.

Example:
    >>> from pyro_vae.parts.priors import StandardNormalPrior
    >>> isinstance(StandardNormalPrior(2), Prior)
    True
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import pyro.distributions as dist
import torch
from torch import nn

__all__ = ["Encoder", "Likelihood", "Prior", "Support", "check_part", "support_of"]

#: The values a likelihood's data may take: 0/1, the unit interval [0, 1], any real number, or
#: the levels of pixels of a given depth (``"discrete"``: k / (2**bits - 1), 8 bits by default).
Support = Literal["binary", "real", "unit", "discrete"]


@runtime_checkable
class Prior(Protocol):
    """P(z): ``prior()`` returns a distribution with event shape ``(latent_dim,)``."""

    def __call__(self) -> dist.Distribution:
        """Return P(z)."""
        ...


@runtime_checkable
class Encoder(Protocol):
    """Q(z|X): ``encoder(x)`` returns a reparameterized distribution over z for each row of x."""

    def __call__(self, x: torch.Tensor) -> dist.Distribution:
        """Return Q(z|x), batch shape ``x.shape[:-1]``."""
        ...


@runtime_checkable
class Likelihood(Protocol):
    """P(X|z): ``likelihood(z)`` returns a distribution over flat data; ``mean(z)`` E[X|z].

    It may also declare ``support`` (:data:`Support`); one that does not is taken to model real
    numbers (:func:`support_of`).
    """

    def __call__(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z), event shape ``(data_dim,)``."""
        ...

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """Return E[X|z], shape ``[..., data_dim]``."""
        ...


_CONTRACTS: dict[str, tuple[type, str]] = {
    "prior": (Prior, "forward() returning P(z)"),
    "encoder": (Encoder, "forward(x) returning Q(z|x)"),
    "likelihood": (Likelihood, "forward(z) returning P(X|z) and mean(z) returning E[X|z]"),
}


def check_part(role: str, part: object) -> None:
    """Raise a ``TypeError`` saying what is missing if ``part`` cannot play ``role``.

    Args:
        role: ``"prior"``, ``"encoder"`` or ``"likelihood"``.
        part: the object offered for it.

    Example:
        >>> check_part("likelihood", nn.Identity())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: the likelihood must be a torch.nn.Module with forward(z) ... got Identity
    """
    contract, what = _CONTRACTS[role]
    if not (isinstance(part, nn.Module) and isinstance(part, contract)):
        raise TypeError(
            f"the {role} must be a torch.nn.Module with {what}; got {type(part).__name__}"
        )


def support_of(likelihood: object) -> Support:
    """The data a likelihood models: its ``support`` attribute, ``"real"`` when it has none.

    Example:
        >>> from pyro_vae.parts.likelihoods import BernoulliLikelihood
        >>> support_of(BernoulliLikelihood(nn.Linear(2, 4))), support_of(nn.Linear(2, 4))
        ('binary', 'real')
    """
    support = getattr(likelihood, "support", "real")
    if support not in ("binary", "real", "unit", "discrete"):
        raise TypeError(
            "a likelihood's support must be 'binary', 'unit', 'discrete' or 'real', "
            f"got {support!r}"
        )
    return support
