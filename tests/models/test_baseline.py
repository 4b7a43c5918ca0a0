"""The CVAE's deterministic baseline: an exact P(Y|X), a Pyro program, the prior net's input."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO

from pyro_vae.errors import InputError
from pyro_vae.models.baseline import build_baseline
from pyro_vae.models.cvae import build_cvae


def test_its_log_likelihood_is_the_likelihoods_and_the_elbo_with_no_latent_equals_it():
    torch.manual_seed(0)
    baseline = build_baseline(target_dim=6, condition_dim=3, hidden_dims=(8,))
    y, x = torch.bernoulli(torch.full((5, 6), 0.4)), torch.randn(5, 3)
    probs = baseline.predict(x)
    by_hand = dist.Bernoulli(probs=probs).log_prob(y).sum(-1)
    assert torch.allclose(baseline.log_likelihood(y, x), by_hand, atol=1e-5)
    pyro.clear_param_store()
    loss = Trace_ELBO().loss(baseline.model, baseline.guide, y, x)
    assert loss == pytest.approx(-float(by_hand.sum()), abs=1e-3)


def test_any_registered_likelihood_serves():
    baseline = build_baseline(
        target_dim=4, condition_dim=2, likelihood="gaussian", hidden_dims=(8,), sigma=0.3
    )
    y, x = torch.randn(3, 4), torch.randn(3, 2)
    assert torch.isfinite(baseline.log_likelihood(y, x)).all()


def test_the_prior_network_reads_the_prediction_and_no_gradient_reaches_the_baseline():
    torch.manual_seed(0)
    cvae = build_cvae(target_dim=6, condition_dim=3, latent_dim=2, hidden_dims=(8,), baseline=True)
    assert cvae.baseline is not None
    y, x = torch.bernoulli(torch.full((4, 6), 0.5)), torch.randn(4, 3)
    pyro.clear_param_store()
    Trace_ELBO().loss_and_grads(cvae.model, cvae.guide, y, x)
    assert all(p.grad is None for p in cvae.baseline.parameters())
    assert any(p.grad is not None for p in cvae.prior.network.parameters())
    # a different prediction moves P(z|X): the network does read it
    before = cvae.prior(x).mean
    with torch.no_grad():
        for p in cvae.baseline.parameters():
            p.add_(1.0)
    assert not torch.allclose(cvae.prior(x).mean, before)


def test_a_baseline_needs_a_prior_network():
    with pytest.raises(InputError, match="feeds the prior network"):
        build_cvae(target_dim=4, condition_dim=2, latent_dim=2, prior_network="none", baseline=True)
