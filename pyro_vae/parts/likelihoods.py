"""Likelihoods P(X|z): a decoder network plus the family of distributions it parameterizes.

A likelihood's ``forward(z)`` maps latents of shape ``[..., latent_dim]`` to a distribution over
flat data vectors with ``event_shape == (data_dim,)`` (the contract
:class:`pyro_vae.parts.contracts.Likelihood`). Each likelihood class declares the values its data
may take (``support``); its registry entry carries the same value as its ``support`` trait, which
the data loader checks before anything is built. Factories take keyword arguments: ``latent_dim``,
``data_dim``, ``network`` (a :class:`~pyro_vae.parts.networks.NetworkSpec`) and ``sigma``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from pyro_vae.parts.contracts import Support
from pyro_vae.parts.discretized import (
    DiscretizedLogistic,
    DiscretizedLogisticMixture,
    mixture_parameters,
)
from pyro_vae.parts.networks import NetworkSpec, output_bias
from pyro_vae.registry import Registry

__all__ = [
    "LIKELIHOODS",
    "BernoulliLikelihood",
    "BernoulliPixels",
    "ContinuousBernoulliLikelihood",
    "DecoderLikelihood",
    "DiscretizedLogisticLikelihood",
    "DiscretizedMixtureLikelihood",
    "GaussianLikelihood",
    "LearnedGaussianLikelihood",
    "Support",
    "bernoulli",
    "bernoulli_pixels",
    "continuous_bernoulli",
    "discretized_logistic",
    "dmol",
    "gaussian",
    "learned_gaussian",
    "likelihood_support",
]

_MIN_SIGMA = 1e-3
_MIN_LOG_SCALE = -7.0  # logistic scales of the discretized likelihoods stay above e^-7
_MARGINAL_CLAMP = 1e-3  # pixel means kept in [1e-3, 1 - 1e-3] before the logit


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


def _clamped_logit(p: torch.Tensor) -> torch.Tensor:
    return torch.logit(p.clamp(_MARGINAL_CLAMP, 1 - _MARGINAL_CLAMP))


class DecoderLikelihood(nn.Module):
    """Base of the built-in likelihoods: a decoder network f(z) that parameterizes P(X|z).

    Subclasses set ``support``, define ``forward(z)`` and ``mean(z)``, and say through
    :meth:`link` which decoder output gives a pixel mean.

    Args:
        decoder: network from ``latent_dim`` to ``data_dim``.
    """

    support: Support = "real"

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def link(self, mean: torch.Tensor) -> torch.Tensor:
        """The decoder output whose P(X|z) has pixel means ``mean`` (here the identity)."""
        return mean

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> bool:
        """Start the decoder's output bias at the pixel marginals of the training data ``x``.

        With the bias at zero, a freshly initialized VAE spends its first hundreds of steps
        learning the pixel marginals through its hidden layers, which saturates them; the
        decoder then hardly depends on z and the ELBO sits on the plateau where every image is
        explained by the marginals alone (with a VampPrior, whose KL is zero there, it stays
        there for good). Starting from the marginals removes that plateau.

        Returns:
            Whether the decoder has an output bias to set (see :func:`networks.output_bias`).

        Example:
            >>> from pyro_vae.parts.networks import MLP
            >>> lik = BernoulliLikelihood(MLP(2, (16,), 3))
            >>> lik.init_from_data(torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
            True
            >>> lik.decoder[-1].bias.data  # logits of the means 1, 0, 0.5, kept off 0 and 1
            tensor([ 6.9068, -6.9068,  0.0000])
        """
        bias = output_bias(self.decoder)
        if bias is None:
            return False
        bias.copy_(self.link(x.to(bias.dtype).mean(0)))
        return True


class BernoulliLikelihood(DecoderLikelihood):
    """P(X|z) = prod_i Bernoulli(x_i; sigmoid(f(z)_i)), for binary images.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> lik = BernoulliLikelihood(MLP(2, (16,), 64))
        >>> lik(torch.zeros(5, 2)).event_shape
        torch.Size([64])
    """

    support: Support = "binary"

    def link(self, mean: torch.Tensor) -> torch.Tensor:
        """The logits of pixel means ``mean`` (kept off 0 and 1)."""
        return _clamped_logit(mean)

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        return bernoulli_pixels(self.decoder(z))

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The pixel probabilities E[X|z]."""
        return torch.sigmoid(self.decoder(z))


class GaussianLikelihood(DecoderLikelihood):
    """P(X|z) = N(X; f(z), sigma^2 I) with a fixed sigma (the tutorial's choice).

    Args:
        decoder: network from ``latent_dim`` to ``data_dim``.
        sigma: observation noise standard deviation, a hyperparameter.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> lik = GaussianLikelihood(MLP(2, (16,), 64), sigma=0.1)
        >>> round(float(lik(torch.zeros(1, 2)).base_dist.scale.max()), 6)
        0.1
    """

    support: Support = "real"

    def __init__(self, decoder: nn.Module, sigma: float) -> None:
        super().__init__(decoder)
        self.sigma = float(sigma)

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        loc = self.decoder(z)
        scale = torch.full_like(loc, self.sigma)
        return dist.Normal(loc, scale, validate_args=False).to_event(1)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] = f(z)."""
        return self.decoder(z)


class LearnedGaussianLikelihood(DecoderLikelihood):
    """P(X|z) = N(X; f(z), sigma^2) with sigma learned: one for all pixels, or one per pixel.

    sigma = 1e-3 + softplus(raw) stays bounded away from zero (on data with constant pixels an
    unbounded sigma would shrink forever and the likelihood grow without limit).

    Args:
        decoder: network from ``latent_dim`` to ``data_dim``.
        data_dim: width of a datapoint.
        sigma: the initial sigma.
        per_pixel: learn one sigma per pixel instead of a single one.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> lik = LearnedGaussianLikelihood(MLP(2, (16,), 64), 64, sigma=0.5, per_pixel=True)
        >>> round(float(lik.sigma().detach().mean()), 4), lik.sigma().shape
        (0.5, torch.Size([64]))
    """

    support: Support = "real"

    def __init__(self, decoder: nn.Module, data_dim: int, sigma: float, *, per_pixel: bool) -> None:
        super().__init__(decoder)
        start = torch.tensor(float(sigma) - _MIN_SIGMA).expm1().log()  # softplus^-1
        self.raw_sigma = nn.Parameter(start.repeat(data_dim if per_pixel else 1))

    def sigma(self) -> torch.Tensor:
        """The current sigma, shape ``[data_dim]`` or ``[1]``."""
        return F.softplus(self.raw_sigma) + _MIN_SIGMA

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        loc = self.decoder(z)
        return dist.Normal(loc, self.sigma().expand_as(loc), validate_args=False).to_event(1)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] = f(z)."""
        return self.decoder(z)


