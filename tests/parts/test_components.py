"""Every prior x guide x likelihood combination, in one parameterized suite.

Each combination is built from the registries by name, as the CLI does, on tiny settings.
"""

import itertools
import os

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam
from torch import nn

from pyro_vae import VAE, Config, build_vae, load_run, log_likelihood, train
from pyro_vae.data.splits import load_data
from pyro_vae.estimate.ais import annealed_importance_sampling
from pyro_vae.estimate.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.parts.guides import GUIDES
from pyro_vae.parts.likelihoods import LIKELIHOODS, BernoulliLikelihood, likelihood_support
from pyro_vae.parts.networks import MLP
from pyro_vae.parts.priors import PRIORS, StandardNormalPrior

# The discretized likelihoods (8-bit pixels) join with one prior and guide: what they add is
# the likelihood, which every other combination exercises with the other parts.
_DISCRETE = [n for n in LIKELIHOODS.names() if likelihood_support(n) == "discrete"]
_OTHERS = [n for n in LIKELIHOODS.names() if n not in _DISCRETE]
COMBINATIONS = list(itertools.product(PRIORS.names(), GUIDES.names(), _OTHERS))
COMBINATIONS += [("standard-normal", "diagonal", name) for name in _DISCRETE]
IDS = [f"{p}-{g}-{lik}" for p, g, lik in COMBINATIONS]
DATA_DIM, LATENT_DIM, BATCH = 16, 3, 6


def _config(prior, guide, likelihood, **extra):
    components = {"mixture": 3, "vamp": 4}.get(prior)
    return Config(
        prior=prior,
        guide=guide,
        likelihood=likelihood,
        prior_components=components,
        latent_dim=LATENT_DIM,
        hidden_dims=(16,),
        sigma=0.5 if likelihood.startswith("gaussian") else 0.1,  # a setting no part reads: refused
        **extra,
    )


def _data(likelihood, n=BATCH, dim=DATA_DIM):
    generator = torch.Generator().manual_seed(1)
    grey = torch.rand(n, dim, generator=generator)
    return {
        "binary": torch.bernoulli(grey, generator=generator),
        "unit": grey,
        "real": grey,
        "discrete": (grey * 255).round() / 255,
    }[likelihood_support(likelihood)]


PRIOR_GUIDE = list(itertools.product(PRIORS.names(), GUIDES.names()))


@pytest.mark.parametrize(("prior", "guide"), PRIOR_GUIDE, ids=[f"{p}-{g}" for p, g in PRIOR_GUIDE])
def test_ais_and_bdmc_move_through_every_prior_and_guide(prior, guide):
    """AIS through the model's own densities and through traced Pyro programs, and BDMC.

    Started from the prior, on an untrained model (whose posterior is close to its prior), AIS
    must agree with importance sampling of many samples within five combined standard errors
    (plus 0.1 nats for the bias of the log of a 16-chain mean). Started from the guide, whose
    weights are heavy-tailed on such a model, the chains must move and give finite numbers.
    """
    torch.manual_seed(0)
    vae = build_vae(_config(prior, guide, "bernoulli"), DATA_DIM)
    x = _data("bernoulli", n=3)
    options = {"num_chains": 16, "num_steps": 20, "leapfrog_steps": 2, "warmup_steps": 2}
    reference = log_likelihood(vae.model, vae.guide, x, num_samples=4000)
    programs = {"own": (vae.model, vae.guide)}
    programs["traced"] = (lambda data: vae.model(data), lambda data: vae.guide(data))
    for model, guide_program in programs.values():
        ais = annealed_importance_sampling(model, guide_program, x, start="prior", **options)
        se = np.sqrt(ais.standard_error**2 + reference.standard_error**2)
        assert np.all(np.abs(ais.estimate - reference.estimate) < 5 * se + 0.1)
        ais = annealed_importance_sampling(model, guide_program, x, start="guide", **options)
        assert np.isfinite(ais.estimate).all() and np.all(ais.acceptance > 0)
    simulated, latents = simulate(vae.model, 2)
    del options["num_steps"]
    (sandwich,) = bidirectional_monte_carlo(
        vae.model, vae.guide, simulated, latents, schedules=(20,), **options
    )
    assert np.isfinite(sandwich.lower.estimate).all() and np.isfinite(sandwich.upper.estimate).all()


