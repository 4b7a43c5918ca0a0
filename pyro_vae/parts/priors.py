"""Priors P(z): modules whose ``forward()`` returns the distribution of one latent vector.

A prior's distribution has ``event_shape == (latent_dim,)`` and an empty batch shape; the model
places it inside the ``"data"`` plate, which broadcasts it over the batch. Every prior gives an
exact ``log_prob`` at any z (the estimators and the ELBO need it) and can be sampled: the
contract :class:`pyro_vae.parts.contracts.Prior`.

:data:`PRIORS` registers each class with its traits: ``jit`` (Pyro's JIT can compile it) and
``components`` (the default number of mixture components; ``None`` for a prior without any).
:meth:`~pyro_vae.registry.Registry.build` calls a class with the sizes its ``__init__`` names
(``latent_dim``, ``data_dim``, ``components``, ``layers``, ``encoder``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
from torch import nn
from torch.nn import functional as F

from pyro_vae.registry import Registry

__all__ = [
    "PRIORS",
    "DiagonalGaussianMixture",
    "FlowPrior",
    "MixturePrior",
    "StandardNormalPrior",
    "VampPrior",
]

_MIN_SCALE = 1e-4
_SCALAR = torch.Size()


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


class MixturePrior(nn.Module):
    """A learnable mixture of ``components`` diagonal Gaussians.

    Weights, means and scales are all trained with the rest of the model.

    Example:
        >>> prior = MixturePrior(latent_dim=2, components=5)
        >>> prior().log_prob(torch.zeros(3, 2)).shape
        torch.Size([3])
    """

    def __init__(self, latent_dim: int, components: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(components))
        self.loc = nn.Parameter(torch.randn(components, latent_dim))
        self.raw_scale = nn.Parameter(torch.zeros(components, latent_dim))

    def forward(self) -> dist.Distribution:
        """Return the mixture as a distribution with one event dimension."""
        scale = F.softplus(self.raw_scale) + _MIN_SCALE
        component = dist.Normal(self.loc, scale, validate_args=False).to_event(1)
        return dist.MixtureSameFamily(
            dist.Categorical(logits=self.logits, validate_args=False), component
        )


class DiagonalGaussianMixture(dist.TorchDistribution):
    """An equal-weight mixture of C diagonal Gaussians N(mu_k, diag(sigma_k^2)) over R^d.

    The same density as ``MixtureSameFamily(Categorical, Normal(mu, sigma).to_event(1))``, but
    its ``log_prob`` expands the squares, sum_i (z_i - mu_ki)^2 / sigma_ki^2 =
    z^2 . tau_k - 2 z . (mu_k tau_k) + mu_k^2 . tau_k with tau = 1 / sigma^2, into two matrix
    products (in float64, which keeps the expansion accurate). The general mixture materializes
    a ``[..., C, d]`` tensor per call, which makes a VampPrior with hundreds of pseudo-inputs
    slow to train and very slow to evaluate with K = 5000 samples per image.

    Args:
        loc: component means ``[C, d]``.
        scale: component standard deviations ``[C, d]``.

    Example:
        >>> loc, scale = torch.randn(4, 2), torch.rand(4, 2) + 0.5
        >>> fast = DiagonalGaussianMixture(loc, scale)
        >>> slow = dist.MixtureSameFamily(
        ...     dist.Categorical(logits=torch.zeros(4)), dist.Normal(loc, scale).to_event(1)
        ... )
        >>> z = torch.randn(3, 2)
        >>> torch.allclose(fast.log_prob(z), slow.log_prob(z), atol=1e-5)
        True
    """

    arg_constraints: dict = {}  # noqa: RUF012 - torch's own class attribute
    support = dist.constraints.independent(dist.constraints.real, 1)

    def __init__(
        self, loc: torch.Tensor, scale: torch.Tensor, batch_shape: torch.Size = _SCALAR
    ) -> None:
        self.loc, self.scale = loc, scale
        super().__init__(batch_shape, loc.shape[-1:], validate_args=False)

    def expand(
        self, batch_shape: torch.Size, _instance: DiagonalGaussianMixture | None = None
    ) -> DiagonalGaussianMixture:
        """The same mixture with a larger batch shape (the plates broadcast over it)."""
        return DiagonalGaussianMixture(self.loc, self.scale, torch.Size(batch_shape))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log (1/C) sum_k N(z; mu_k, diag sigma_k^2) for z of shape ``[..., d]``."""
        z = value.double()
        loc, scale = self.loc.double(), self.scale.double()
        tau = scale.pow(-2)
        quad = (z * z) @ tau.T - 2.0 * z @ (loc * tau).T + (loc * loc * tau).sum(-1)
        log_norm = -scale.log().sum(-1) - 0.5 * loc.shape[-1] * math.log(2 * math.pi)
        components = log_norm - 0.5 * quad
        log_p = torch.logsumexp(components, -1) - math.log(loc.shape[0])
        return log_p.to(value.dtype)

    def sample(self, sample_shape: torch.Size = _SCALAR) -> torch.Tensor:
        """Draw a component uniformly, then z from it."""
        shape = torch.Size(sample_shape) + self.batch_shape
        with torch.no_grad():
            k = torch.randint(self.loc.shape[0], shape, device=self.loc.device)
            loc = self.loc[k]
            return loc + self.scale[k] * torch.randn_like(loc)


