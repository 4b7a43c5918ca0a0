import math
import signal

import pyro
import pytest
import torch
from conftest import assert_runs_agree, metrics_without_time, sigint_at

import pyro_vae.running.trainer as train_module
from pyro_vae import InputError, build_vae, evaluate_elbo, load_run, train
from pyro_vae.data.splits import load_data
from pyro_vae.estimate.importance import elbo_terms
from pyro_vae.running.objectives import make_optimizer
from pyro_vae.storage.rundir import read_checkpoint, read_metrics, save_checkpoint


def test_svi_lowers_the_loss_on_digits_within_a_few_steps(tmp_path, tiny):
    cfg = tiny.replace(epochs=3, batch_size=50, learning_rate=3e-3)
    splits = load_data(cfg, "binary")
    pyro.set_rng_seed(cfg.seed)
    untrained = build_vae(cfg, splits.data_dim)
    untrained.init_from_data(splits.train)
    result = train(cfg, tmp_path / "r")
    trained = load_run(tmp_path / "r").vae
    x = splits.validation
    before = elbo_terms(untrained.model, untrained.guide, x, num_particles=20).elbo
    after = elbo_terms(trained.model, trained.guide, x, num_particles=20).elbo
    gain = (after - before).double()  # per image, on the same images
    assert gain.mean() > 3 * gain.std() / math.sqrt(gain.numel())
    assert math.isfinite(result.test_elbo)
    assert [r["epoch"] for r in read_metrics(tmp_path / "r")] == [1, 2, 3]


def test_same_seed_same_metrics_and_weights(tmp_path, tiny):
    a = train(tiny, tmp_path / "a")
    b = train(tiny, tmp_path / "b")
    c = train(tiny.replace(seed=1), tmp_path / "c")
    assert metrics_without_time(a.metrics) == metrics_without_time(b.metrics)
    assert metrics_without_time(a.metrics) != metrics_without_time(c.metrics)
    assert (tmp_path / "a/model.safetensors").read_bytes() == (
        tmp_path / "b/model.safetensors"
    ).read_bytes()


@pytest.mark.parametrize("objective", ["elbo", "analytic-kl", "iwae"])
def test_resume_after_an_epoch_equals_an_uninterrupted_run(tmp_path, tiny, objective):
    cfg = tiny.replace(
        epochs=3, objective=objective, num_particles=2, lr_decay=0.9, warmup_epochs=2
    )
    whole = train(cfg, tmp_path / "whole")
    train(cfg.replace(epochs=1), tmp_path / "parts")
    resumed = train(cfg, tmp_path / "parts", resume=True)
    assert metrics_without_time(resumed.metrics) == metrics_without_time(whole.metrics)
    assert (tmp_path / "whole/model.safetensors").read_bytes() == (
        tmp_path / "parts/model.safetensors"
    ).read_bytes()


def test_a_checkpoint_that_kept_torchs_random_state_still_resumes_exactly(tmp_path, tiny):
    # checkpoints of earlier versions also hold the generator's state, which resuming ignores
    cfg = tiny.replace(epochs=2)
    whole = train(cfg, tmp_path / "whole")
    train(cfg.replace(epochs=1), tmp_path / "old")
    state = read_checkpoint(tmp_path / "old")
    save_checkpoint(tmp_path / "old", {**state, "torch_rng": torch.get_rng_state()})
    resumed = train(cfg, tmp_path / "old", resume=True)
    assert metrics_without_time(resumed.metrics) == metrics_without_time(whole.metrics)


def test_a_signal_mid_epoch_saves_and_resume_finishes_identically(tmp_path, tiny, monkeypatch):
    whole = train(tiny.replace(epochs=2, batch_size=20), tmp_path / "whole")
    real = train_module.epoch_batches
    interrupting = sigint_at(real, epoch=1, step=5)
    monkeypatch.setattr(train_module, "epoch_batches", interrupting)
    stopped = train(tiny.replace(epochs=2, batch_size=20), tmp_path / "cut")
    assert stopped.interrupted and len(stopped.metrics) == 1
    monkeypatch.setattr(train_module, "epoch_batches", real)
    resumed = train(None, tmp_path / "cut", resume=True)
    assert metrics_without_time(resumed.metrics) == metrics_without_time(whole.metrics)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_may_extend_epochs_but_not_change_the_model(tmp_path, tiny):
    train(tiny.replace(epochs=1), tmp_path / "r")
    longer = train(tiny.replace(epochs=2), tmp_path / "r", resume=True)
    assert len(longer.metrics) == 2
    with pytest.raises(InputError, match="cannot change latent_dim"):
        train(tiny.replace(latent_dim=4), tmp_path / "r", resume=True)


