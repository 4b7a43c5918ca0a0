"""The deterministic baseline of the CVAE: P(Y|X) straight from the condition, no latent.

Sohn, Lee & Yan (2015) and Pyro's CVAE tutorial first train a network from the condition X to
the distribution of the target Y (for MNIST quadrants: the given pixels to the probabilities of
the missing ones), then feed its prediction of Y to the CVAE's prior network beside X. Here it
is a registered likelihood whose "latent" input is the condition, so every likelihood of
:data:`~pyro_vae.parts.likelihoods.LIKELIHOODS` serves; with no latent variable, its
log P(Y|X) is exact, and the CVAE's estimates of log P(Y|X) can be read beside it.

Example:
    >>> import torch
    >>> from pyro.infer import Trace_ELBO
    >>> baseline = build_baseline(target_dim=6, condition_dim=3, hidden_dims=(8,))
    >>> y, x = torch.bernoulli(torch.full((4, 6), 0.5)), torch.rand(4, 3)
    >>> baseline.log_likelihood(y, x).shape
    torch.Size([4])
    >>> # no latent, an empty guide: the ELBO is the log-likelihood itself
    >>> loss = Trace_ELBO().loss(baseline.model, baseline.guide, y, x)
    >>> abs(loss + float(baseline.log_likelihood(y, x).sum().detach())) < 1e-3
    True
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_vae.hardware.devices import device_of
from pyro_vae.parts.contracts import Likelihood
from pyro_vae.parts.likelihoods import LIKELIHOODS
from pyro_vae.parts.networks import NetworkSpec

__all__ = ["Baseline", "build_baseline"]


class Baseline(nn.Module):
    """P(Y|X) = likelihood(X): a network from the condition to the target's distribution.

    Args:
        likelihood: a :class:`~pyro_vae.parts.contracts.Likelihood` built on
            ``condition_dim`` inputs over ``target_dim`` values.
        target_dim: the width of Y.
        condition_dim: the width of X.
        name: the name under which ``pyro.module`` registers the parameters.
    """

    def __init__(
        self, likelihood: Likelihood, *, target_dim: int, condition_dim: int, name: str = "baseline"
    ) -> None:
        super().__init__()
        self.likelihood, self.name = likelihood, name
        self.target_dim, self.condition_dim = target_dim, condition_dim

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        """P(Y|X) for conditions ``x`` of shape ``[B, condition_dim]``."""
        return self.likelihood(x)

    def log_likelihood(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The exact log P(Y|X) of every row: ``[B]``."""
        return self.likelihood(x).log_prob(y)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """E[Y|X], the prediction the CVAE's prior network reads: ``[B, target_dim]``."""
        # detached as well: a JIT trace of the CVAE's programs does not keep no_grad
        return self.likelihood.mean(x.to(device_of(self))).detach()

    def model(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """The same as a Pyro program: the observed site ``"x"`` holds Y, as in every model."""
        pyro.module(self.name, self)
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample("x", self.likelihood(x), obs=y)

    def guide(self, y: torch.Tensor | None, x: torch.Tensor) -> None:
        """Nothing to infer: the empty guide, with which Pyro's ELBO is log P(Y|X) itself."""


def build_baseline(
    *,
    target_dim: int,
    condition_dim: int,
    likelihood: str = "bernoulli",
    hidden_dims: tuple[int, ...] = (500, 500),
    activation: str = "relu",
    **sizes: object,
) -> Baseline:
    """The baseline of registered parts: a multilayer perceptron from X to P(Y|X).

    Args:
        target_dim: the width of Y.
        condition_dim: the width of X.
        likelihood: the family of P(Y|X), a name of :data:`~pyro_vae.parts.likelihoods.LIKELIHOODS`.
        hidden_dims: its hidden widths (the tutorial's: 500, 500).
        activation: their activation (the tutorial's: ReLU).
        **sizes: the likelihood's further keyword arguments (``sigma``).

    Example:
        >>> build_baseline(target_dim=6, condition_dim=3, hidden_dims=(8,)).predict(
        ...     torch.zeros(2, 3)).shape
        torch.Size([2, 6])
    """
    network = NetworkSpec("mlp", tuple(hidden_dims), activation)
    return Baseline(
        LIKELIHOODS.build(
            likelihood, latent_dim=condition_dim, data_dim=target_dim, network=network, **sizes
        ),
        target_dim=target_dim,
        condition_dim=condition_dim,
    )
