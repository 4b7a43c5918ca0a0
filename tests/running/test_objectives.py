import math

import pytest
import torch
from pyro import poutine

from pyro_vae import OBJECTIVES, Config, build_objective, build_vae
from pyro_vae.errors import InputError
from pyro_vae.estimate.importance import log_weight_terms
from pyro_vae.running.objectives import LatentScale, compile_objective, kl_weight


@pytest.fixture
def vae_and_x():
    vae = build_vae(Config(latent_dim=2, hidden_dims=(16,)), data_dim=64)
    x = torch.bernoulli(torch.full((10, 64), 0.3))
    return vae, x


@pytest.mark.parametrize("name", OBJECTIVES.names())
@pytest.mark.parametrize("num_particles", [1, 3])
def test_every_objective_gives_a_finite_loss_and_gradients(vae_and_x, name, num_particles):
    vae, x = vae_and_x
    elbo = build_objective(name, num_particles)
    loss = elbo.loss_and_grads(vae.model, vae.guide, x)
    assert math.isfinite(loss)
    assert all(p.grad is not None for p in vae.parameters())


@pytest.mark.parametrize("name", ["elbo", "analytic-kl"])
def test_jit_objectives_match_the_plain_ones(vae_and_x, name):
    vae, x = vae_and_x
    plain = build_objective(name, 1)
    jit = build_objective(name, 1, jit=True)
    torch.manual_seed(3)
    a = plain.loss(vae.model, vae.guide, x)
    torch.manual_seed(3)
    b = jit.loss(vae.model, vae.guide, x)
    assert a == pytest.approx(b, rel=1e-5)


def test_iwae_has_no_jit():
    with pytest.raises(InputError, match="pass --compile torch"):
        build_objective("iwae", 5, jit=True)


def test_trace_elbo_and_analytic_kl_agree_in_expectation(vae_and_x):
    vae, x = vae_and_x
    n = 4000
    mc = build_objective("elbo", n).loss(vae.model, vae.guide, x)
    analytic = build_objective("analytic-kl", n).loss(vae.model, vae.guide, x)
    # standard error of the Monte Carlo loss from the spread of single-particle losses
    single = torch.tensor(
        [build_objective("elbo", 1).loss(vae.model, vae.guide, x) for _ in range(200)]
    )
    se = float(single.std()) / math.sqrt(n)
    assert abs(mc - analytic) < 4 * se


def test_iwae_bound_is_tighter_than_the_elbo(vae_and_x):
    vae, x = vae_and_x
    torch.manual_seed(0)
    elbo = build_objective("elbo", 500).loss(vae.model, vae.guide, x)
    iwae = sum(build_objective("iwae", 50).loss(vae.model, vae.guide, x) for _ in range(10)) / 10
    assert iwae < elbo  # losses are negated bounds


def test_latent_scale_touches_only_the_latent_site(vae_and_x):
    vae, x = vae_and_x
    tr = poutine.trace(LatentScale(0.25)(vae.model)).get_trace(x)
    assert tr.nodes["z"]["scale"] == 0.25
    assert tr.nodes["x"]["scale"] == 1.0


def test_beta_scales_the_kl_term(vae_and_x):
    vae, x = vae_and_x
    scale = LatentScale(1.0)
    losses = []
    for beta in (1.0, 2.0, 3.0):
        scale.scale = beta
        torch.manual_seed(0)  # the same z each time: only beta changes
        losses.append(build_objective("analytic-kl").loss(scale(vae.model), scale(vae.guide), x))
    kl = losses[1] - losses[0]  # loss = -E[log p(x|z)] + beta * KL(q || p)
    assert kl > 0
    assert losses[2] - losses[1] == pytest.approx(kl, rel=1e-4)
    # the Monte Carlo KL of the estimators agrees with the closed form within 4 standard errors
    k = 4000
    _, latent = log_weight_terms(vae.model, vae.guide, x, k)
    mc_kl = -float(latent.mean(0).sum())
    se = math.sqrt(float(latent.var(0).sum()) / k)
    assert abs(mc_kl - kl) < 4 * se


def test_kl_weight_schedule():
    assert kl_weight(1.0, 0, 0.0) == 1.0
    assert kl_weight(2.0, 4, 1.0) == 0.5
    assert kl_weight(2.0, 4, 9.0) == 2.0
    assert 0 < kl_weight(1.0, 4, 0.0) < 1e-5


def test_the_jit_mean_field_objective_compiles_once():
    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
    objective = build_objective("analytic-kl", 1, jit=True)
    model, guide = vae.model, vae.guide
    x = torch.ones(3, 4)
    compile_objective(objective, model, guide, x)  # (quietly: torch.jit.trace is deprecated)
    compiled = objective._differentiable_loss
    objective.loss_and_grads(model, guide, x)
    assert objective._differentiable_loss is compiled and len(compiled.compiled) == 1
