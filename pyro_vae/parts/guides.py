"""Guide families Q(z|X): encoders whose ``forward(x)`` returns the distribution of z given x.

An encoder maps a batch ``x`` of shape ``[..., data_dim]`` to a distribution with batch shape
``[...]`` and ``event_shape == (latent_dim,)``, reparameterized (``rsample``) and with an exact
``log_prob`` at its own samples. :class:`pyro_vae.VAE` samples it at site ``"z"``.

Your own guide family is any ``nn.Module`` with that contract
(:class:`pyro_vae.parts.contracts.Encoder`); pass it to :class:`pyro_vae.VAE`, or register a factory
in :data:`GUIDES` to select it by name. Factories take keyword arguments: ``data_dim``,
``latent_dim``, ``network`` (a :class:`~pyro_vae.parts.networks.NetworkSpec`) and, for flows,
``layers``; the trait ``jit`` says whether Pyro's JIT can compile the guide.
"""

from __future__ import annotations

from collections.abc import Callable

import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
from torch import nn
from torch.distributions.utils import vec_to_tril_matrix
from torch.nn import functional as F

from pyro_vae.parts.networks import NetworkSpec
from pyro_vae.registry import Registry

__all__ = [
    "GUIDES",
    "DiagonalGaussianEncoder",
    "FullCovarianceEncoder",
    "IAFEncoder",
    "diagonal_guide",
    "full_guide",
    "iaf_guide",
]

_MIN_SCALE = 1e-5


def _diagonal(loc: torch.Tensor, raw_scale: torch.Tensor) -> dist.Distribution:
    scale = F.softplus(raw_scale) + _MIN_SCALE
    return dist.Normal(loc, scale, validate_args=False).to_event(1)


class DiagonalGaussianEncoder(nn.Module):
    """Q(z|X) = N(mu(x), diag(sigma(x)^2)), with mu and sigma from one network.

    Args:
        net: a network from ``data_dim`` inputs to ``2 * latent_dim`` outputs (loc, raw scale).
        latent_dim: dimension of z.

    Example:
        >>> from pyro_vae.parts.networks import MLP
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
        return _diagonal(loc, raw_scale)


class FullCovarianceEncoder(nn.Module):
    """Q(z|X) = N(mu(x), L(x) L(x)^T): the network also outputs a Cholesky factor L(x).

    Args:
        net: a network from ``data_dim`` inputs to ``latent_dim + latent_dim * (latent_dim + 1)
            / 2`` outputs (loc, then the lower triangle row by row; its diagonal goes through a
            softplus).
        latent_dim: dimension of z.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> enc = FullCovarianceEncoder(MLP(64, (32,), 3 + 6), latent_dim=3)
        >>> enc(torch.zeros(8, 64)).scale_tril.shape
        torch.Size([8, 3, 3])
    """

    def __init__(self, net: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.net = net
        self.latent_dim = latent_dim

    @staticmethod
    def num_outputs(latent_dim: int) -> int:
        """Width of the network output the encoder needs."""
        return latent_dim + latent_dim * (latent_dim + 1) // 2

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        """Return Q(z|x) for a batch ``x`` of shape ``[..., data_dim]``."""
        out = self.net(x)
        loc, flat = out[..., : self.latent_dim], out[..., self.latent_dim :]
        tril = vec_to_tril_matrix(flat)
        diagonal = F.softplus(tril.diagonal(dim1=-2, dim2=-1)) + _MIN_SCALE
        tril = tril.tril(-1) + torch.diag_embed(diagonal)
        return dist.MultivariateNormal(loc, scale_tril=tril, validate_args=False)


class IAFEncoder(nn.Module):
    """An inverse autoregressive flow on top of a diagonal Gaussian (Kingma et al. 2016).

    The network outputs the base N(mu(x), sigma(x)^2) and a context vector h(x); each of the
    ``layers`` transforms is Pyro's ``conditional_affine_autoregressive`` given h(x). Sampling
    runs every transform in its parallel direction, and the density of a drawn z is exact and
    cheap (Pyro caches the inverse of the value it just produced). The density at other points
    inverts the flow, one pass per latent dimension.

    Args:
        net: a network from ``data_dim`` inputs to ``2 * latent_dim + context_dim`` outputs.
        latent_dim: dimension of z.
        context_dim: width of h(x).
        layers: number of autoregressive transforms.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> enc = IAFEncoder(MLP(64, (32,), 2 * 3 + 4), latent_dim=3, context_dim=4, layers=2)
        >>> q = enc(torch.zeros(8, 64))
        >>> z = q.rsample()
        >>> z.shape, q.log_prob(z).shape
        (torch.Size([8, 3]), torch.Size([8]))
    """

    def __init__(self, net: nn.Module, latent_dim: int, context_dim: int, layers: int) -> None:
        super().__init__()
        self.net = net
        self.latent_dim = latent_dim
        self.context_dim = context_dim
        hidden = [max(4 * latent_dim, 16)]
        self.transforms = nn.ModuleList(
            T.conditional_affine_autoregressive(latent_dim, context_dim, hidden_dims=hidden)
            for _ in range(layers)
        )

    def forward(self, x: torch.Tensor) -> dist.Distribution:
        """Return Q(z|x) for a batch ``x`` of shape ``[..., data_dim]``."""
        out = self.net(x)
        d = self.latent_dim
        loc, raw_scale, context = out[..., :d], out[..., d : 2 * d], out[..., 2 * d :]
        steps = [t.condition(context) for t in self.transforms]
        return dist.TransformedDistribution(_diagonal(loc, raw_scale), steps)


GUIDES: Registry[Callable[..., nn.Module]] = Registry("guide", "--guide", defaults={"jit": False})


@GUIDES.register(
    "diagonal", "diagonal Gaussian, the amortized guide of Kingma & Welling 2014", jit=True
)
def diagonal_guide(*, data_dim: int, latent_dim: int, network: NetworkSpec) -> nn.Module:
    """The ``diagonal`` guide: :class:`DiagonalGaussianEncoder` on a ``network`` body.

    Example:
        >>> diagonal_guide(data_dim=64, latent_dim=3, network=NetworkSpec("mlp", (16,)))(
        ...     torch.zeros(2, 64)
        ... ).mean.shape
        torch.Size([2, 3])
    """
    return DiagonalGaussianEncoder(network.encoder(data_dim, 2 * latent_dim), latent_dim)


@GUIDES.register(
    "full", "full-covariance Gaussian: the encoder outputs a Cholesky factor", jit=True
)
def full_guide(*, data_dim: int, latent_dim: int, network: NetworkSpec) -> nn.Module:
    """The ``full`` guide: :class:`FullCovarianceEncoder` on a ``network`` body."""
    outputs = FullCovarianceEncoder.num_outputs(latent_dim)
    return FullCovarianceEncoder(network.encoder(data_dim, outputs), latent_dim)


@GUIDES.register("iaf", "inverse autoregressive flow on a diagonal Gaussian, Kingma et al. 2016")
def iaf_guide(*, data_dim: int, latent_dim: int, network: NetworkSpec, layers: int) -> nn.Module:
    """The ``iaf`` guide: :class:`IAFEncoder` with ``layers`` transforms on a ``network`` body."""
    context = max(latent_dim, 8)
    net = network.encoder(data_dim, 2 * latent_dim + context)
    return IAFEncoder(net, latent_dim, context, layers)