@pytest.mark.parametrize(("prior", "guide", "likelihood"), COMBINATIONS, ids=IDS)
def test_combination_builds_trains_and_estimates(prior, guide, likelihood):
    torch.manual_seed(0)
    vae = build_vae(_config(prior, guide, likelihood), DATA_DIM)
    x = _data(likelihood)

    # sites and shapes follow the convention
    guide_trace = pyro.poutine.trace(vae.guide).get_trace(x)
    model_trace = pyro.poutine.trace(pyro.poutine.replay(vae.model, guide_trace)).get_trace(x)
    assert guide_trace.nodes["z"]["value"].shape == (BATCH, LATENT_DIM)
    assert model_trace.nodes["x"]["is_observed"]
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    for trace in (model_trace, guide_trace):
        assert trace.nodes["z"]["log_prob"].shape == (BATCH,)
    assert model_trace.nodes["x"]["log_prob"].shape == (BATCH,)

    # a finite ELBO that a few SVI steps improve
    elbo = Trace_ELBO(num_particles=20, vectorize_particles=True, max_plate_nesting=1)
    svi = SVI(vae.model, vae.guide, Adam({"lr": 1e-2}), elbo)
    with torch.no_grad():
        before = np.mean([elbo.loss(vae.model, vae.guide, x) for _ in range(5)])
    assert np.isfinite(before)
    for _ in range(40):
        svi.step(x)
    with torch.no_grad():
        after = np.mean([elbo.loss(vae.model, vae.guide, x) for _ in range(5)])
    assert after < before

    # importance sampling is at least the ELBO: per point always, here on average too
    res = log_likelihood(vae.model, vae.guide, x, 200)
    assert np.isfinite(res.estimate).all()
    assert (res.estimate >= res.mean_log_weight - 1e-4).all()
    assert res.estimate.mean() >= res.mean_log_weight.mean()


@pytest.mark.parametrize(
    ("prior", "guide", "likelihood"),
    [
        ("standard-normal", "diagonal", "bernoulli"),
        ("mixture", "full", "gaussian-pixelwise"),
        ("vamp", "iaf", "continuous-bernoulli"),
        ("flow", "iaf", "gaussian-learned"),
        ("vamp", "full", "gaussian"),
    ],
    ids=lambda v: v,
)
def test_run_directory_reloads_to_the_same_model(prior, guide, likelihood, tmp_path):
    binarize = "dynamic" if likelihood == "bernoulli" else "none"
    config = _config(prior, guide, likelihood, epochs=1, binarize=binarize)
    result = train(config, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.config == config
    x = result.data.test[:20]
    torch.manual_seed(5)
    original = log_likelihood(result.vae.model, result.vae.guide, x, 100)
    pyro.clear_param_store()
    torch.manual_seed(5)
    reloaded = log_likelihood(run.vae.model, run.vae.guide, x, 100)
    np.testing.assert_allclose(reloaded.estimate, original.estimate, rtol=1e-6)


def test_a_users_own_guide_plugs_into_the_vae():
    class StudentTEncoder(nn.Module):
        """A heavier-tailed guide: Student-t with 5 degrees of freedom."""

        def __init__(self):
            super().__init__()
            self.net = MLP(DATA_DIM, (16,), 2 * LATENT_DIM)

        def forward(self, x):
            loc, raw = self.net(x).chunk(2, -1)
            return dist.StudentT(5.0, loc, nn.functional.softplus(raw) + 1e-3).to_event(1)

    vae = VAE(
        StandardNormalPrior(LATENT_DIM),
        StudentTEncoder(),
        BernoulliLikelihood(MLP(LATENT_DIM, (16,), DATA_DIM)),
    )
    x = _data("bernoulli")
    svi = SVI(vae.model, vae.guide, Adam({"lr": 1e-2}), Trace_ELBO())
    losses = [svi.step(x) for _ in range(30)]
    assert np.isfinite(losses).all()
    res = log_likelihood(vae.model, vae.guide, x, 100)
    assert (res.estimate >= res.mean_log_weight - 1e-4).all()


@pytest.mark.skipif(
    "PYRO_VAE_MNIST_DIR" not in os.environ, reason="set PYRO_VAE_MNIST_DIR to test real MNIST"
)
def test_vamp_prior_leaves_the_pixel_marginal_plateau_on_mnist(tmp_path):
    # Without the decoder starting at the pixel marginals, a VampPrior VAE on MNIST stayed for
    # good where every image is explained by the marginals alone (KL ~ 0, ELBO ~ -206).
    cfg = Config(
        dataset="mnist",
        data_dir=os.environ["PYRO_VAE_MNIST_DIR"],
        prior="vamp",
        prior_components=50,
        epochs=1,
        validation_fraction=1 / 60,
    )
    result = train(cfg, tmp_path / "vamp", verbose=False)
    splits = load_data(cfg, "binary")
    p = splits.train.mean(0).clamp(1e-3, 1 - 1e-3)
    x = splits.validation
    marginal_only = float((x @ p.log() + (1 - x) @ (1 - p).log()).mean())  # about -206
    row = result.metrics[-1]
    assert row["val_kl"] > 5.0
    assert row["val_elbo"] > marginal_only + 30.0
