"""Priors P(z): modules whose ``forward()`` returns the distribution of one latent vector.

A prior's distribution has ``event_shape == (latent_dim,)`` and an empty batch shape; the model
places it inside the ``"data"`` plate, which broadcasts it over the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import pyro.distributions as dist
import torch
from torch import nn

from pyro_vae.config import Config
from pyro_vae.registry import Registry

__all__ = ["PRIORS", "StandardNormalPrior", "build_prior"]


class StandardNormalPrior(nn.Module):
    """The standard normal prior N(0, I) over ``latent_dim`` dimensions.

    Example:
        >>> prior = StandardNormalPrior(2)
        >>> prior().event_shape
        torch.Size([2])
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)
        self.register_buffer("scale", torch.ones(latent_dim), persistent=False)

    def forward(self) -> dist.Distribution:
        """Return N(0, I) as a distribution with one event dimension."""
        return dist.Normal(self.loc, self.scale, validate_args=False).to_event(1)


PriorFactory = Callable[[Config, int], nn.Module]
PRIORS: Registry[PriorFactory] = Registry("prior", "--prior")


@PRIORS.register("standard-normal", "N(0, I), the prior of Kingma & Welling 2014")
def _standard_normal(config: Config, data_dim: int) -> nn.Module:
    return StandardNormalPrior(config.latent_dim)


def build_prior(config: Config, data_dim: int) -> nn.Module:
    """Build the prior named by ``config.prior``.

    Example:
        >>> build_prior(Config(latent_dim=3), 64)().event_shape
        torch.Size([3])
    """
    return PRIORS.get(config.prior)(config, data_dim)
