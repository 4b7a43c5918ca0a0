"""The two-stochastic-layer VAE: its sites, its ELBO by hand, an exact log P(X), runs."""

import math

import numpy as np
import pyro
import pytest
import torch
from conftest import mean_and_se
from pyro import poutine
from pyro.infer import Trace_ELBO
from torch import nn

from pyro_vae import Config, HierarchicalVAE, InputError, build_vae, load_run, train
from pyro_vae.estimate.ais import annealed_importance_sampling
from pyro_vae.estimate.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.estimate.importance import log_likelihood
from pyro_vae.estimate.targets import Target, target_for
from pyro_vae.parts.guides import DiagonalGaussianEncoder
from pyro_vae.parts.likelihoods import GaussianLikelihood
from pyro_vae.parts.priors import StandardNormalPrior

SMALL = {
    "model": "hierarchical",
    "latent_dim": 2,
    "lower_latent_dim": 3,
    "hidden_dims": (16,),
    "upper_hidden_dims": (8,),
}


def test_sites_and_shapes_of_model_and_guide():
    vae = build_vae(Config(**SMALL), data_dim=64)
    assert isinstance(vae, HierarchicalVAE) and vae.latent_sites == ("z2", "z1")
    x = torch.bernoulli(torch.full((5, 64), 0.3))
    guide = poutine.trace(vae.guide).get_trace(x)
    model = poutine.trace(poutine.replay(vae.model, trace=guide)).get_trace(x)
    sites = {n: s for n, s in model.nodes.items() if s["type"] == "sample" and n != "data"}
    assert list(sites) == ["z2", "z1", "x"]
    assert sites["z2"]["value"].shape == (5, 2) and sites["z1"]["value"].shape == (5, 3)
    assert sites["x"]["is_observed"] and sites["x"]["value"].shape == (5, 64)
    for trace in (guide, model):
        for site in trace.nodes.values():
            if site["type"] == "sample" and site["name"] != "data":
                assert [f.name for f in site["cond_indep_stack"]] == ["data"]
    assert vae.model(None, batch_size=4).shape == (4, 64)
    assert vae.sample(6).shape == (6, 64) and vae.reconstruct(x).shape == (5, 64)
    assert vae.encode(x).shape == (5, 2) and vae.decode(vae.encode(x)).shape == (5, 64)


