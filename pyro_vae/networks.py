"""Network bodies that map one flat vector to another (encoders and decoders are built from them).

A network never samples and never computes a loss: it maps inputs of shape ``[..., in_features]``
to ``[..., out_features]``, keeping any leading batch dimensions (the estimators put a particle
dimension in front). Guides and likelihoods turn those outputs into distributions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from pyro_vae.registry import Registry

__all__ = ["ACTIVATIONS", "MLP", "NETWORKS", "build_network"]

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

    Example:
        >>> import torch
        >>> net = MLP(784, (200, 200), 100)
        >>> net(torch.zeros(7, 3, 784)).shape
        torch.Size([7, 3, 100])
    """

    def __init__(
        self,
        in_features: int,
        hidden_dims: Sequence[int],
        out_features: int,
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


NetworkFactory = Callable[[int, Sequence[int], int, str], nn.Module]
NETWORKS: Registry[NetworkFactory] = Registry("network", "--network")
NETWORKS.register("mlp", "fully connected layers with a chosen activation")(MLP)


def build_network(
    name: str,
    in_features: int,
    hidden_dims: Sequence[int],
    out_features: int,
    activation: str = "tanh",
) -> nn.Module:
    """Build the network registered as ``name``.

    Example:
        >>> build_network("mlp", 64, (32,), 4)[0]
        Linear(in_features=64, out_features=32, bias=True)
    """
    return NETWORKS.get(name)(in_features, hidden_dims, out_features, activation)
