import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

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