class VampPrior(nn.Module):
    """VampPrior: the average of the guide's Q(z|u_k) over learned pseudo-inputs u_k.

    Tomczak & Welling (2018), "VAE with a VampPrior". The pseudo-inputs live in data space (as
    sigmoid of a free parameter, so in [0, 1]) and are encoded by the model's own encoder, so the
    prior follows the aggregate posterior as training goes on. With a flow guide (``iaf``) the
    components are the flow's base Gaussians Q_0(z|u_k): still an exact density, at the cost of
    one encoder pass, where the flow's own density at arbitrary z would need a sequential
    inversion per pseudo-input.

    Args:
        encoder: the guide's encoder; it is shared, not owned (its weights are saved with the
            guide, once).
        data_dim: width of a datapoint (of a pseudo-input).
        components: number of pseudo-inputs K.

    Example:
        >>> from pyro_vae.parts.guides import DiagonalGaussianEncoder
        >>> from pyro_vae.parts.networks import MLP
        >>> enc = DiagonalGaussianEncoder(MLP(16, (8,), 4), latent_dim=2)
        >>> prior = VampPrior(enc, data_dim=16, components=10)
        >>> prior().log_prob(torch.zeros(3, 2)).shape
        torch.Size([3])
    """

    def __init__(self, encoder: nn.Module, data_dim: int, components: int) -> None:
        super().__init__()
        # Kept out of the module tree: the encoder is the guide's, registered there.
        self.__dict__["_encoder"] = encoder
        self.pseudo_inputs = nn.Parameter(0.1 * torch.randn(components, data_dim))

    def forward(self) -> dist.Distribution:
        """Return (1/K) sum_k Q(z | u_k) as a distribution with one event dimension."""
        components = self._encoder(torch.sigmoid(self.pseudo_inputs))
        if isinstance(components, dist.TransformedDistribution):
            # A flow guide's density at an arbitrary z inverts the flow one latent dimension at
            # a time, for every pseudo-input: far too slow to train. Mix its base Gaussians.
            components = components.base_dist
        base = getattr(components, "base_dist", None)
        if isinstance(components, dist.Independent) and isinstance(base, dist.Normal):
            return DiagonalGaussianMixture(base.loc, base.scale)
        weights = torch.zeros(self.pseudo_inputs.shape[0], device=self.pseudo_inputs.device)
        return dist.MixtureSameFamily(
            dist.Categorical(logits=weights, validate_args=False), components
        )


class FlowPrior(nn.Module):
    """A normalizing flow on top of N(0, I): masked autoregressive affine layers.

    Each layer is the inverse of Pyro's ``affine_autoregressive`` transform (a MAF, Papamakarios
    et al. 2017), so the density at any z takes one parallel pass per layer; sampling, which only
    generation needs, is the sequential direction. Layers use different variable orders.

    Example:
        >>> prior = FlowPrior(latent_dim=3, layers=2)
        >>> prior().log_prob(torch.zeros(4, 3)).shape
        torch.Size([4])
        >>> prior().sample((5,)).shape
        torch.Size([5, 3])
    """

    def __init__(self, latent_dim: int, layers: int) -> None:
        super().__init__()
        hidden = [max(4 * latent_dim, 16)]
        self.transforms = nn.ModuleList(
            T.affine_autoregressive(latent_dim, hidden_dims=hidden) for _ in range(layers)
        )
        self.base = StandardNormalPrior(latent_dim)

    def forward(self) -> dist.Distribution:
        """Return the flow distribution (one event dimension)."""
        return dist.TransformedDistribution(self.base(), [t.inv for t in self.transforms])


PRIORS: Registry[Callable[..., nn.Module]] = Registry(
    "prior", "--prior", defaults={"jit": False, "components": None}
)
PRIORS.register("standard-normal", "N(0, I), the prior of Kingma & Welling 2014", jit=True)(
    StandardNormalPrior
)
PRIORS.register(
    "mixture",
    "learnable mixture of Gaussians (--prior-components, default 10)",
    jit=True,
    components=10,
)(MixturePrior)
PRIORS.register(
    "vamp", "VampPrior over pseudo-inputs, Tomczak & Welling 2018 (default 500)", components=500
)(VampPrior)
PRIORS.register("flow", "masked autoregressive flow on N(0, I), Papamakarios et al. 2017")(
    FlowPrior
)
