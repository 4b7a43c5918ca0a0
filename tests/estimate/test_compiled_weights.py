import pytest
import torch
from conftest import value_reading

import pyro_vae.hardware.compiler as compiler
from pyro_vae import Config, InputError, build_vae
from pyro_vae.estimate.compiled_weights import CompiledWeights, use_compile
from pyro_vae.estimate.dataset import evaluate_log_likelihood
from pyro_vae.estimate.importance import log_likelihood


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(compiler, "BACKEND", "aot_eager")


def _vae(**values):
    torch.manual_seed(0)
    return build_vae(Config(latent_dim=3, hidden_dims=(16,), **values), data_dim=12)


@pytest.mark.slow  # (inductor's first compile on a new machine takes tens of seconds)
def test_compiled_weights_give_the_same_estimates():
    # inductor itself, with torch's own random kernels: the same draws as the uncompiled path
    vae = _vae()
    x = torch.bernoulli(torch.full((4, 12), 0.4))
    weights = CompiledWeights(vae.model, vae.guide)
    estimates = []
    for compiled in (None, weights, weights):
        torch.manual_seed(7)
        result = log_likelihood(vae.model, vae.guide, x, 50, chunk_size=25, compiled=compiled)
        estimates.append(result.estimate)
    for other in estimates[1:]:
        assert other == pytest.approx(estimates[0], rel=1e-5)
    assert weights.compilations == 1 and not weights.failure  # two chunks of 25: one graph


def test_an_evaluation_compiles_once_per_shape_for_all_its_points(aot_eager, monkeypatch):
    vae = _vae()
    x = torch.bernoulli(torch.full((6, 12), 0.4))
    made = []
    original = CompiledWeights.__call__

    def counting(self, *args, **kwargs):
        before = self.compilations
        result = original(self, *args, **kwargs)
        made.extend([1] * (self.compilations - before))
        return result

    monkeypatch.setattr(CompiledWeights, "__call__", counting)
    plain = evaluate_log_likelihood(vae, x, 30, proposals=("guide", "prior"))
    fast = evaluate_log_likelihood(vae, x, 30, proposals=("guide", "prior"), compile=True)
    for proposal in ("guide", "prior"):
        assert fast.results[proposal].estimate == pytest.approx(
            plain.results[proposal].estimate, rel=1e-5
        )
    assert len(made) == 2  # one graph per proposal: every point's 30 draws fit one chunk


def test_a_program_that_cannot_be_captured_is_estimated_uncompiled_with_one_warning(aot_eager):
    vae = _vae()
    x = torch.bernoulli(torch.full((3, 12), 0.4))
    model = value_reading(vae.model)

    weights = CompiledWeights(model, vae.guide)
    with pytest.warns(RuntimeWarning, match="estimating uncompiled") as caught:
        for _ in range(2):
            result = log_likelihood(model, vae.guide, x, 10, compiled=weights)
    assert len(caught) == 1 and weights.failure and result.estimate.shape == (3,)


def test_auto_compiles_large_evaluations_only():
    assert use_compile("auto", 10_000 * 5000) and not use_compile("auto", 360 * 5000)
    assert use_compile("torch", 1) and not use_compile("off", 10**9)
    with pytest.raises(InputError, match="choose auto, torch, off"):
        use_compile("jit", 1)
