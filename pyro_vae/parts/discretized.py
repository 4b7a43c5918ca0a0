"""Distributions over 8-bit (and other depth) pixels: the discretized logistic and its mixture.

Pixels with ``bits`` of depth take the L = 2**bits values k / (L - 1), k = 0, ..., L - 1, in
[0, 1]. A discretized logistic gives value k the mass that a logistic(mu, s) puts on the bin
[x - h, x + h] with h = 1 / (2 (L - 1)), the two end bins stretched to -inf and +inf
(Salimans et al. 2017, PixelCNN++), so the L masses sum to 1: a probability of the data, which
a density on grey levels is not. The mixture adds, per pixel, M components with weights and,
for colour pixels, the PixelCNN++ dependence of a channel's location on the channels before it.

torch and Pyro have no discretized logistic (Pyro's ``DiscretizedLogistic``-like pieces are
absent; ``torch.distributions`` has none), so the log-mass is written here, in the stable form
log(sigmoid(a) - sigmoid(b)) = log sigmoid(a) + log sigmoid(-b) + log(1 - exp(b - a)) for
a = (x + h - mu) / s > b = (x - h - mu) / s: no difference of two probabilities near 1 is taken.

Example:
    >>> import torch
    >>> d = DiscretizedLogistic(torch.zeros(3), torch.zeros(3), bits=2)
    >>> values = torch.tensor([0.0, 1 / 3, 2 / 3, 1.0])
    >>> total = d.log_prob(values[:, None].expand(4, 3)).exp().sum(0)
    >>> torch.allclose(total, torch.ones(3))
    True
"""

from __future__ import annotations

from typing import ClassVar

import pyro.distributions as dist
import torch
from torch.distributions import constraints
from torch.nn import functional as F

__all__ = [
    "DiscretizedLogistic",
    "DiscretizedLogisticMixture",
    "grid",
    "log_bin_mass",
    "mixture_parameters",
]


_SCALAR = torch.Size()


def grid(bits: int) -> torch.Tensor:
    """The values a pixel of ``bits`` depth takes: k / (2**bits - 1), k = 0, ..., 2**bits - 1.

    Example:
        >>> grid(2)
        tensor([0.0000, 0.3333, 0.6667, 1.0000])
    """
    levels = 2**bits
    return torch.arange(levels, dtype=torch.float32) / (levels - 1)


def log_bin_mass(
    x: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor, bits: int
) -> torch.Tensor:
    """The log-mass P(X = x), X a logistic(loc, exp(log_scale)) rounded to the ``bits`` grid.

    ``x`` lies on the grid; the end values take the tails (all mass below, all mass above).

    Example:
        >>> x = grid(3)
        >>> round(float(log_bin_mass(x, torch.tensor(0.4), torch.tensor(-2.0), 3).exp().sum()), 5)
        1.0
    """
    half = 0.5 / (2**bits - 1)
    inv_scale = torch.exp(-log_scale)
    upper = (x + half - loc) * inv_scale
    lower = (x - half - loc) * inv_scale
    # log(1 - exp(-2 h / s)): the width of a bin in units of the scale, never 0 or 1 exactly
    width = torch.log(-torch.expm1(-2 * half * inv_scale).clamp(max=-1e-12))
    interior = -F.softplus(-upper) - F.softplus(lower) + width
    below = -F.softplus(-upper)  # x = 0: P(logistic < h)
    above = -F.softplus(lower)  # x = 1: P(logistic > 1 - h)
    return torch.where(x < half, below, torch.where(x > 1 - half, above, interior))


def _logistic_mean(loc: torch.Tensor, log_scale: torch.Tensor, bits: int) -> torch.Tensor:
    """E[X] of the discretized logistic: the sum over thresholds of P(X >= k) / (L - 1)."""
    levels = 2**bits
    thresholds = (torch.arange(1, levels, dtype=loc.dtype, device=loc.device) - 0.5) / (levels - 1)
    above = torch.sigmoid((loc[..., None] - thresholds) * torch.exp(-log_scale)[..., None])
    return above.sum(-1) / (levels - 1)


def _sample_logistic(loc: torch.Tensor, log_scale: torch.Tensor, bits: int) -> torch.Tensor:
    """A draw of the discretized logistic: a logistic draw rounded to the grid and clamped."""
    u = torch.rand_like(loc).clamp(1e-6, 1 - 1e-6)
    draw = loc + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))
    levels = 2**bits - 1
    return torch.round(draw.clamp(0, 1) * levels) / levels


