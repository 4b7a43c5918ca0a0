import copy
import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from conftest import make_linear_gaussian

from pyro_vae import Config, build_vae, elbo_terms, log_likelihood


@pytest.fixture
def vae():
    return build_vae(Config(latent_dim=2, hidden_dims=(16,)), data_dim=64)


@pytest.fixture
def x():
    return torch.bernoulli(torch.full((6, 64), 0.3))


@pytest.mark.parametrize("proposal", ["guide", "prior"])
def test_per_datapoint_shapes_and_bounds(vae, x, proposal):
    res = log_likelihood(vae.model, vae.guide, x, num_samples=300, proposal=proposal, chunk_size=70)
    for name in ("estimate", "standard_error", "ess", "khat", "mean_log_weight"):
        assert getattr(res, name).shape == (6,)
    assert (res.estimate >= res.mean_log_weight).all()  # Jensen
    assert ((res.ess >= 1 - 1e-9) & (res.ess <= 300 + 1e-6)).all()
    summary = res.summary()
    assert summary["nll"] == pytest.approx(-res.estimate.mean())


def test_chunking_does_not_change_the_answer(vae, x):
    torch.manual_seed(0)
    whole = log_likelihood(vae.model, vae.guide, x, 200, chunk_size=200)
    torch.manual_seed(0)
    parts = log_likelihood(vae.model, vae.guide, x, 200, chunk_size=200)
    np.testing.assert_allclose(whole.estimate, parts.estimate, rtol=1e-6)
    torch.manual_seed(0)
    chunked = log_likelihood(vae.model, vae.guide, x, 2000, chunk_size=64)
    # different random streams: agreement within the standard errors
    assert (
        np.abs(chunked.estimate - whole.estimate)
        < 5 * (whole.standard_error + chunked.standard_error) + 1e-3
    ).all()


def test_elbo_terms_match_the_log_weights(vae, x):
    terms = elbo_terms(vae.model, vae.guide, x, num_particles=5)
    assert torch.allclose(terms.elbo, terms.reconstruction - terms.kl)


def test_a_site_outside_the_data_plate_is_refused(x):
    def model(data):
        w = pyro.sample("w", dist.Normal(0.0, 1.0))
        with pyro.plate("data", data.shape[0]):
            logits = w.unsqueeze(-1) * torch.ones(data.shape[-1])
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(1), obs=data)

    def guide(data):
        pyro.sample("w", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match="outside pyro.plate"):
        log_likelihood(model, guide, x, 10)


def test_a_hand_written_pyro_model_is_estimated_against_its_closed_form():
    # z ~ N(0, I_2), x | z ~ N(z W, I_3): x ~ N(0, W^T W + I), nothing to do with our VAE class
    torch.manual_seed(3)
    w = torch.randn(2, 3, dtype=torch.float64)

    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(2, dtype=x.dtype), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ w, 1.0).to_event(1), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(x[:, :2] / 3, 0.8).to_event(1))

    x = torch.randn(40, 3, dtype=torch.float64)
    cov = w.T @ w + torch.eye(3, dtype=torch.float64)
    exact = dist.MultivariateNormal(torch.zeros(3, dtype=torch.float64), cov).log_prob(x).numpy()
    res = log_likelihood(model, guide, x, 4000, dtype=torch.float64)
    error = res.estimate - exact
    # per point within 5 of its own standard errors (a bias of O(1/K) is far below that) ...
    assert (np.abs(error) < 5 * res.standard_error + 1e-6).all()
    # ... and the mean within 4 standard errors of the mean
    assert abs(error.mean()) < 4 * np.sqrt((res.standard_error**2).sum()) / len(error)


# ---------------------------------------------------------------------------------------------
# extremes: huge K, log-weights near -1e4, all-zero and all-one images, batch 1, latent_dim 1.
# Each is checked against float64: exactly where the proposal is the exact posterior (every
# weight equals P(x)), else within 4 combined standard errors of two independent estimates.


