import pyro
import pyro.distributions as dist
import pytest
import torch

from pyro_vae import Config
from pyro_vae.likelihoods import LIKELIHOODS, bernoulli_pixels, build_likelihood


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4], ids=["moderate", "large", "extreme"])
def test_bernoulli_pixels_match_torch_bernoulli(scale):
    logits = (torch.randn(7, 3, 20, dtype=torch.float64) * scale).requires_grad_()
    x = torch.bernoulli(torch.full((3, 20), 0.4, dtype=torch.float64))  # broadcast over dim 0
    fast = bernoulli_pixels(logits).log_prob(x)
    slow = dist.Bernoulli(logits=logits).to_event(1).log_prob(x)
    assert fast.shape == (7, 3)
    torch.testing.assert_close(fast, slow)
    (grad_fast,) = torch.autograd.grad(fast.sum(), logits)
    (grad_slow,) = torch.autograd.grad(slow.sum(), logits)
    torch.testing.assert_close(grad_fast, grad_slow)


def test_bernoulli_pixels_behave_like_a_pyro_distribution():
    d = bernoulli_pixels(torch.zeros(4, 6))
    assert d.event_shape == (6,) and d.batch_shape == (4,)
    assert d.expand((2, 4)).batch_shape == (2, 4)
    assert type(d.expand((2, 4))) is type(d)
    x = d.sample()
    assert set(x.unique().tolist()) <= {0.0, 1.0}

    def model():
        with pyro.plate("data", 4):
            pyro.sample("x", bernoulli_pixels(torch.zeros(6)), obs=x)

    trace = pyro.poutine.trace(model).get_trace()
    trace.compute_log_prob()
    torch.testing.assert_close(trace.nodes["x"]["log_prob"], torch.full((4,), 6 * -0.6931472))


@pytest.mark.parametrize("name", LIKELIHOODS.names())
def test_every_likelihood_returns_a_distribution_over_flat_data(name):
    likelihood = build_likelihood(Config(likelihood=name, latent_dim=2, hidden_dims=(8,)), 12)
    p = likelihood(torch.zeros(5, 3, 2))
    assert p.batch_shape == (5, 3) and p.event_shape == (12,)
    assert likelihood.mean(torch.zeros(5, 2)).shape == (5, 12)
