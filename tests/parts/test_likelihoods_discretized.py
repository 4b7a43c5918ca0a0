"""The likelihoods for 8-bit images: built by name, started at the data, on MLP and conv bodies."""

import pytest
import torch

from pyro_vae.parts.discretized import log_bin_mass
from pyro_vae.parts.likelihoods import LIKELIHOODS, likelihood_support
from pyro_vae.parts.networks import NetworkSpec


def _eight_bit(n: int, d: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, d)).float() / 255


@pytest.mark.parametrize("name", ["discretized-logistic", "dmol"])
@pytest.mark.parametrize("network", ["mlp", "conv"])
def test_each_gives_a_probability_of_the_image_on_either_body(name, network):
    torch.manual_seed(0)
    spec = NetworkSpec(network, (32,), "relu")
    lik = LIKELIHOODS.build(name, latent_dim=3, data_dim=64, network=spec, mixtures=2, sigma=0.1)
    assert likelihood_support(name) == "discrete" and lik.support == "discrete"
    x = _eight_bit(5, 64)
    log_p = lik(torch.randn(4, 5, 3)).log_prob(x)
    assert log_p.shape == (4, 5) and torch.all(log_p < 0)
    assert lik.mean(torch.zeros(2, 3)).shape == (2, 64)


@pytest.mark.parametrize("name", ["discretized-logistic", "dmol"])
def test_starting_at_the_data_beats_a_cold_start(name):
    torch.manual_seed(0)
    x = (torch.rand(200, 16) * 0.3 + torch.linspace(0, 0.7, 16)).mul(255).round() / 255
    spec = NetworkSpec("mlp", (8,), "relu")
    built = [LIKELIHOODS.build(name, latent_dim=2, data_dim=16, network=spec) for _ in range(2)]
    for lik in built:  # what the output bias alone says
        lik.decoder[-1].weight.data.zero_()
    warm, cold = built
    assert warm.init_from_data(x)
    z = torch.zeros(200, 2)
    with torch.no_grad():
        assert float(warm(z).log_prob(x).mean()) > float(cold(z).log_prob(x).mean()) + 30


def test_grey_dmol_is_the_mixture_of_discretized_logistics_per_pixel():
    torch.manual_seed(0)
    spec = NetworkSpec("mlp", (8,), "relu")
    lik = LIKELIHOODS.build("dmol", latent_dim=2, data_dim=4, network=spec, mixtures=3)
    z, x = torch.randn(2), _eight_bit(1, 4)[0]
    with torch.no_grad():
        d = lik(z)
    by_hand = 0.0
    for pixel in range(4):
        weights = torch.log_softmax(d.logits[pixel], -1)
        masses = log_bin_mass(x[pixel], d.loc[pixel, :, 0], d.log_scale[pixel, :, 0], 8)
        by_hand += float(torch.logsumexp(weights + masses, -1))
    assert float(d.log_prob(x)) == pytest.approx(by_hand, abs=1e-4)


@pytest.mark.parametrize("name", ["discretized-logistic", "dmol"])
@pytest.mark.parametrize("network", ["mlp", "conv"])
def test_init_from_data_starts_the_mean_image_near_the_pixel_means(name, network):
    torch.manual_seed(0)
    x = _eight_bit(300, 64) * 0.5 + 0.25
    x = (x * 255).round() / 255
    spec = NetworkSpec(network, (16,), "relu")
    lik = LIKELIHOODS.build(name, latent_dim=2, data_dim=64, network=spec, mixtures=2)
    assert lik.init_from_data(x)
    if network == "mlp":  # with the last layer's weights at zero, the bias alone speaks
        with torch.no_grad():
            lik.decoder[-1].weight.zero_()
            mean = lik.mean(torch.randn(3, 2))
        torch.testing.assert_close(mean, x.mean(0).expand(3, 64), atol=0.02, rtol=0)
