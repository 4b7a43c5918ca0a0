import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from conftest import value_reading

import pyro_vae.hardware.compiler as compiler
from pyro_vae import Config, build_vae
from pyro_vae.estimate.ais import annealed_importance_sampling, gradient_evaluations
from pyro_vae.estimate.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.estimate.compiled_potential import TORCH_COMPILE_MIN_GRADIENTS, CompiledPotential
from pyro_vae.estimate.compiled_weights import use_compile
from pyro_vae.estimate.dataset import estimate_dataset


@pytest.fixture
def aot_eager(monkeypatch):
    # the capture itself, without inductor's C++ (which the slow test checks)
    monkeypatch.setattr(compiler, "BACKEND", "aot_eager")


def _vae():
    torch.manual_seed(0)
    return build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)


def _ais(model, guide, x, compiled, **options):
    torch.manual_seed(5)
    options = {"num_chains": 4, "num_steps": 20, "leapfrog_steps": 3, **options}
    return annealed_importance_sampling(model, guide, x, compiled=compiled, **options)


def _two_site_programs():
    w = torch.linspace(-1.0, 1.0, 10).reshape(2, 5)

    def model(x=None, scale=None, batch_size=None):
        n = x.shape[0] if x is not None else batch_size
        with pyro.plate("data", n):
            z1 = pyro.sample("z1", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            s = pyro.sample("s", dist.LogNormal(torch.zeros(n), 0.5))  # a positive latent
            mean = (z1 @ w) * scale.unsqueeze(-1)
            return pyro.sample("x", dist.Normal(mean, s.unsqueeze(-1)).to_event(1), obs=x)

    def guide(x, scale=None):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z1", dist.Normal(x[:, :2] * 0.3, 1.0).to_event(1))
            pyro.sample("s", dist.LogNormal(torch.zeros(x.shape[0]), 0.4))

    return model, guide


@pytest.mark.parametrize("start", ["guide", "prior"])
def test_compiled_leapfrog_steps_run_the_same_chains(aot_eager, start):
    vae = _vae()
    x = torch.bernoulli(torch.full((5, 12), 0.4))
    potential = CompiledPotential(vae.model, vae.guide)
    plain = _ais(vae.model, vae.guide, x, None, start=start)
    for _ in range(2):  # compiled, then from the graph made
        fast = _ais(vae.model, vae.guide, x, potential, start=start)
        assert fast.estimate == pytest.approx(plain.estimate, rel=1e-6, abs=1e-6)
        assert np.array_equal(fast.acceptance, plain.acceptance)
        assert fast.step_size == pytest.approx(plain.step_size)
    assert potential.compilations == 1 and not potential.failure


def test_any_pyro_program_with_arguments_and_a_constrained_latent_compiles(aot_eager):
    model, guide = _two_site_programs()
    torch.manual_seed(1)
    scale = torch.rand(6) + 0.5
    x, _ = simulate(model, 6, args=(scale,))
    potential = CompiledPotential(model, guide)
    plain = _ais(model, guide, x, None, args=(scale,))
    fast = _ais(model, guide, x, potential, args=(scale,))
    assert fast.estimate == pytest.approx(plain.estimate, rel=1e-6, abs=1e-6)
    assert potential.compilations == 1 and not potential.failure


def test_an_enumerated_class_is_summed_inside_the_graph(aot_eager):
    from conftest import loose_mixture_guide, make_mixture

    mix = make_mixture(seed=3)
    torch.manual_seed(0)
    x = mix.sample_data(6)
    guide = loose_mixture_guide(mix)
    options = {"dtype": torch.float64}
    potential = CompiledPotential(mix.model, guide)
    plain = _ais(mix.model, guide, x, None, **options)
    fast = _ais(mix.model, guide, x, potential, **options)
    assert fast.estimate == pytest.approx(plain.estimate, rel=1e-9, abs=1e-9)
    assert potential.compilations == 1 and not potential.failure


def test_a_data_set_and_both_directions_of_bdmc_share_one_graph_per_shape(aot_eager):
    vae = _vae()
    x = torch.bernoulli(torch.full((5, 12), 0.4))
    ais = {"num_chains": 3, "num_steps": 5, "leapfrog_steps": 2}
    options = {"proposal": "ais", "ais": ais, "batch_size": 2, "seed": 0}
    plain = estimate_dataset(vae.model, vae.guide, x, 1, **options)
    fast = estimate_dataset(vae.model, vae.guide, x, 1, compile=True, **options)
    assert fast.estimate == pytest.approx(plain.estimate, rel=1e-6, abs=1e-6)

    torch.manual_seed(2)
    data, latents = simulate(vae.model, 4)
    potential = CompiledPotential(vae.model, vae.guide)
    chains = {"num_chains": 3, "leapfrog_steps": 2, "compiled": potential}
    (sandwich,) = bidirectional_monte_carlo(
        vae.model, vae.guide, data, latents, schedules=(5,), **chains
    )
    assert potential.compilations == 1  # forward and reverse: the same shapes
    assert np.all(np.isfinite(sandwich.gap))


def test_a_program_that_cannot_be_captured_runs_uncompiled_with_one_warning(aot_eager):
    vae = _vae()
    x = torch.bernoulli(torch.full((3, 12), 0.4))
    model = value_reading(vae.model)

    potential = CompiledPotential(model, vae.guide)
    with pytest.warns(RuntimeWarning, match="running AIS uncompiled") as caught:
        fast = _ais(model, vae.guide, x, potential)
    plain = _ais(model, vae.guide, x, None)
    assert len(caught) == 1 and potential.failure and potential.compilations == 0
    assert fast.estimate == pytest.approx(plain.estimate, rel=1e-6)


def test_auto_compiles_ais_that_repays_the_compile():
    default = gradient_evaluations(1, {})
    assert default == (16 + 4) * (1000 + 20) * 11  # the defaults of annealed_importance_sampling
    big, small = gradient_evaluations(100, {}), gradient_evaluations(10, {})
    minimum = {"minimum": TORCH_COMPILE_MIN_GRADIENTS}
    assert use_compile("auto", big, **minimum) and not use_compile("auto", small, **minimum)


@pytest.mark.slow  # inductor's C++ compile takes tens of seconds
def test_inductor_compiled_ais_agrees_to_float_rounding():
    vae = _vae()
    x = torch.bernoulli(torch.full((5, 12), 0.4))
    potential = CompiledPotential(vae.model, vae.guide)
    plain = _ais(vae.model, vae.guide, x, None, num_steps=50)
    fast = _ais(vae.model, vae.guide, x, potential, num_steps=50)
    assert not potential.failure and potential.compilations == 1
    # fused sums round differently: agreement to float32 rounding of a few-nat log-likelihood
    assert fast.estimate == pytest.approx(plain.estimate, abs=1e-3)
