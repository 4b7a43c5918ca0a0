"""Guide families Q(z|X): encoders whose ``forward(x)`` returns the distribution of z given x.

An encoder maps a batch ``x`` of shape ``[B, data_dim]`` to a distribution with batch shape
``[B]`` and ``event_shape == (latent_dim,)``. :class:`pyro_vae.VAE` samples it at site ``"z"``.
"""

from __future__ import annotations

from collections.abc import Callable

import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from pyro_vae.config import Config
from pyro_vae.networks import build_network
from pyro_vae.registry import Registry

__all__ = ["GUIDES", "DiagonalGaussianEncoder", "build_encoder"]

_MIN_SCALE = 1e-5


class DiagonalGaussianEncoder(nn.Module):
    """Q(z|X) = N(mu(x), diag(sigma(x)^2)), with mu and sigma from one network.

    Args:
        net: a network from ``data_dim`` inputs to ``2 * latent_dim`` outputs (loc, raw scale).
        latent_dim: dimension of z.

    Example:
        >>> from pyro_vae.networks import MLP
        >>> enc = DiagonalGaussianEncoder(MLP(64, (32,), 2 * 5), latent_dim=5)
        >>> q = enc(torch.zeros(8, 64))
        >>> q.batch_shape, q.event_shape
        (torch.Size([8]), torch.Size([5]))
    """

    def __init__(self, net: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.net = net
        self.latent_dim = latent_dim

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        """Return Q(z|x) for a batch ``x`` of shape ``[..., data_dim]``."""
        loc, raw_scale = self.net(x).chunk(2, dim=-1)
        scale = F.softplus(raw_scale) + _MIN_SCALE
        return dist.Normal(loc, scale, validate_args=False).to_event(1)


EncoderFactory = Callable[[Config, int], nn.Module]
GUIDES: Registry[EncoderFactory] = Registry("guide", "--guide")


@GUIDES.register("diagonal", "diagonal Gaussian, the amortized guide of Kingma & Welling 2014")
def _diagonal(config: Config, data_dim: int) -> nn.Module:
    net = build_network(
        config.network, data_dim, config.hidden_dims, 2 * config.latent_dim, config.activation
    )
    return DiagonalGaussianEncoder(net, config.latent_dim)


def build_encoder(config: Config, data_dim: int) -> nn.Module:
    """Build the encoder of the guide family named by ``config.guide``.

    Example:
        >>> encoder = build_encoder(Config(latent_dim=3, hidden_dims=(16,)), 64)
        >>> encoder(torch.zeros(2, 64)).mean.shape
        torch.Size([2, 3])
    """
    return GUIDES.get(config.guide)(config, data_dim)
