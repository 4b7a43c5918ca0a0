"""Training and evaluating the conditional VAE: each condition kind, exact resume, the refusals."""

import json

import numpy as np
import pytest
import torch
from conftest import metrics_without_time, sigint_at

import pyro_vae.running.trainer as train_module
from pyro_vae import Config, evaluate_run, load_run, train
from pyro_vae.cli.commands import main
from pyro_vae.models.cvae import ConditionalVAE
from pyro_vae.running.evaluation import bdmc_run

CVAE = {"model": "cvae", "latent_dim": 2, "hidden_dims": (32,), "batch_size": 100}


@pytest.mark.parametrize("condition", ["quadrants:1", "quadrants:3", "label"])
def test_each_condition_trains_reloads_and_evaluates(tmp_path, condition):
    run_dir = tmp_path / condition.replace(":", "-")
    result = train(Config(epochs=3, condition=condition, **CVAE), run_dir)
    assert result.metrics[-1]["val_elbo"] > result.metrics[0]["val_elbo"]
    stored = json.loads((run_dir / "config.json").read_text())
    width = {"quadrants:1": 16, "quadrants:3": 48, "label": 10}[condition]
    assert stored["data"]["condition_dim"] == width
    run = load_run(run_dir)
    assert isinstance(run.vae, ConditionalVAE) and run.vae.condition_dim == width
    summary = evaluate_run(run_dir, num_samples=100, proposals=("guide", "prior"), limit=30).summary
    guided, naive = summary["proposals"]["guide"], summary["proposals"]["prior"]
    # -log P(Y|X) by both estimators; the ELBO bounds the importance-sampling one
    assert guided["nll"] <= -summary["test_elbo"] + 3 * guided["data_standard_error"]
    assert np.isfinite(naive["nll"])


def test_the_more_of_the_image_is_given_the_less_is_left_to_explain(tmp_path):
    nll = {}
    for k in (1, 3):
        run_dir = tmp_path / f"q{k}"
        train(Config(epochs=3, condition=f"quadrants:{k}", **CVAE), run_dir)
        summary = evaluate_run(run_dir, num_samples=50, proposals=("guide",), limit=50).summary
        nll[k] = summary["proposals"]["guide"]["nll"]
    assert nll[3] < nll[1]  # a quarter of the pixels against three quarters


def test_a_signal_mid_epoch_and_resume_give_the_uninterrupted_run(tmp_path, monkeypatch):
    config = Config(epochs=2, condition="quadrants:2", **{**CVAE, "batch_size": 200})
    whole = train(config, tmp_path / "whole")
    real = train_module.epoch_batches
    monkeypatch.setattr(train_module, "epoch_batches", sigint_at(real, epoch=1, step=3))
    stopped = train(config, tmp_path / "cut")
    assert stopped.interrupted and len(stopped.metrics) == 1
    monkeypatch.setattr(train_module, "epoch_batches", real)
    resumed = train(None, tmp_path / "cut", resume=True)
    assert metrics_without_time(resumed.metrics) == metrics_without_time(whole.metrics)
    assert (tmp_path / "whole/model.safetensors").read_bytes() == (
        tmp_path / "cut/model.safetensors"
    ).read_bytes()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--condition", "quadrants:4"], "give 1, 2 or 3"),
        (["--condition", "label", "--dataset", "npz"], "needs labels"),
        ([], "needs something to condition on"),
    ],
)
def test_bad_conditions_are_one_line_and_exit_2(tmp_path, capsys, options, message):
    if "npz" in options:
        np.savez(tmp_path / "x.npz", x_train=np.zeros((20, 4), np.float32))
        options = [*options, "--data-file", str(tmp_path / "x.npz")]
    status = main(["train", "--model", "cvae", "--out", str(tmp_path / "run"), *options])
    err = capsys.readouterr().err.strip()
    assert status == 2 and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_the_cvae_trains_on_a_users_condition_arrays(tmp_path):
    rng = np.random.default_rng(0)
    c = rng.normal(size=(200, 3)).astype(np.float32)
    x = (rng.random((200, 8)) < 1 / (1 + np.exp(-c[:, :1] * 3))).astype(np.float32)
    np.savez(tmp_path / "c.npz", x_train=x, c_train=c)
    config = Config(dataset="npz", data_file=str(tmp_path / "c.npz"), condition="arrays", **CVAE)
    result = train(config.replace(epochs=2, batch_size=50), tmp_path / "run")
    assert result.vae.condition_dim == 3 and torch.isfinite(torch.tensor(result.test_elbo))


@pytest.mark.slow
def test_ais_and_bdmc_work_on_a_cvae_run(tmp_path):
    run_dir = tmp_path / "run"
    train(Config(epochs=3, condition="quadrants:2", **CVAE), run_dir)
    ais = {"num_steps": 50, "num_chains": 4}
    summary = evaluate_run(
        run_dir, num_samples=200, proposals=("guide", "ais"), limit=20, ais=ais
    ).summary["proposals"]
    guided, annealed = summary["guide"], summary["ais"]
    assert abs(guided["nll"] - annealed["nll"]) < 0.5  # both estimate -log P(Y|X)
    (short, long) = bdmc_run(run_dir, num_points=10, schedules=(5, 100), num_chains=4)
    se = np.hypot(long["lower_mc_standard_error"], long["upper_mc_standard_error"])
    assert -3 * se < long["gap"] < short["gap"] + 3 * se  # a sandwich, tighter for longer