def test_existing_run_directory_is_refused_unless_asked(tmp_path, tiny):
    train(tiny.replace(epochs=1), tmp_path / "r")
    before = (tmp_path / "r/model.safetensors").read_bytes()
    with pytest.raises(InputError, match="resume=True .* overwrite=True"):
        train(tiny, tmp_path / "r")
    assert (tmp_path / "r/model.safetensors").read_bytes() == before
    train(tiny.replace(epochs=1, seed=5), tmp_path / "r", overwrite=True)
    assert (tmp_path / "r/model.safetensors").read_bytes() != before


def test_early_stopping_keeps_the_best_epoch(tmp_path, tiny):
    # a huge learning rate makes the validation ELBO wander, so early stopping triggers
    result = train(tiny.replace(epochs=30, learning_rate=0.05, early_stopping=2), tmp_path / "r")
    assert result.stopped_early and len(result.metrics) < 30
    best = max(row["val_elbo"] for row in result.metrics)
    reloaded = load_run(tmp_path / "r").vae
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            reloaded.state_dict().values(), result.vae.state_dict().values(), strict=True
        )
    )
    assert best > result.metrics[-1]["val_elbo"]


def test_learning_rate_decay_and_warmup_are_recorded(tmp_path, tiny):
    result = train(tiny.replace(epochs=3, lr_decay=0.5, warmup_epochs=4), tmp_path / "r")
    lrs = [row["learning_rate"] for row in result.metrics]
    assert lrs == pytest.approx([1e-3, 5e-4, 2.5e-4])
    weights = [row["kl_weight"] for row in result.metrics]
    assert weights == sorted(weights) and weights[-1] < 1.0


@pytest.mark.parametrize("objective", ["elbo", "analytic-kl"])
def test_jit_training_follows_the_plain_run_up_to_rounding(tmp_path, tiny, objective):
    cfg = tiny.replace(epochs=2, objective=objective)
    plain = train(cfg.replace(compile="off"), tmp_path / "plain")
    jitted = train(cfg.replace(compile="jit"), tmp_path / "jit")
    # the same noise is drawn (compiled under a forked random state): only float rounding of
    # the compiled graph separates the two runs
    assert_runs_agree(plain, jitted)


def test_gaussian_likelihood_trains(tmp_path, tiny):
    result = train(tiny.replace(epochs=1, likelihood="gaussian", sigma=0.3), tmp_path / "r")
    assert math.isfinite(result.test_elbo)


def test_non_finite_loss_stops_and_keeps_the_checkpoint(tmp_path, tiny, monkeypatch):
    train(tiny.replace(epochs=1, compile="off"), tmp_path / "r")
    before = (tmp_path / "r/checkpoint.safetensors").read_bytes()
    monkeypatch.setattr(pyro.infer.Trace_ELBO, "loss_and_grads", lambda *a, **k: float("nan"))
    with pytest.raises(FloatingPointError, match="epoch 2, step 1"):
        train(tiny.replace(epochs=2, compile="off"), tmp_path / "r", resume=True)
    assert (tmp_path / "r/checkpoint.safetensors").read_bytes() == before


def test_evaluate_elbo_matches_metrics_scale(tmp_path, tiny):
    result = train(tiny.replace(epochs=1), tmp_path / "r")
    torch.manual_seed(0)
    val = evaluate_elbo(result.vae, result.data.validation)
    assert val["elbo"] == pytest.approx(val["reconstruction"] - val["kl"])
    assert abs(val["elbo"] - result.metrics[0]["val_elbo"]) < 2.0


def test_time_budget_stops_after_the_epoch_that_spends_it(tiny, tmp_path):
    run = tmp_path / "budget"
    train(tiny.replace(epochs=5, time_budget=1e-6), run)
    assert len(read_metrics(run)) == 1
    # a resumed run may raise the budget, like --epochs
    train(tiny.replace(epochs=3, time_budget=0.0), run, resume=True)
    assert len(read_metrics(run)) == 3


@pytest.mark.parametrize("objective", ["elbo", "iwae"])
def test_one_fused_adam_over_all_parameters_steps_like_pyro_svi(objective, tiny):
    import copy

    from pyro.infer import SVI

    from pyro_vae import build_objective

    ours = build_vae(tiny, 64)
    theirs = copy.deepcopy(ours)
    theirs.name = "svi"
    x = torch.bernoulli(torch.full((20, 64), 0.3))
    elbo = build_objective(objective, num_particles=3)
    svi = SVI(theirs.model, theirs.guide, pyro.optim.Adam({"lr": 1e-2}), elbo)
    adam = make_optimizer(list(ours.parameters()), 1e-2)
    assert adam.defaults["fused"]  # torch has a fused Adam for the CPU
    for step in range(5):
        pyro.set_rng_seed(step)
        adam.zero_grad(set_to_none=True)
        a = elbo.loss_and_grads(ours.model, ours.guide, x)
        adam.step()
        pyro.set_rng_seed(step)
        b = svi.step(x)
        assert a == pytest.approx(b, rel=1e-6)  # the fused kernel rounds differently
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        # tight enough that a learning rate 1% off fails
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def _own_vae(seed=0):
    """A VAE composed by hand from the parts (not from a Config), for the 8x8 digits."""
    from pyro_vae import VAE
    from pyro_vae.parts.guides import DiagonalGaussianEncoder
    from pyro_vae.parts.likelihoods import BernoulliLikelihood
    from pyro_vae.parts.networks import MLP
    from pyro_vae.parts.priors import StandardNormalPrior

    torch.manual_seed(seed)
    return VAE(
        StandardNormalPrior(3),
        DiagonalGaussianEncoder(MLP(64, (24,), 6), 3),
        BernoulliLikelihood(MLP(3, (24,), 64)),
    )


