"""Training M2 from a few labels: the labels kept, exact resume, torchrun, and the refusals."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import metrics_without_time, sigint_at

import pyro_vae.running.trainer as train_module
from pyro_vae import Config, InputError, load_run, train
from pyro_vae.models.m2 import SemiSupervisedVAE
from pyro_vae.running.semisupervised import choose_labels
from pyro_vae.storage.rundir import read_metrics

M2 = {"model": "m2", "labels": 50, "latent_dim": 2, "hidden_dims": (32,), "batch_size": 100}


def make_npz(path, *, labels, negative=False):
    rng = np.random.default_rng(0)
    arrays = {"x_train": (rng.random((60, 16)) > 0.5).astype(np.float32)}
    if labels:
        arrays["y_train"] = np.arange(60) % 3 - (1 if negative else 0)
    np.savez(path, **arrays)
    return path


def test_the_labels_kept_are_balanced_seeded_and_checked():
    y = torch.arange(100) % 10
    picked = choose_labels(y, 25, 10, seed=3)
    counts = torch.bincount(y[picked], minlength=10).tolist()
    assert counts == [3] * 5 + [2] * 5
    assert torch.equal(picked, choose_labels(y, 25, 10, seed=3))
    assert not torch.equal(picked, choose_labels(y, 25, 10, seed=4))
    with pytest.raises(InputError, match="at most labels=100|at most --labels 100"):
        choose_labels(y, 101, 10, seed=0)
    with pytest.raises(InputError, match="class 9 has 0 training images"):
        choose_labels(y % 9, 20, 10, seed=0)


def test_m2_trains_from_fifty_labels_and_reloads_as_itself(tmp_path, capsys):
    result = train(Config(epochs=3, **M2), tmp_path / "m2", verbose=True)
    rows = read_metrics(tmp_path / "m2")
    assert {"val_accuracy", "train_accuracy", "val_elbo"} <= set(rows[-1])
    last_line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")][-1]
    assert f"accuracy {rows[-1]['val_accuracy']:6.1%}" in last_line  # the epoch line shows it
    assert rows[-1]["val_accuracy"] > 0.3  # chance is 0.1
    assert rows[-1]["val_elbo"] > rows[0]["val_elbo"]
    stored = json.loads((tmp_path / "m2/config.json").read_text())
    assert stored["data"]["num_classes"] == 10
    run = load_run(tmp_path / "m2")
    assert isinstance(run.vae, SemiSupervisedVAE)
    for name, value in run.vae.state_dict().items():
        torch.testing.assert_close(value, result.vae.state_dict()[name])
    assert np.isfinite(result.test_elbo)


def test_a_signal_mid_epoch_and_resume_give_the_uninterrupted_run(tmp_path, monkeypatch):
    config = Config(epochs=2, **{**M2, "batch_size": 50})
    whole = train(config, tmp_path / "whole")
    real = train_module.epoch_batches
    monkeypatch.setattr(train_module, "epoch_batches", sigint_at(real, epoch=1, step=4))
    stopped = train(config, tmp_path / "cut")
    assert stopped.interrupted and len(stopped.metrics) == 1
    monkeypatch.setattr(train_module, "epoch_batches", real)
    resumed = train(None, tmp_path / "cut", resume=True)
    assert metrics_without_time(resumed.metrics) == metrics_without_time(whole.metrics)
    assert (tmp_path / "whole/model.safetensors").read_bytes() == (
        tmp_path / "cut/model.safetensors"
    ).read_bytes()


@pytest.mark.slow
def test_two_processes_train_the_m2_of_one(tmp_path):
    from pyro_vae.cli.commands import main

    settings = ["--model", "m2", "--labels", "50", "--latent-dim", "2", "--hidden-dims", "16"]
    settings += ["--epochs", "1", "--batch-size", "50", "--no-plots", "--quiet"]
    assert main(["train", "--out", str(tmp_path / "one"), *settings]) == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", "-m", "pyro_vae", "train", "--out", str(tmp_path / "two")]
    done = subprocess.run(
        command + settings,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    one, two = load_run(tmp_path / "one").vae, load_run(tmp_path / "two").vae
    for name, value in one.state_dict().items():
        torch.testing.assert_close(value, two.state_dict()[name], atol=1e-4, rtol=0)
    for a, b in zip(read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two"), strict=True):
        assert a["val_accuracy"] == b["val_accuracy"]
        assert a["val_elbo"] == pytest.approx(b["val_elbo"], abs=1e-3)


def test_labels_the_data_cannot_serve_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="more labels than"):
        train(Config(**{**M2, "labels": 5000}), tmp_path / "many")
    few = {**M2, "labels": 6, "dataset": "npz"}
    unlabelled = make_npz(tmp_path / "x.npz", labels=False)
    with pytest.raises(InputError, match="needs labels"):
        train(Config(**few, data_file=str(unlabelled)), tmp_path / "none")
    negative = make_npz(tmp_path / "neg.npz", labels=True, negative=True)
    with pytest.raises(InputError, match="negative"):
        train(Config(**few, data_file=str(negative)), tmp_path / "neg")
    assert not any((tmp_path / name).exists() for name in ("many", "none", "neg"))
