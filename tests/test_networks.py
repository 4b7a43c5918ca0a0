import pytest
import torch

from pyro_vae import InputError
from pyro_vae.networks import ACTIVATIONS, build_network


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_mlp_keeps_leading_dimensions(activation):
    net = build_network("mlp", 10, (7, 5), 3, activation)
    assert net(torch.zeros(4, 2, 10)).shape == (4, 2, 3)


def test_unknown_activation():
    with pytest.raises(InputError, match="--activation"):
        build_network("mlp", 2, (2,), 2, "swish9")
