"""Likelihoods P(X|z): a decoder network plus the family of distributions it parameterizes.

A likelihood's ``forward(z)`` maps latents of shape ``[..., latent_dim]`` to a distribution over
flat data vectors with ``event_shape == (data_dim,)``. Each likelihood declares the values its
data may take (``support``), which the data loader checks before training starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from pyro_vae.config import Config
from pyro_vae.networks import build_network
from pyro_vae.registry import Registry

__all__ = [
    "LIKELIHOODS",
    "BernoulliLikelihood",
    "BernoulliPixels",
    "GaussianLikelihood",
    "Support",
    "bernoulli_pixels",
    "build_likelihood",
]

Support = Literal["binary", "real"]


class BernoulliPixels(dist.Independent):
    """Independent Bernoulli pixels, ``Bernoulli(logits=l).to_event(1)``, with a faster log_prob.

    torch's Bernoulli log-density goes through ``binary_cross_entropy_with_logits``, which makes
    about five passes over the logits; with the pixels summed, the same number is
    sum_i x_i l_i - softplus(l_i): one dot product and one softplus pass. On the default MNIST
    decoder this is the largest cost outside the matrix products (see ``bench/eval_speed.py``).
    Everything else (sampling, mean, support, ``expand``) is the ``Independent`` it extends.
    Build it with :func:`bernoulli_pixels`.

    Example:
        >>> logits = torch.randn(3, 5)
        >>> x = torch.bernoulli(torch.full((3, 5), 0.5))
        >>> fast = bernoulli_pixels(logits).log_prob(x)
        >>> slow = dist.Bernoulli(logits=logits).to_event(1).log_prob(x)
        >>> torch.allclose(fast, slow, atol=1e-5)
        True
    """

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over pixels of log Bernoulli(x_i; sigmoid(l_i)), batch shape ``[...]``."""
        if self._validate_args:
            self._validate_sample(value)
        logits = self.base_dist.logits
        return torch.linalg.vecdot(logits, value.to(logits.dtype)) - F.softplus(logits).sum(-1)


def bernoulli_pixels(logits: torch.Tensor) -> BernoulliPixels:
    """P(X|z) for flat binary images from decoder logits ``[..., data_dim]``."""
    return BernoulliPixels(dist.Bernoulli(logits=logits, validate_args=False), 1)


class BernoulliLikelihood(nn.Module):
    """P(X|z) = prod_i Bernoulli(x_i; sigmoid(f(z)_i)), for binary images.

    Example:
        >>> from pyro_vae.networks import MLP
        >>> lik = BernoulliLikelihood(MLP(2, (16,), 64))
        >>> lik(torch.zeros(5, 2)).event_shape
        torch.Size([64])
    """

    support: Support = "binary"

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        return bernoulli_pixels(self.decoder(z))

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The pixel probabilities E[X|z]."""
        return torch.sigmoid(self.decoder(z))


class GaussianLikelihood(nn.Module):
    """P(X|z) = N(X; f(z), sigma^2 I) with a fixed sigma (the tutorial's choice).

    Args:
        decoder: network from ``latent_dim`` to ``data_dim``.
        sigma: observation noise standard deviation, a hyperparameter.

    Example:
        >>> from pyro_vae.networks import MLP
        >>> lik = GaussianLikelihood(MLP(2, (16,), 64), sigma=0.1)
        >>> round(float(lik(torch.zeros(1, 2)).base_dist.scale.max()), 6)
        0.1
    """

    support: Support = "real"

    def __init__(self, decoder: nn.Module, sigma: float) -> None:
        super().__init__()
        self.decoder = decoder
        self.sigma = float(sigma)

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        loc = self.decoder(z)
        scale = torch.full_like(loc, self.sigma)
        return dist.Normal(loc, scale, validate_args=False).to_event(1)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] = f(z)."""
        return self.decoder(z)


LikelihoodFactory = Callable[[Config, int], nn.Module]
LIKELIHOODS: Registry[LikelihoodFactory] = Registry("likelihood", "--likelihood")


def _decoder(config: Config, data_dim: int) -> nn.Module:
    hidden = tuple(reversed(config.hidden_dims))
    return build_network(config.network, config.latent_dim, hidden, data_dim, config.activation)


@LIKELIHOODS.register("bernoulli", "independent Bernoulli pixels, for binary(ized) images")
def _bernoulli(config: Config, data_dim: int) -> nn.Module:
    return BernoulliLikelihood(_decoder(config, data_dim))


@LIKELIHOODS.register("gaussian", "N(f(z), sigma^2 I) with a fixed sigma (--sigma)")
def _gaussian(config: Config, data_dim: int) -> nn.Module:
    return GaussianLikelihood(_decoder(config, data_dim), config.sigma)


def build_likelihood(config: Config, data_dim: int) -> nn.Module:
    """Build the likelihood named by ``config.likelihood`` with its decoder.

    Example:
        >>> lik = build_likelihood(Config(latent_dim=2, hidden_dims=(8,)), 64)
        >>> lik.mean(torch.zeros(3, 2)).shape
        torch.Size([3, 64])
    """
    return LIKELIHOODS.get(config.likelihood)(config, data_dim)
