"""The torch.compile path: the captured loss against Pyro's objectives, and training with it.

Most tests compile with the ``aot_eager`` backend: they check what this project does (the
capture of model and guide, the loss formulas, the graph inputs, when graphs are made), which
does not depend on the kernel generator. One test runs inductor itself (in the slow step).
"""

import json

import pyro
import pytest
import torch
from conftest import assert_runs_agree

import pyro_vae.hardware.compiler as compiler
from pyro_vae import Config, build_vae, train
from pyro_vae.hardware.compiler import CaptureError
from pyro_vae.hardware.parallel import Workers
from pyro_vae.running.compiled import CompiledLoss
from pyro_vae.running.objectives import (
    LatentScale,
    build_objective,
    choose_compile,
    make_gradients,
)


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(compiler, "BACKEND", "aot_eager")


def _both(vae, objective, particles, x, scale=0.7, backend_loss=None):
    """Loss and gradients of the compiled loss and of Pyro's objective, same weights and noise."""
    latent_scale = LatentScale(scale, sites=vae.latent_sites)
    model, guide = latent_scale(vae.model), latent_scale(vae.guide)
    loss = backend_loss or CompiledLoss(
        objective, particles, model, guide, vae, vae.name, scale=latent_scale
    )
    torch.manual_seed(3)
    mine = loss(x)
    mine.backward()
    mine_grads = [p.grad.clone() for p in vae.parameters()]
    for p in vae.parameters():
        p.grad = None
    torch.manual_seed(3)
    theirs = build_objective(objective, particles).loss_and_grads(model, guide, x)
    theirs_grads = [p.grad.clone() for p in vae.parameters()]
    return float(mine.detach()), theirs, mine_grads, theirs_grads


_slow = pytest.mark.slow  # (the whole grid takes a minute: the default suite keeps three)
CASES = [
    ("elbo", 1, {}),
    ("analytic-kl", 1, {}),
    ("iwae", 5, {"prior": "vamp"}),
    pytest.param("elbo", 3, {}, marks=_slow),
    pytest.param("iwae", 1, {}, marks=_slow),
    pytest.param("elbo", 1, {"prior": "mixture"}, marks=_slow),
    pytest.param("elbo", 1, {"prior": "flow"}, marks=_slow),
    pytest.param("elbo", 1, {"guide": "iaf"}, marks=_slow),
    pytest.param("analytic-kl", 1, {"guide": "full"}, marks=_slow),
    pytest.param("elbo", 1, {"likelihood": "gaussian"}, marks=_slow),
    pytest.param("iwae", 3, {"model": "hierarchical"}, marks=_slow),
]


@pytest.mark.parametrize(("objective", "particles", "parts"), CASES, ids=str)
def test_the_compiled_loss_is_pyros_objective(aot_eager, objective, particles, parts):
    pyro.clear_param_store()
    torch.manual_seed(0)
    config = Config(latent_dim=3, hidden_dims=(16,), objective=objective, **parts)
    vae = build_vae(config, data_dim=12)
    x = torch.bernoulli(torch.full((7, 12), 0.4))
    mine, theirs, mine_grads, theirs_grads = _both(vae, objective, particles, x)
    assert mine == pytest.approx(theirs, rel=1e-5)
    for a, b in zip(mine_grads, theirs_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # (inductor's first compile on a new machine takes tens of seconds)
def test_inductor_compiles_the_default_loss_to_the_same_values():
    # inductor's kernels with torch's own random draws: the uncompiled step's noise
    pyro.clear_param_store()
    torch.manual_seed(0)
    vae = build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)
    x = torch.bernoulli(torch.full((7, 12), 0.4))
    mine, theirs, mine_grads, theirs_grads = _both(vae, "elbo", 1, x)
    assert mine == pytest.approx(theirs, rel=1e-5)
    for a, b in zip(mine_grads, theirs_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_the_kl_weight_is_a_graph_input(aot_eager):
    vae = build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)
    scale = LatentScale(1.0)
    model, guide = scale(vae.model), scale(vae.guide)
    loss = CompiledLoss("elbo", 1, model, guide, vae, vae.name, scale=scale)
    x = torch.bernoulli(torch.full((7, 12), 0.4))
    values = []
    for weight in (1.0, 0.25):
        scale.scale = weight
        torch.manual_seed(3)
        values.append(float(loss(x).detach()))
        torch.manual_seed(3)
        assert values[-1] == pytest.approx(build_objective("elbo").loss(model, guide, x), rel=1e-5)
    assert values[0] != values[1] and loss.compilations == 1


@pytest.mark.slow
def test_one_graph_per_shape_and_none_after(aot_eager):
    vae = build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)
    loss = CompiledLoss("elbo", 1, vae.model, vae.guide, vae, vae.name)
    full, short = torch.ones(7, 12), torch.ones(3, 12)
    loss.prepare(full)
    loss.prepare(short)
    for _ in range(3):
        loss(full).backward()
        loss(short).backward()
    assert loss.compilations == 2 and loss.compile_seconds > 0