def test_k_of_100000_in_chunks_is_exact_in_float32():
    vae64 = make_linear_gaussian(data_dim=6, latent_dim=1, sigma=0.5, seed=0)
    x = vae64.sample_data(3)
    exact = vae64.exact_log_likelihood(x).numpy()
    vae32 = copy.deepcopy(vae64).float()
    res = log_likelihood(vae32.model, vae32.exact_guide, x.float(), 100_000, chunk_size=8192)
    # float32 log-weights of magnitude ~10 carry rounding errors ~1e-6; the sums are float64
    np.testing.assert_allclose(res.estimate, exact, atol=1e-4)
    np.testing.assert_allclose(res.ess, 100_000, rtol=1e-3)
    assert np.all(res.standard_error < 1e-4) and np.all(res.khat < 0.5)


def test_log_weights_near_minus_ten_thousand_stay_exact_in_float32():
    vae64 = make_linear_gaussian(data_dim=50, latent_dim=2, sigma=0.1, seed=1)
    x = vae64.sample_data(4) + 2.0  # far out in the tails of P(X)
    exact = vae64.exact_log_likelihood(x).numpy()
    assert np.all(exact < -5_000)
    vae32 = copy.deepcopy(vae64).float()
    res = log_likelihood(vae32.model, vae32.exact_guide, x.float(), 5000)
    # float32 keeps ~7 significant digits: a relative error of 1e-5 is a few rounding steps
    np.testing.assert_allclose(res.estimate, exact, rtol=1e-5)
    assert np.all(np.isfinite(res.ess)) and np.all(res.ess > 4000)


def _quadrature_log_likelihood(vae, x: torch.Tensor) -> float:
    """log P(x) of a 1-D latent model by the trapezoid rule on a dense grid, in float64."""
    z = torch.linspace(-12.0, 12.0, 24_001, dtype=torch.float64).unsqueeze(-1)
    with torch.no_grad():
        log_joint = vae.likelihood(z).log_prob(x) + vae.prior().log_prob(z)
    step = float(z[1] - z[0])
    return float(torch.logsumexp(log_joint, 0) + math.log(step))


@pytest.mark.parametrize("image", ["zeros", "ones"])
def test_extreme_images_one_at_a_time_against_float64_quadrature(image):
    vae = build_vae(Config(latent_dim=1, hidden_dims=(32,)), data_dim=784)
    x = torch.full((1, 784), 0.0 if image == "zeros" else 1.0)
    exact = _quadrature_log_likelihood(copy.deepcopy(vae).double(), x.double())
    res = log_likelihood(vae.model, vae.guide, x, 20_000)
    assert res.estimate.shape == (1,) and res.khat[0] < 0.7  # the standard error is trustworthy
    assert abs(res.estimate[0] - exact) < 4 * res.standard_error[0] + 1e-5 * abs(exact)


def test_log_weights_near_minus_ten_thousand_of_an_all_one_image():
    from pyro_vae.parts.networks import output_bias

    vae = build_vae(Config(latent_dim=1, hidden_dims=(32,)), data_dim=784)
    with torch.no_grad():  # every pixel's probability sigmoid(-12.7), whatever z: P(X) is known
        vae.likelihood.decoder[-1].weight.zero_()
        output_bias(vae.likelihood.decoder).fill_(-12.7)
    x = torch.ones(1, 784)
    exact = 784 * float(torch.nn.functional.logsigmoid(torch.tensor(-12.7, dtype=torch.float64)))
    assert exact < -9_900
    res = log_likelihood(vae.model, vae.guide, x, 20_000)
    assert res.khat[0] < 0.7
    assert abs(res.estimate[0] - exact) < 4 * res.standard_error[0] + 1e-5 * abs(exact)
    naive = log_likelihood(vae.model, None, x, 20_000, proposal="prior")
    assert abs(naive.estimate[0] - exact) < 1e-5 * abs(exact)  # the prior is exact here


def test_one_image_without_its_batch_dimension_is_refused_not_read_as_many():
    from pyro_vae import Config, build_vae
    from pyro_vae.estimate.ais import annealed_importance_sampling

    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=5)
    image = torch.bernoulli(torch.full((5,), 0.5))
    with pytest.raises(ValueError, match=r"x has shape \(5,\), one datapoint without a batch"):
        log_likelihood(vae.model, vae.guide, image, num_samples=10)
    with pytest.raises(ValueError, match=r"pass x\[None\]"):
        annealed_importance_sampling(vae.model, vae.guide, image, num_steps=2)
    assert log_likelihood(vae.model, vae.guide, image[None], num_samples=10).estimate.shape == (1,)
