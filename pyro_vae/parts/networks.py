"""Network bodies: the encoder and decoder networks that guides and likelihoods are built on.

A network never samples and never computes a loss: it maps inputs of shape ``[..., in_features]``
to ``[..., out_features]``, keeping any leading batch dimensions (the estimators put a particle
dimension in front). Each entry of :data:`NETWORKS` is a :class:`NetworkFamily`: one factory for
the encoder (data -> features) and one for the decoder (latent -> data), so a convolutional
family can read images on one side and draw them on the other.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from pyro_vae.errors import InputError, setting
from pyro_vae.registry import Registry

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "NETWORKS",
    "ConvDecoder",
    "ConvEncoder",
    "NetworkFamily",
    "NetworkSpec",
    "ResidualBlock",
    "build_decoder_network",
    "build_encoder_network",
    "mlp_decoder",
    "output_bias",
]

ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation", "--activation")
ACTIVATIONS.register("tanh", "hyperbolic tangent (Burda et al. 2015)")(nn.Tanh)
ACTIVATIONS.register("relu", "rectified linear unit")(nn.ReLU)
ACTIVATIONS.register("elu", "exponential linear unit")(nn.ELU)
ACTIVATIONS.register("softplus", "smooth rectifier")(nn.Softplus)
ACTIVATIONS.register("leaky-relu", "leaky rectified linear unit")(nn.LeakyReLU)


class MLP(nn.Sequential):
    """A multilayer perceptron: ``Linear -> activation`` per hidden width, then a final ``Linear``.

    Args:
        in_features: input width.
        hidden_dims: widths of the hidden layers (may be empty: one linear map).
        out_features: output width.
        activation: a name from :data:`ACTIVATIONS`.
        channels: colour channels of image data (the convolutional bodies read them; the
            MLP sees flat vectors).

    Example:
        >>> net = MLP(784, (200, 200), 100)
        >>> net(torch.zeros(7, 3, 784)).shape
        torch.Size([7, 3, 100])
    """

    def __init__(
        self,
        in_features: int,
        hidden_dims: Sequence[int],
        out_features: int,
        *,
        activation: str = "tanh",
    ) -> None:
        make_activation = ACTIVATIONS.get(activation)
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), make_activation()]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = out_features


_CHANNELS = (32, 64)


def _image_side(data_dim: int, channels: int = 1) -> int:
    """The side of a square image of ``channels`` with ``data_dim`` values, a multiple of 4."""
    side = math.isqrt(data_dim // channels)
    if side * side * channels != data_dim or side % 4 or side < 8:
        what = f"{channels}-channel " if channels > 1 else ""
        raise InputError(
            f"{setting('network', 'conv')} needs square {what}images whose side is a multiple "
            f"of 4 (8x8, 28x28, 32x32, 64x64, ...), but a datapoint has {data_dim} values: use "
            f"{setting('network', 'mlp')}"
        )
    return side


class ResidualBlock(nn.Module):
    """``x + conv(act(conv(act(x))))``: two 3x3 convolutions that keep the map's shape.

    The convolutional networks put one after each of their stride-2 layers with
    ``residual=True`` (the ``resconv`` family): more depth at each resolution, while the skip
    keeps the path from input to output as short as without it.

    Example:
        >>> ResidualBlock(8, nn.ReLU)(torch.zeros(2, 8, 4, 4)).shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, channels: int, activation: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.body = nn.Sequential(
            activation(),
            nn.Conv2d(channels, channels, 3, padding=1),
            activation(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the body's output to its input."""
        return x + self.body(x)


def _residual(channels: int, act: Callable[[], nn.Module], on: bool) -> list[nn.Module]:
    return [ResidualBlock(channels, act)] if on else []


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions (32 and 64 channels), then an MLP head.

    Reads flat square images ``[..., channels * side * side]``, channel first (28x28 MNIST,
    8x8 digits, 32x32 and 64x64 colour). With ``residual``, a :class:`ResidualBlock` follows
    each convolution.

    Example:
        >>> enc = ConvEncoder(784, (200,), 100)
        >>> enc(torch.zeros(5, 3, 784)).shape
        torch.Size([5, 3, 100])
    """

    def __init__(
        self,
        data_dim: int,
        hidden_dims: Sequence[int],
        out_features: int,
        *,
        activation: str = "relu",
        channels: int = 1,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.side, self.channels = _image_side(data_dim, channels), channels
        act = ACTIVATIONS.get(activation)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, _CHANNELS[0], 4, stride=2, padding=1),
            *_residual(_CHANNELS[0], act, residual),
            act(),
            nn.Conv2d(_CHANNELS[0], _CHANNELS[1], 4, stride=2, padding=1),
            *_residual(_CHANNELS[1], act, residual),
            act(),
            nn.Flatten(),
        )
        features = _CHANNELS[1] * (self.side // 4) ** 2
        self.head = MLP(features, hidden_dims, out_features, activation=activation)
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[..., channels * side * side]`` images to ``[..., out_features]``."""
        lead = x.shape[:-1]
        h = self.conv(x.reshape(-1, self.channels, self.side, self.side))
        return self.head(h).reshape(*lead, self.out_features)


class ConvDecoder(nn.Module):
    """An MLP to a 64-channel quarter-size map, then two stride-2 transposed convolutions.

    Draws flat square images ``[..., channels * side * side]`` (channel first) from latents
    ``[..., in_features]``; with ``maps`` > 1, that many of them, flat and map first
    (``[..., maps * channels * side * side]``): the parameters of a likelihood with several per
    value. With ``residual``, a :class:`ResidualBlock` comes before each transposed convolution.

    Example:
        >>> dec = ConvDecoder(10, (200,), 64)
        >>> dec(torch.zeros(5, 3, 10)).shape
        torch.Size([5, 3, 64])
    """

    def __init__(
        self,
        in_features: int,
        hidden_dims: Sequence[int],
        data_dim: int,
        *,
        activation: str = "relu",
        maps: int = 1,
        channels: int = 1,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.side = _image_side(data_dim, channels)
        act = ACTIVATIONS.get(activation)
        self.quarter = self.side // 4
        self.head = nn.Sequential(
            MLP(in_features, hidden_dims, _CHANNELS[1] * self.quarter**2, activation=activation),
            act(),
        )
        self.deconv = nn.Sequential(
            *_residual(_CHANNELS[1], act, residual),
            nn.ConvTranspose2d(_CHANNELS[1], _CHANNELS[0], 4, stride=2, padding=1),
            *_residual(_CHANNELS[0], act, residual),
            act(),
            nn.ConvTranspose2d(_CHANNELS[0], maps * channels, 4, stride=2, padding=1, bias=False),
        )
        # One bias per output (a transposed convolution has one per channel): see output_bias.
        self.output_bias = nn.Parameter(torch.zeros(maps * data_dim))
        self.data_dim = maps * data_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map ``[..., in_features]`` latents to ``[..., side * side]`` flat images."""
        lead = z.shape[:-1]
        h = self.head(z.reshape(-1, z.shape[-1]))
        h = h.reshape(-1, _CHANNELS[1], self.quarter, self.quarter)
        return self.deconv(h).reshape(*lead, self.data_dim) + self.output_bias


NetworkFactory = Callable[..., nn.Module]


def mlp_decoder(
    in_features: int,
    hidden_dims: Sequence[int],
    data_dim: int,
    *,
    activation: str = "tanh",
    maps: int = 1,
) -> MLP:
    """The MLP as a decoder: ``maps`` outputs per data value, map first.

    Example:
        >>> mlp_decoder(2, (8,), 5, maps=3)(torch.zeros(4, 2)).shape
        torch.Size([4, 15])
    """
    return MLP(in_features, hidden_dims, maps * data_dim, activation=activation)


@dataclass(frozen=True)
class NetworkFamily:
    """The encoder and decoder factories of one kind of network.

    Both take ``(in_features, hidden_dims, out_features, *, activation)``, and ``channels``
    (the colour channels of image data) where it is not 1; the decoder also ``maps``, the
    number of outputs per data value, where it is not 1.
    """

    encoder: NetworkFactory
    decoder: NetworkFactory


NETWORKS: Registry[NetworkFamily] = Registry("network", "--network", defaults={"jit": False})
NETWORKS.register("mlp", "fully connected layers with a chosen activation", jit=True)(
    NetworkFamily(encoder=MLP, decoder=mlp_decoder)
)
NETWORKS.register(
    "conv", "convolutional encoder and decoder for square images (28x28, 8x8)", jit=True
)(NetworkFamily(encoder=ConvEncoder, decoder=ConvDecoder))
NETWORKS.register(
    "resconv", "the convolutional networks with a residual block at each resolution", jit=True
)(
    NetworkFamily(
        encoder=functools.partial(ConvEncoder, residual=True),
        decoder=functools.partial(ConvDecoder, residual=True),
    )
)


@dataclass(frozen=True)
class NetworkSpec:
    """Which network bodies a guide and a likelihood are built on: family, widths, activation.

    Guide and likelihood factories take one (argument ``network``) and ask it for their body,
    so they need not know which family it is.

    Args:
        name: a family of :data:`NETWORKS` (``"mlp"``, ``"conv"``).
        hidden_dims: the encoder's hidden widths; the decoder uses them reversed.
        activation: a name from :data:`ACTIVATIONS`.
        channels: colour channels of image data (the convolutional bodies read them; the
            MLP sees flat vectors).

    Example:
        >>> spec = NetworkSpec("mlp", (32, 16), "tanh")
        >>> spec.encoder(64, 4)(torch.zeros(2, 64)).shape
        torch.Size([2, 4])
        >>> [m.out_features for m in spec.decoder(4, 64) if isinstance(m, nn.Linear)]
        [16, 32, 64]
    """

    name: str = "mlp"
    hidden_dims: tuple[int, ...] = (200, 200)
    activation: str = "tanh"
    channels: int = 1

    def encoder(self, data_dim: int, out_features: int) -> nn.Module:
        """The encoder body: data ``[..., data_dim]`` -> ``[..., out_features]``."""
        return build_encoder_network(
            self.name,
            data_dim,
            self.hidden_dims,
            out_features,
            self.activation,
            channels=self.channels,
        )

    def decoder(self, latent_dim: int, data_dim: int, maps: int = 1) -> nn.Module:
        """The decoder body: latents ``[..., latent_dim]`` -> ``[..., maps * data_dim]``."""
        hidden = tuple(reversed(self.hidden_dims))
        return build_decoder_network(
            self.name,
            latent_dim,
            hidden,
            data_dim,
            self.activation,
            maps=maps,
            channels=self.channels,
        )


def output_bias(net: nn.Module) -> torch.Tensor | None:
    """The per-output bias of a decoder network (what its output is for a zero last layer).

    The likelihoods start this bias at the data's pixel marginals (see
    :meth:`pyro_vae.parts.likelihoods.DecoderLikelihood.init_from_data`). It is the last
    ``Linear``'s bias for an MLP or a linear map, the ``output_bias`` attribute for other networks
    (the convolutional decoder has one per pixel), and ``None`` for a network with neither.

    Example:
        >>> output_bias(MLP(2, (8,), 64)).shape
        torch.Size([64])
    """
    if isinstance(net, nn.Sequential) and len(net) > 0:
        net = net[-1]
    if isinstance(net, nn.Linear):
        return net.bias
    bias = getattr(net, "output_bias", None)
    return bias if isinstance(bias, torch.Tensor) else None


def build_encoder_network(
    name: str,
    data_dim: int,
    hidden_dims: Sequence[int],
    out_features: int,
    activation: str,
    *,
    channels: int = 1,
) -> nn.Module:
    """The encoder network of family ``name``: data ``[..., data_dim]`` -> ``[..., out]``.

    Example:
        >>> build_encoder_network("conv", 64, (32,), 4, "relu")(torch.zeros(2, 64)).shape
        torch.Size([2, 4])
        >>> build_encoder_network("conv", 192, (32,), 4, "relu", channels=3)(
        ...     torch.zeros(2, 192)).shape
        torch.Size([2, 4])
    """
    extra = {"channels": channels} if channels != 1 and name != "mlp" else {}
    family = NETWORKS.get(name)
    return family.encoder(data_dim, hidden_dims, out_features, activation=activation, **extra)


def build_decoder_network(
    name: str,
    latent_dim: int,
    hidden_dims: Sequence[int],
    data_dim: int,
    activation: str,
    *,
    maps: int = 1,
    channels: int = 1,
) -> nn.Module:
    """The decoder network of family ``name``: latents ``[..., latent_dim]`` -> data.

    ``maps`` > 1 asks for that many outputs per data value (a likelihood's parameters), flat
    and map first.

    Example:
        >>> build_decoder_network("mlp", 2, (32,), 64, "tanh")(torch.zeros(2, 2)).shape
        torch.Size([2, 64])
        >>> build_decoder_network("conv", 2, (32,), 64, "relu", maps=3)(torch.zeros(2, 2)).shape
        torch.Size([2, 192])
    """
    family = NETWORKS.get(name)
    extra: dict[str, int] = {"maps": maps} if maps != 1 else {}
    if channels != 1 and name != "mlp":
        extra["channels"] = channels
    return family.decoder(latent_dim, hidden_dims, data_dim, activation=activation, **extra)