def test_preparing_leaves_the_random_stream_and_the_gradients_alone(aot_eager):
    vae = build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)
    loss = CompiledLoss("elbo", 1, vae.model, vae.guide, vae, vae.name)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    loss.prepare(torch.ones(7, 12))
    assert torch.equal(torch.get_rng_state(), before)
    assert all(p.grad is None for p in vae.parameters())


def test_a_param_outside_the_module_is_refused(aot_eager):
    vae = build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)

    def model(x):
        pyro.param("loose", torch.zeros(()))
        return vae.model(x)

    loss = CompiledLoss("elbo", 1, model, vae.guide, vae, vae.name)
    with pytest.raises(
        CaptureError, match=r"\('loose'\) is not a parameter of the model's module, and"
    ):
        loss.prepare(torch.ones(7, 12))


def test_a_guide_without_reparameterization_is_refused(aot_eager):
    import pyro.distributions as dist

    vae = build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=12)

    def guide(x):
        pyro.sample("c", dist.Bernoulli(0.5))
        return vae.guide(x)

    def model(x):
        pyro.sample("c", dist.Bernoulli(0.5))
        return vae.model(x)

    loss = CompiledLoss("elbo", 1, model, guide, vae, vae.name)
    with pytest.raises(CaptureError, match="'c' is not reparameterized"):
        loss.prepare(torch.ones(7, 12))


@pytest.mark.parametrize(
    ("values", "steps", "custom", "mode"),
    [
        ({}, 30_000, False, "torch"),
        ({}, 500, False, "jit"),
        ({}, 15_000, False, "jit"),
        ({"prior": "vamp"}, 500, False, "off"),
        ({"prior": "vamp"}, 6_000, False, "torch"),
        ({"objective": "iwae", "num_particles": 5}, 30_000, False, "torch"),
        ({"warmup_epochs": 3}, 30_000, False, "torch"),
        ({"warmup_epochs": 3}, 500, False, "off"),
        ({"model": "m2", "labels": 100}, 30_000, False, "off"),
        ({}, 30_000, True, "off"),
        ({"compile": "torch"}, 10, True, "torch"),
        ({"compile": "off"}, 30_000, False, "off"),
    ],
)
def test_auto_picks_by_run_length_and_model(values, steps, custom, mode):
    assert choose_compile(Config(**values), steps, custom=custom)[0] == mode


def test_training_with_torch_compile_follows_the_uncompiled_run(tmp_path, tiny, aot_eager):
    cfg = tiny.replace(epochs=2, warmup_epochs=1, batch_size=160)  # a short last batch
    plain = train(cfg.replace(compile="off"), tmp_path / "plain")
    compiled = train(cfg.replace(compile="torch"), tmp_path / "torch")
    assert_runs_agree(plain, compiled)
    done = json.loads((tmp_path / "torch/config.json").read_text())["compile"]
    assert done["mode"] == "torch" and not done["fell_back"] and done["seconds"] > 0


def test_compiles_once_per_batch_shape_over_a_whole_run(tmp_path, tiny, aot_eager, monkeypatch):
    made = []
    original = CompiledLoss.prepare

    def counting(self, x, **kwargs):
        before = self.compilations
        original(self, x, **kwargs)
        made.extend([tuple(x.shape)] * (self.compilations - before))

    monkeypatch.setattr(CompiledLoss, "prepare", counting)
    train(tiny.replace(epochs=3, batch_size=160, compile="torch"), tmp_path / "r")
    assert sorted(made) == sorted({(160, 64), (tiny_rows(tiny) % 160, 64)})


def tiny_rows(config):
    from pyro_vae.data.splits import load_data

    return load_data(config, "binary").train.shape[0]


@pytest.mark.slow
def test_resume_with_torch_compile_is_exact(tmp_path, tiny, aot_eager):
    cfg = tiny.replace(epochs=2, compile="torch")
    train(cfg, tmp_path / "whole")
    train(cfg.replace(epochs=1), tmp_path / "parts")
    train(cfg, tmp_path / "parts", resume=True)
    assert (tmp_path / "whole/model.safetensors").read_bytes() == (
        tmp_path / "parts/model.safetensors"
    ).read_bytes()


def test_a_failed_compile_trains_uncompiled_and_says_so_once(tmp_path, tiny, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("InductorError: no working C++ compiler\nmany more lines")

    monkeypatch.setattr(torch, "compile", broken)
    result = train(tiny.replace(epochs=1, compile="torch"), tmp_path / "r")
    err = capsys.readouterr().err
    assert err.count("training uncompiled: RuntimeError: InductorError") == 1
    assert "many more lines" not in err
    done = json.loads((tmp_path / "r/config.json").read_text())["compile"]
    assert done["mode"] == "off" and done["fell_back"]
    assert len(result.metrics) == 1


def test_make_gradients_says_why(aot_eager):
    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
    programs = (vae.model, vae.guide)
    parameters = list(vae.parameters())
    gradients = make_gradients(Config(), vae, programs, parameters, Workers(), steps=25_000)
    assert gradients.mode == "torch" and "25,000 steps" in gradients.reason
