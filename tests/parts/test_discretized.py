"""The discretized logistic and its mixture: masses that sum to 1, draws that follow them."""

import itertools

import pytest
import torch

from pyro_vae.parts.discretized import (
    DiscretizedLogistic,
    DiscretizedLogisticMixture,
    grid,
    log_bin_mass,
    mixture_parameters,
)


@pytest.mark.parametrize("bits", [1, 3, 8])
@pytest.mark.parametrize(
    ("loc", "log_scale"), [(0.5, -3.0), (-2.0, 0.0), (3.0, -6.0), (0.2, -9.0), (0.5, 4.0)]
)
def test_the_masses_of_all_levels_sum_to_one(bits, loc, log_scale):
    mass = log_bin_mass(grid(bits), torch.tensor(loc), torch.tensor(log_scale), bits).exp()
    assert torch.all(mass >= 0) and float(mass.sum()) == pytest.approx(1.0, abs=1e-5)


def test_a_narrow_logistic_puts_its_mass_on_the_nearest_level():
    mass = log_bin_mass(grid(8), torch.tensor(100 / 255), torch.tensor(-9.0), 8).exp()
    assert int(mass.argmax()) == 100 and float(mass[100]) > 0.99


def test_the_log_mass_is_finite_far_in_the_tails():
    x = torch.tensor([0.0, 0.5, 1.0])
    far = log_bin_mass(x, torch.tensor(40.0), torch.tensor(-7.0), 8)
    assert torch.isfinite(far).all()


@pytest.mark.parametrize("channels", [1, 3])
def test_a_pixels_mixture_masses_sum_to_one_over_every_colour(channels):
    torch.manual_seed(0)
    bits, mixtures = 3, 4
    params = torch.randn(mixture_parameters(channels, mixtures), 1)
    d = DiscretizedLogisticMixture(params, channels=channels, mixtures=mixtures, bits=bits)
    colours = torch.tensor(list(itertools.product(grid(bits).tolist(), repeat=channels)))
    assert float(d.log_prob(colours).exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_draws_follow_the_masses_and_the_mean():
    torch.manual_seed(1)
    params = torch.randn(mixture_parameters(3, 2), 1)
    d = DiscretizedLogisticMixture(params, channels=3, mixtures=2, bits=2)
    n = 100_000
    draws = d.sample((n,))
    code = (draws * 3).round().long() @ torch.tensor([16, 4, 1])
    freq = torch.bincount(code, minlength=64).double() / n
    colours = torch.tensor(list(itertools.product(grid(2).tolist(), repeat=3)))
    p = d.log_prob(colours).exp().double()
    se = (p * (1 - p) / n).sqrt()
    assert torch.all((freq - p).abs() <= 5 * se + 1e-9)  # every colour within 5 standard errors
    grey = DiscretizedLogistic(torch.tensor([0.3, 1.2]), torch.tensor([-2.0, -1.0]), bits=8)
    sample_mean = grey.sample((n,)).mean(0)
    assert torch.allclose(sample_mean, grey.mean, atol=5 * 0.3 / n**0.5)


def test_the_mixture_has_one_event_dimension_over_the_flat_image():
    params = torch.zeros(5, 2, mixture_parameters(1, 3), 16)
    d = DiscretizedLogisticMixture(params, channels=1, mixtures=3)
    assert d.batch_shape == (5, 2) and d.event_shape == (16,)
    assert d.expand(torch.Size([4, 5, 2])).log_prob(torch.zeros(16)).shape == (4, 5, 2)