class ContinuousBernoulliLikelihood(DecoderLikelihood):
    """Continuous Bernoulli pixels for grey levels in [0, 1] (Loaiza-Ganem & Cunningham 2019).

    Unlike a Bernoulli applied to grey levels, it is a proper density on [0, 1], with the
    normalizing constant the Bernoulli lacks.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> lik = ContinuousBernoulliLikelihood(MLP(2, (16,), 64))
        >>> lik(torch.zeros(3, 2)).log_prob(torch.full((3, 64), 0.3)).shape
        torch.Size([3])
    """

    support: Support = "unit"

    def link(self, mean: torch.Tensor) -> torch.Tensor:
        """Logits whose Bernoulli mean is ``mean``: a start near, not at, the family's mean."""
        return _clamped_logit(mean)

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        logits = self.decoder(z)
        return dist.ContinuousBernoulli(logits=logits, validate_args=False).to_event(1)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] (not sigmoid of the logits: the family's own mean)."""
        return dist.ContinuousBernoulli(logits=self.decoder(z), validate_args=False).mean


class DiscretizedLogisticLikelihood(DecoderLikelihood):
    """A discretized logistic per value (sub-pixel), for images of ``bits`` depth.

    The decoder gives two maps: the logistic's location and log-scale for every value
    (:class:`~pyro_vae.parts.discretized.DiscretizedLogistic`); log P(X|z) is a log-probability
    of the data, so its NLL is in nats of the discrete images (and bits per dimension).

    Args:
        decoder: network from ``latent_dim`` to ``2 * data_dim`` (locations, then log-scales).
        data_dim: width of a datapoint.
        bits: the depth of the pixels.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> lik = DiscretizedLogisticLikelihood(MLP(2, (16,), 2 * 64), 64, bits=8)
        >>> lik(torch.zeros(3, 2)).log_prob(torch.full((3, 64), 128 / 255)).shape
        torch.Size([3])
    """

    support: Support = "discrete"

    def __init__(self, decoder: nn.Module, data_dim: int, *, bits: int = 8) -> None:
        super().__init__(decoder)
        self.data_dim, self.bits = data_dim, int(bits)

    def _loc_and_log_scale(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.decoder(z)
        loc, log_scale = out[..., : self.data_dim], out[..., self.data_dim :]
        return loc, log_scale.clamp(min=_MIN_LOG_SCALE)

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        loc, log_scale = self._loc_and_log_scale(z)
        return DiscretizedLogistic(loc, log_scale, bits=self.bits, validate_args=False).to_event(1)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] of the discretized values."""
        return DiscretizedLogistic(*self._loc_and_log_scale(z), bits=self.bits).mean

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> bool:
        """Start the locations at the pixel means and the scales near the pixel spreads."""
        bias = output_bias(self.decoder)
        if bias is None:
            return False
        bias.copy_(torch.cat(_start_location_and_log_scale(x.to(bias.dtype), self.bits)))
        return True


def _start_location_and_log_scale(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per value: the data's mean, and the log of a logistic scale matching its spread.

    A logistic of scale s has standard deviation s pi / sqrt(3); the scale is kept at least
    one level wide.
    """
    floor = 1.0 / (2**bits - 1)
    scale = (x.std(0) * 3**0.5 / torch.pi).clamp(min=floor)
    return x.mean(0), scale.log()


class DiscretizedMixtureLikelihood(DecoderLikelihood):
    """A mixture of discretized logistics per pixel (PixelCNN++), for images of ``bits`` depth.

    The decoder gives :func:`~pyro_vae.parts.discretized.mixture_parameters` maps over the
    pixels: the components' weights, locations, log-scales and, for colour, the coefficients of
    each channel on the channels before it
    (:class:`~pyro_vae.parts.discretized.DiscretizedLogisticMixture`).

    Args:
        decoder: network from ``latent_dim`` to ``K * pixels`` values, map first.
        pixels: pixels per image (``data_dim / channels``).
        channels: values per pixel (1 for grey, 3 for RGB).
        mixtures: components per pixel.
        bits: the depth of the pixels.

    Example:
        >>> from pyro_vae.parts.networks import MLP
        >>> lik = DiscretizedMixtureLikelihood(MLP(2, (16,), 15 * 64), 64, mixtures=5)
        >>> lik(torch.zeros(3, 2)).event_shape
        torch.Size([64])
    """

    support: Support = "discrete"

    def __init__(
        self,
        decoder: nn.Module,
        pixels: int,
        *,
        channels: int = 1,
        mixtures: int = 10,
        bits: int = 8,
    ) -> None:
        super().__init__(decoder)
        self.pixels, self.channels, self.mixtures = pixels, channels, mixtures
        self.bits = int(bits)
        self.maps = mixture_parameters(channels, mixtures)

    def forward(self, z: torch.Tensor) -> dist.Distribution:
        """Return P(X|z) for latents ``z`` of shape ``[..., latent_dim]``."""
        params = self.decoder(z)
        params = params.reshape(*params.shape[:-1], self.maps, self.pixels)
        return DiscretizedLogisticMixture(
            params,
            channels=self.channels,
            mixtures=self.mixtures,
            bits=self.bits,
            min_log_scale=_MIN_LOG_SCALE,
            validate_args=False,
        )

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] (see :attr:`DiscretizedLogisticMixture.mean`)."""
        return self(z).mean

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> bool:
        """Start every component at the pixel means and spreads, equal weights, no coupling.

        The components start alike; the decoder's random weights tell them apart.
        """
        bias = output_bias(self.decoder)
        if bias is None:
            return False
        m, c = self.mixtures, self.channels
        loc, log_scale = _start_location_and_log_scale(x.to(bias.dtype), self.bits)
        start = torch.zeros(self.maps, self.pixels, dtype=bias.dtype, device=bias.device)
        start[m : m + m * c] = loc.reshape(c, self.pixels).repeat(m, 1)
        start[m + m * c : m + 2 * m * c] = log_scale.reshape(c, self.pixels).repeat(m, 1)
        bias.copy_(start.reshape(-1))
        return True


LIKELIHOODS: Registry[Callable[..., nn.Module]] = Registry(
    "likelihood", "--likelihood", defaults={"jit": False, "support": "real"}
)


@LIKELIHOODS.register(
    "bernoulli",
    "independent Bernoulli pixels, for binary(ized) images",
    jit=True,
    support=BernoulliLikelihood.support,
)
def bernoulli(*, latent_dim: int, data_dim: int, network: NetworkSpec) -> nn.Module:
    """The ``bernoulli`` likelihood on a ``network`` decoder.

    Example:
        >>> lik = bernoulli(latent_dim=2, data_dim=64, network=NetworkSpec("mlp", (8,)))
        >>> lik.mean(torch.zeros(3, 2)).shape
        torch.Size([3, 64])
    """
    return BernoulliLikelihood(network.decoder(latent_dim, data_dim))


@LIKELIHOODS.register(
    "gaussian",
    "N(f(z), sigma^2 I) with a fixed sigma (--sigma)",
    jit=True,
    support=GaussianLikelihood.support,
)
def gaussian(*, latent_dim: int, data_dim: int, network: NetworkSpec, sigma: float) -> nn.Module:
    """The ``gaussian`` likelihood: fixed ``sigma``, on a ``network`` decoder."""
    return GaussianLikelihood(network.decoder(latent_dim, data_dim), sigma)


def learned_gaussian(
    *, latent_dim: int, data_dim: int, network: NetworkSpec, sigma: float, per_pixel: bool = False
) -> nn.Module:
    """A Gaussian likelihood whose sigma is learned from ``sigma``: one, or one per pixel.

    Registered twice: ``gaussian-learned`` and ``gaussian-pixelwise`` (``per_pixel=True``).

    Example:
        >>> lik = LIKELIHOODS.build(
        ...     "gaussian-pixelwise", latent_dim=2, data_dim=5, network=NetworkSpec(), sigma=0.2
        ... )
        >>> lik.sigma().shape
        torch.Size([5])
    """
    decoder = network.decoder(latent_dim, data_dim)
    return LearnedGaussianLikelihood(decoder, data_dim, sigma, per_pixel=per_pixel)


LIKELIHOODS.register(
    "gaussian-learned",
    "N(f(z), sigma^2 I), one learned sigma (starts at --sigma)",
    jit=True,
    support=LearnedGaussianLikelihood.support,
)(learned_gaussian)
LIKELIHOODS.register(
    "gaussian-pixelwise",
    "N(f(z), diag(sigma^2)), a learned sigma per pixel",
    jit=True,
    support=LearnedGaussianLikelihood.support,
)(functools.partial(learned_gaussian, per_pixel=True))


@LIKELIHOODS.register(
    "continuous-bernoulli",
    "continuous Bernoulli for [0, 1] grey levels, Loaiza-Ganem 2019",
    jit=True,
    support=ContinuousBernoulliLikelihood.support,
)
def continuous_bernoulli(*, latent_dim: int, data_dim: int, network: NetworkSpec) -> nn.Module:
    """The ``continuous-bernoulli`` likelihood on a ``network`` decoder."""
    return ContinuousBernoulliLikelihood(network.decoder(latent_dim, data_dim))


@LIKELIHOODS.register(
    "discretized-logistic",
    "a discretized logistic per value, for 8-bit (--data-bits) images: a probability of the "
    "data, in bits per dimension",
    jit=True,
    support=DiscretizedLogisticLikelihood.support,
)
def discretized_logistic(
    *, latent_dim: int, data_dim: int, network: NetworkSpec, data_bits: int = 8
) -> nn.Module:
    """The ``discretized-logistic`` likelihood on a ``network`` decoder of two maps.

    Example:
        >>> lik = discretized_logistic(latent_dim=2, data_dim=16, network=NetworkSpec())
        >>> lik.mean(torch.zeros(3, 2)).shape
        torch.Size([3, 16])
    """
    decoder = network.decoder(latent_dim, data_dim, maps=2)
    return DiscretizedLogisticLikelihood(decoder, data_dim, bits=data_bits)


@LIKELIHOODS.register(
    "dmol",
    "a mixture of discretized logistics per pixel (PixelCNN++; --mixtures), for 8-bit images",
    jit=True,
    support=DiscretizedMixtureLikelihood.support,
)
def dmol(
    *,
    latent_dim: int,
    data_dim: int,
    network: NetworkSpec,
    mixtures: int = 10,
    data_bits: int = 8,
    channels: int = 1,
) -> nn.Module:
    """The ``dmol`` likelihood: ``mixtures`` components per pixel of ``channels`` values.

    Example:
        >>> lik = dmol(latent_dim=2, data_dim=16, network=NetworkSpec(), mixtures=3)
        >>> lik(torch.zeros(5, 2)).batch_shape
        torch.Size([5])
    """
    if data_dim % channels:
        raise ValueError(f"{data_dim} values do not make pixels of {channels} channels")
    pixels = data_dim // channels
    maps = mixture_parameters(channels, mixtures)
    # K maps over the pixels (not over the values): a body drawing one-channel maps
    decoder = dataclasses.replace(network, channels=1).decoder(latent_dim, pixels, maps=maps)
    return DiscretizedMixtureLikelihood(
        decoder, pixels, channels=channels, mixtures=mixtures, bits=data_bits
    )


def likelihood_support(name: str) -> Support:
    """The values data must take for the likelihood ``name``: binary, real or unit ([0, 1]).

    Example:
        >>> likelihood_support("continuous-bernoulli")
        'unit'
    """
    return LIKELIHOODS.trait(name, "support")