def test_a_users_own_vae_trains_interrupts_and_resumes_like_a_registered_one(
    tmp_path, tiny, monkeypatch
):
    cfg = tiny.replace(epochs=2, batch_size=20)
    whole = train(cfg, tmp_path / "whole", vae=_own_vae())
    real = train_module.epoch_batches
    interrupting = sigint_at(real, epoch=1, step=5)
    monkeypatch.setattr(train_module, "epoch_batches", interrupting)
    stopped = train(cfg, tmp_path / "cut", vae=_own_vae())
    assert stopped.interrupted and len(stopped.metrics) == 1
    monkeypatch.setattr(train_module, "epoch_batches", real)
    with pytest.raises(
        InputError, match=r"custom VAE \(pyro_vae.models.vae.VAE\(prior=.*vae=model"
    ):
        train(None, tmp_path / "cut", resume=True)
    resumed = train(None, tmp_path / "cut", resume=True, vae=_own_vae(seed=1))
    assert metrics_without_time(resumed.metrics) == metrics_without_time(whole.metrics)
    assert (tmp_path / "whole/model.safetensors").read_bytes() == (
        tmp_path / "cut/model.safetensors"
    ).read_bytes()
    # loading needs the model too, and then gives the trained weights
    with pytest.raises(InputError, match="load_run"):
        load_run(tmp_path / "cut")
    run = load_run(tmp_path / "cut", vae=_own_vae(seed=2))
    assert run.custom
    pairs = zip(run.vae.parameters(), whole.vae.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    train(tiny.replace(epochs=1), tmp_path / "registered")
    with pytest.raises(InputError, match="without vae="):
        train(None, tmp_path / "registered", resume=True, vae=_own_vae())


def test_a_users_own_vae_gets_the_standard_figures(tmp_path, tiny):
    result = train(tiny.replace(epochs=1), tmp_path / "own", vae=_own_vae(), figures=True)
    assert {p.name for p in result.figures} == {
        "curves.png",
        "samples.png",
        "recon.png",
        "interp.png",
        "latent.png",
    }


def test_a_config_built_directly_is_checked_before_anything_is_written(tmp_path):
    from pyro_vae import Config

    with pytest.raises(InputError, match="epochs must be a positive integer, got 0"):
        train(Config(epochs=0), tmp_path / "zero")
    with pytest.raises(InputError, match="seed must be an integer from 0 to 4294967295, got -1"):
        train(Config(seed=-1), tmp_path / "negative")
    with pytest.raises(TypeError, match="config must be a pyro_vae.Config, got dict"):
        train({"epochs": 1}, tmp_path / "dict")
    assert not list(tmp_path.iterdir())
    # a number given as text is read as from_dict reads it
    result = train(Config(epochs=1, latent_dim="2", hidden_dims=(8,)), tmp_path / "text")
    assert load_run(result.run_dir).config.latent_dim == 2


def test_off_a_terminal_training_reports_within_the_epoch_and_python_logs(
    tmp_path, tiny, monkeypatch, capsys, caplog
):
    import logging

    monkeypatch.setattr(train_module, "EVERY", 0.0)  # a line at every step
    train(tiny.replace(epochs=1), tmp_path / "verbose", verbose=True, progress=False)
    out = capsys.readouterr().out
    assert "epoch 1/1: step 2/" in out and "left in all" in out
    with caplog.at_level(logging.INFO, logger="pyro_vae"):
        train(tiny.replace(epochs=1), tmp_path / "quiet")
    assert capsys.readouterr().out == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "pyro_vae"]
    assert messages[0].startswith("epoch   1/1  train objective")
    assert messages[-1].startswith("trained 1 epochs")


def test_resuming_with_fewer_epochs_than_done_says_so(tmp_path, tiny, capsys):
    run = tmp_path / "run"
    train(tiny.replace(epochs=2), run)
    before = (run / "model.safetensors").read_bytes()
    with pytest.raises(InputError, match=r"has trained 2 epochs, more than epochs=1: pass more"):
        train(tiny.replace(epochs=1), run, resume=True)
    assert (run / "model.safetensors").read_bytes() == before
    assert len(train(None, run, resume=True, verbose=True).metrics) == 2  # finished
    assert "has done its 2 epochs (or its time budget): nothing to train" in capsys.readouterr().out