class DiscretizedLogistic(dist.TorchDistribution):
    """Independent discretized logistics, one per value: a scalar distribution per element.

    Use ``.to_event(1)`` for a flat image. Values lie on :func:`grid` of ``bits``.

    Args:
        loc: the logistic's location, in the pixel scale [0, 1] (it may lie outside).
        log_scale: the log of its scale.
        bits: the depth of the pixels (8 for 256 values).

    Example:
        >>> d = DiscretizedLogistic(torch.full((2,), 0.5), torch.full((2,), -3.0), bits=8)
        >>> d.sample().shape, d.mean.shape
        (torch.Size([2]), torch.Size([2]))
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "log_scale": constraints.real,
    }
    support = constraints.unit_interval
    has_rsample = False

    def __init__(
        self,
        loc: torch.Tensor,
        log_scale: torch.Tensor,
        *,
        bits: int = 8,
        validate_args: bool | None = None,
    ) -> None:
        self.loc, self.log_scale = torch.broadcast_tensors(loc, log_scale)
        self.bits = int(bits)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape: torch.Size, _instance: object = None) -> DiscretizedLogistic:
        """The same distribution with a larger batch shape."""
        shape = torch.Size(batch_shape)
        return DiscretizedLogistic(
            self.loc.expand(shape), self.log_scale.expand(shape), bits=self.bits
        )

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-mass of ``value``, per element."""
        return log_bin_mass(value, self.loc, self.log_scale, self.bits)

    def sample(self, sample_shape: torch.Size = _SCALAR) -> torch.Tensor:
        """Draws on the grid."""
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            loc, log_scale = self.loc.expand(shape), self.log_scale.expand(shape)
            return _sample_logistic(loc, log_scale, self.bits)

    @property
    def mean(self) -> torch.Tensor:
        """E[X], exact for the rounded variable (end bins included)."""
        return _logistic_mean(self.loc, self.log_scale, self.bits)


def mixture_parameters(channels: int, mixtures: int) -> int:
    """Numbers a decoder gives per pixel for a mixture of ``mixtures`` discretized logistics.

    Per component: a weight, a location and a log-scale per channel, and for colour the
    PixelCNN++ coefficients of each channel on the channels before it (3 for RGB).

    Example:
        >>> mixture_parameters(1, 5), mixture_parameters(3, 10)
        (15, 100)
    """
    coefficients = channels * (channels - 1) // 2
    return mixtures * (1 + 2 * channels + coefficients)