def _normal(value, loc, scale):
    """log N(value; loc, scale^2), summed over the last axis, written out."""
    return (
        -0.5 * ((value - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)
    ).sum(-1)


def _gaussian_of(net, z, d):
    """loc and scale of a DiagonalGaussianEncoder's network output, by its rule."""
    out = net(z)
    return out[..., :d], torch.nn.functional.softplus(out[..., d:]) + 1e-5


def test_the_elbo_is_the_sum_of_its_five_log_densities_written_by_hand():
    torch.manual_seed(0)
    vae = build_vae(Config(**SMALL, likelihood="bernoulli"), data_dim=6)
    x = torch.bernoulli(torch.full((4, 6), 0.5))
    pyro.set_rng_seed(1)
    loss = Trace_ELBO().loss(vae.model, vae.guide, x)
    pyro.set_rng_seed(1)
    trace = poutine.trace(vae.guide).get_trace(x)  # the same draws as the loss's
    z1, z2 = trace.nodes["z1"]["value"], trace.nodes["z2"]["value"]
    with torch.no_grad():
        loc1, scale1 = _gaussian_of(vae.encoder.net, x, 3)
        loc2, scale2 = _gaussian_of(vae.upper_encoder.net, z1, 2)
        cloc, cscale = _gaussian_of(vae.conditional.net, z2, 3)
        logits = vae.likelihood.decoder(z1)
        elbo = (
            (x * logits - torch.nn.functional.softplus(logits)).sum(-1)  # log P(x|z1)
            + _normal(z1, cloc, cscale)  # log P(z1|z2)
            + _normal(z2, torch.zeros(2), torch.ones(2))  # log P(z2)
            - _normal(z1, loc1, scale1)  # log Q(z1|x)
            - _normal(z2, loc2, scale2)  # log Q(z2|z1)
        ).sum()
    assert -loss == pytest.approx(float(elbo), rel=1e-5)


def _linear_gaussian_two_layers(d2=1, d1=2, data=3, sigma=0.6, s1=0.8):
    """P(z2) = N(0, I), P(z1|z2) = N(A z2 + a, s1^2 I), P(x|z1) = N(B z1 + b, sigma^2 I).

    The marginal is N(B a + b, B (A A^T + s1^2 I) B^T + sigma^2 I). The guide is broad and
    fixed: Q(z1|x) = N(0, 1.5^2 I), Q(z2|z1) = N(0, 1.5^2 I), a poor but valid proposal.
    """
    torch.manual_seed(3)
    raw = lambda s: math.log(math.expm1(s - 1e-5))  # noqa: E731  (softplus^-1)

    def fixed_gaussian(in_features, d, scale, weight=None, bias=None):
        net = nn.Linear(in_features, 2 * d)
        with torch.no_grad():
            net.weight.zero_()
            net.bias.zero_()
            if weight is not None:
                net.weight[:d] = weight
                net.bias[:d] = bias
            net.bias[d:] = raw(scale)
        return DiagonalGaussianEncoder(net, d)

    a_w, a_b = torch.randn(d1, d2), torch.randn(d1)
    decoder = nn.Linear(d1, data)
    vae = HierarchicalVAE(
        prior=StandardNormalPrior(d2),
        encoder=fixed_gaussian(data, d1, 1.5),
        upper_encoder=fixed_gaussian(d1, d2, 1.5),
        conditional=fixed_gaussian(d2, d1, s1, a_w, a_b),
        likelihood=GaussianLikelihood(decoder, sigma),
    ).double()
    b_w, b_b = decoder.weight.detach().double(), decoder.bias.detach().double()
    a_w, a_b = a_w.double(), a_b.double()
    mean = b_w @ a_b + b_b
    cov = b_w @ (a_w @ a_w.T + s1**2 * torch.eye(d1, dtype=torch.float64)) @ b_w.T
    cov = cov + sigma**2 * torch.eye(data, dtype=torch.float64)
    return vae, torch.distributions.MultivariateNormal(mean, cov)


def test_importance_sampling_matches_the_closed_form_of_a_linear_two_layer_model():
    vae, marginal = _linear_gaussian_two_layers()
    x = marginal.sample((40,))
    exact = marginal.log_prob(x).numpy()
    res = log_likelihood(vae.model, vae.guide, x, 5000, dtype=torch.float64)
    difference = res.estimate - exact
    se = np.sqrt(np.sum(res.standard_error**2)) / x.shape[0]
    assert se < 0.01  # the test can tell
    assert abs(difference.mean()) < 4 * se + 1e-3  # low by about var/2K in log space


def test_ais_from_the_guide_reaches_the_closed_form_through_the_pyro_programs():
    vae, marginal = _linear_gaussian_two_layers()
    assert target_for(vae.model, vae.guide, torch.zeros(1, 3)).__class__ is Target  # generic path
    x = marginal.sample((30,))
    exact = marginal.log_prob(x).numpy()
    res = annealed_importance_sampling(
        vae.model, vae.guide, x, num_chains=8, num_steps=200, dtype=torch.float64
    )
    mean, se = mean_and_se(res.estimate - exact)
    assert se < 0.05  # the test can tell
    assert abs(mean) < 4 * se


@pytest.mark.slow
def test_bdmc_brackets_the_closed_form_with_both_layers_simulated():
    vae, marginal = _linear_gaussian_two_layers()
    x, latents = simulate(vae.model, 20)
    assert set(latents) == {"z1", "z2"}
    exact = marginal.log_prob(x).numpy()
    (sandwich,) = bidirectional_monte_carlo(
        vae.model, vae.guide, x, latents, schedules=(200,), num_chains=8, dtype=torch.float64
    )
    for bound, sign in ((sandwich.lower.estimate, 1), (sandwich.upper.estimate, -1)):
        mean, se = mean_and_se(bound - exact)
        assert sign * mean < 3 * se + 1e-3  # lower <= exact <= upper


def test_a_run_saves_loads_and_resumes_to_the_uninterrupted_result(tmp_path):
    config = Config(
        **SMALL, epochs=2, objective="iwae", num_particles=3, prior="vamp", prior_components=5
    )
    whole = train(config, tmp_path / "whole", device="cpu")
    train(config.replace(epochs=1), tmp_path / "cut", device="cpu")
    resumed = train(config, tmp_path / "cut", resume=True, device="cpu")
    for a, b in zip(resumed.metrics, whole.metrics, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    loaded = load_run(tmp_path / "whole")
    assert isinstance(loaded.vae, HierarchicalVAE)
    for name, value in whole.vae.state_dict().items():
        assert torch.equal(value, loaded.vae.state_dict()[name]), name


def test_the_analytic_kl_is_refused_for_a_guide_that_is_not_mean_field():
    with pytest.raises(InputError, match="needs a mean-field guide"):
        Config.from_dict({**SMALL, "objective": "analytic-kl"})
