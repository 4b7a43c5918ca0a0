import pytest
import torch

from pyro_vae import InputError
from pyro_vae.parts.networks import (
    ACTIVATIONS,
    NETWORKS,
    build_decoder_network,
    build_encoder_network,
)


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_mlp_keeps_leading_dimensions(activation):
    net = build_encoder_network("mlp", 10, (7, 5), 3, activation)
    assert net(torch.zeros(4, 2, 10)).shape == (4, 2, 3)


@pytest.mark.parametrize("name", NETWORKS.names())
@pytest.mark.parametrize("data_dim", [64, 784], ids=["8x8", "28x28"])
def test_every_network_reads_and_draws_images_with_leading_dimensions(name, data_dim):
    encoder = build_encoder_network(name, data_dim, (32,), 6, "relu")
    decoder = build_decoder_network(name, 3, (32,), data_dim, "relu")
    assert encoder(torch.zeros(4, 2, data_dim)).shape == (4, 2, 6)
    assert decoder(torch.zeros(4, 2, 3)).shape == (4, 2, data_dim)


def test_conv_refuses_data_that_are_not_square_images():
    with pytest.raises(InputError, match="network='mlp'"):
        build_encoder_network("conv", 50, (8,), 4, "relu")


def test_unknown_activation():
    with pytest.raises(InputError, match="setting activation"):
        build_encoder_network("mlp", 2, (2,), 2, "swish9")
