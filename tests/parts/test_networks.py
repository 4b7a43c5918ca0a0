import pytest
import torch

from pyro_vae import InputError
from pyro_vae.parts.networks import (
    ACTIVATIONS,
    NETWORKS,
    ResidualBlock,
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


@pytest.mark.parametrize("side", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_convolutional_networks_take_28_32_and_64_pixel_images(side, channels):
    dims = channels * side * side
    for name in ("conv", "resconv"):
        encoder = build_encoder_network(name, dims, (16,), 4, "relu", channels=channels)
        decoder = build_decoder_network(name, 4, (16,), dims, "relu", maps=2, channels=channels)
        assert encoder(torch.rand(3, dims)).shape == (3, 4)
        assert decoder(torch.zeros(3, 4)).shape == (3, 2 * dims)


def test_resconv_adds_a_residual_block_at_each_resolution_of_the_conv_networks():
    plain = build_encoder_network("conv", 3 * 32 * 32, (16,), 4, "relu", channels=3)
    residual = build_encoder_network("resconv", 3 * 32 * 32, (16,), 4, "relu", channels=3)
    blocks = [m for m in residual.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 and not any(isinstance(m, ResidualBlock) for m in plain.modules())
    extra = sum(p.numel() for b in blocks for p in b.parameters())
    count = sum(p.numel() for p in residual.parameters()) - sum(
        p.numel() for p in plain.parameters()
    )
    assert count == extra
    decoder = build_decoder_network("resconv", 4, (16,), 64, "relu")
    assert sum(isinstance(m, ResidualBlock) for m in decoder.modules()) == 2


def test_a_residual_block_is_the_identity_when_its_last_convolution_is_zero():
    block = ResidualBlock(5, torch.nn.ReLU)
    torch.nn.init.zeros_(block.body[-1].weight)
    torch.nn.init.zeros_(block.body[-1].bias)
    x = torch.randn(2, 5, 4, 4)
    assert torch.equal(block(x), x)
    block.body[-1].bias.data.fill_(1.0)
    assert torch.allclose(block(x), x + 1)