class DiscretizedLogisticMixture(dist.TorchDistribution):
    """A mixture of discretized logistics per pixel, over flat images of ``channels`` x ``pixels``.

    The value is a flat image ``[..., channels * pixels]``, channel first (C x H x W, flattened),
    and the distribution's event shape is that one dimension; the pixels are independent given
    the parameters, the channels of one pixel are not: for component m, the location of
    channel c is ``loc[m, c] + sum_{c' < c} coeff[m, (c, c')] * x[c']`` (tanh-bounded
    coefficients, PixelCNN++).

    Args:
        params: decoder output ``[..., K, pixels]`` with K = :func:`mixture_parameters`:
            ``mixtures`` weight logits, then ``mixtures * channels`` locations, as many
            log-scales, and the coefficients.
        channels: 1 (grey) or more (3 for RGB).
        mixtures: M.
        bits: the depth of the pixels.

    Example:
        >>> params = torch.zeros(2, mixture_parameters(3, 4), 16)
        >>> d = DiscretizedLogisticMixture(params, channels=3, mixtures=4)
        >>> d.batch_shape, d.event_shape, d.log_prob(d.sample()).shape
        (torch.Size([2]), torch.Size([48]), torch.Size([2]))
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    support = constraints.independent(constraints.unit_interval, 1)
    has_rsample = False

    def __init__(
        self,
        params: torch.Tensor,
        *,
        channels: int,
        mixtures: int,
        bits: int = 8,
        min_log_scale: float = -7.0,
        validate_args: bool | None = None,
    ) -> None:
        k = mixture_parameters(channels, mixtures)
        if params.shape[-2] != k:
            raise ValueError(f"expected {k} parameters per pixel, got {params.shape[-2]}")
        self.params, self.channels, self.mixtures = params, channels, mixtures
        self.bits, self.pixels = int(bits), int(params.shape[-1])
        m, c = mixtures, channels
        pixel_first = params.transpose(-1, -2)  # [..., P, K]
        lead = pixel_first.shape[:-1]
        self.logits = pixel_first[..., :m]
        self.loc = pixel_first[..., m : m + m * c].reshape(*lead, m, c)
        raw_scale = pixel_first[..., m + m * c : m + 2 * m * c].reshape(*lead, m, c)
        self.log_scale = raw_scale.clamp(min=min_log_scale)
        self.coeffs = torch.tanh(pixel_first[..., m + 2 * m * c :].reshape(*lead, m, -1))
        super().__init__(
            params.shape[:-2], torch.Size([channels * self.pixels]), validate_args=validate_args
        )

    def expand(
        self, batch_shape: torch.Size, _instance: object = None
    ) -> DiscretizedLogisticMixture:
        """The same distribution with a larger batch shape."""
        params = self.params.expand(*batch_shape, *self.params.shape[-2:])
        return DiscretizedLogisticMixture(
            params, channels=self.channels, mixtures=self.mixtures, bits=self.bits
        )

    def _locations(self, x: torch.Tensor) -> torch.Tensor:
        """Each component's channel locations given the earlier channels ``x`` ``[..., P, C]``."""
        if self.channels == 1:
            return self.loc
        shifted, index = [self.loc[..., 0]], 0
        for c in range(1, self.channels):
            shift = torch.zeros_like(self.loc[..., c])
            for before in range(c):
                shift = shift + self.coeffs[..., index] * x[..., None, before]
                index += 1
            shifted.append(self.loc[..., c] + shift)
        return torch.stack(torch.broadcast_tensors(*shifted), -1)

    def _pixels(self, value: torch.Tensor) -> torch.Tensor:
        """A flat C x P image as ``[..., P, C]``."""
        return value.reshape(*value.shape[:-1], self.channels, self.pixels).transpose(-1, -2)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-probability of an image: the sum over pixels of each one's log-mass."""
        x = self._pixels(value)  # [..., P, C]
        loc = self._locations(x)  # [..., P, M, C]
        per_channel = log_bin_mass(x[..., None, :], loc, self.log_scale, self.bits)
        weights = torch.log_softmax(self.logits, -1)
        return torch.logsumexp(weights + per_channel.sum(-1), -1).sum(-1)

    def sample(self, sample_shape: torch.Size = _SCALAR) -> torch.Tensor:
        """Draws on the grid: a component per pixel, then the channels in order."""
        with torch.no_grad():
            shape = self._extended_shape(sample_shape)[:-1]
            logits = self.logits.expand(*shape, self.pixels, self.mixtures)
            pick = dist.Categorical(logits=logits).sample()[..., None, None]
            size = (*shape, self.pixels, 1, self.channels)
            loc = self.loc.expand(*shape, *self.loc.shape[-3:]).gather(-2, pick.expand(size))
            scale = self.log_scale.expand(*shape, *self.log_scale.shape[-3:])
            log_scale = scale.gather(-2, pick.expand(size))
            coeffs = self.coeffs.expand(*shape, *self.coeffs.shape[-3:])
            if coeffs.shape[-1]:
                coeffs = coeffs.gather(-2, pick.expand(*size[:-1], coeffs.shape[-1]))
            x = torch.zeros(*shape, self.pixels, self.channels, dtype=self.params.dtype)
            index = 0
            for c in range(self.channels):
                mu = loc[..., 0, c]
                for before in range(c):
                    mu = mu + coeffs[..., 0, index] * x[..., before]
                    index += 1
                x[..., c] = _sample_logistic(mu, log_scale[..., 0, c], self.bits)
            return x.transpose(-1, -2).reshape(*shape, self.channels * self.pixels)

    @property
    def mean(self) -> torch.Tensor:
        """The mean image, mixed over the components by their weights.

        Per component the channels' means are taken in order, each earlier channel at its mean
        in the dependence: exact for grey, close for colour.
        """
        weights = torch.softmax(self.logits, -1)  # [..., P, M]
        means: list[torch.Tensor] = []
        index = 0
        for c in range(self.channels):
            mu = self.loc[..., c]
            for before in range(c):
                mu = mu + self.coeffs[..., index] * means[before]
                index += 1
            means.append(_logistic_mean(mu, self.log_scale[..., c], self.bits))
        per_component = torch.stack(means, -1)  # [..., P, M, C]
        image = (weights[..., None] * per_component).sum(-2)  # [..., P, C]
        return image.transpose(-1, -2).reshape(*image.shape[:-2], self.channels * self.pixels)
