import json
import math
import sys

import pytest
import torch

from pyro_vae import Config, build_vae, train
from pyro_vae.cli.commands import main
from pyro_vae.running.board import FIGURE_EVERY, board_dir, hyperparameters, kl_per_site
from pyro_vae.storage.rundir import read_metrics

pytest.importorskip("tensorboard")  # the dev extra installs it
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def _read(run_dir):
    """The run's TensorBoard log, read back by TensorBoard's own reader."""
    log = EventAccumulator(str(board_dir(run_dir)), size_guidance={"scalars": 0, "images": 0})
    log.Reload()
    return log


def _steps_per_epoch(result):
    return math.ceil(result.data.train.shape[0] / 100)


def test_a_run_logs_steps_epochs_figures_and_its_settings(tmp_path, tiny):
    result = train(tiny.replace(epochs=FIGURE_EVERY + 1), tmp_path / "r", tensorboard=True)
    per_epoch = _steps_per_epoch(result)
    log = _read(tmp_path / "r")
    steps = [e.step for e in log.Scalars("train/objective")]
    assert steps == list(range(1, 6 * per_epoch + 1))  # every step, once
    for tag in ("train/gradient_norm", "train/learning_rate", "train/step_seconds"):
        values = [e.value for e in log.Scalars(tag)]
        assert len(values) == len(steps) and all(v > 0 for v in values), tag
    metrics = read_metrics(tmp_path / "r")
    val = log.Scalars("epoch/val_elbo")
    assert [e.step for e in val] == [per_epoch * (i + 1) for i in range(6)]
    for event, row in zip(val, metrics, strict=True):
        assert event.value == pytest.approx(row["val_elbo"], rel=1e-6)
    # the per-step objectives average, row-weighted, to the epoch's train objective
    rows = result.data.train.shape[0]
    sizes = [100] * (per_epoch - 1) + [rows - 100 * (per_epoch - 1)]
    first = [e.value for e in log.Scalars("train/objective")][:per_epoch]
    mean = sum(v * n for v, n in zip(first, sizes, strict=True)) / rows
    assert mean == pytest.approx(metrics[0]["train_objective"], rel=1e-5)
    # figures at epoch FIGURE_EVERY and at the last
    expected = [per_epoch * FIGURE_EVERY, per_epoch * 6]
    for kind in ("samples", "recon"):
        images = log.Images(f"figures/{kind}")
        assert [e.step for e in images] == expected and images[0].width > 100
    hparams = log.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in hparams
    assert b"latent_dim" in hparams["_hparams_/session_start_info"]
    (test,) = log.Scalars("hparam/test_elbo")
    assert test.value == pytest.approx(result.test_elbo, rel=1e-6)


def test_a_resumed_run_appends_to_its_log_without_repeating_a_step(tmp_path, tiny):
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "r"
    result = train(tiny.replace(epochs=1), run, tensorboard=True)
    per_epoch = _steps_per_epoch(result)
    # a crash after the checkpoint leaves steps the resumed run will take again
    stale = SummaryWriter(str(board_dir(run)))
    for step in range(per_epoch + 1, per_epoch + 4):
        stale.add_scalar("train/objective", 999.0, step)
    stale.close()
    train(tiny.replace(epochs=2), run, resume=True)  # goes on logging: it has a log
    log = _read(run)
    events = log.Scalars("train/objective")
    assert [e.step for e in events] == list(range(1, 2 * per_epoch + 1))
    assert all(e.value != 999.0 for e in events)
    assert [e.step for e in log.Scalars("epoch/val_elbo")] == [per_epoch, 2 * per_epoch]


def test_evaluate_adds_its_estimates_to_the_log(tmp_path):
    run = tmp_path / "r"
    tiny = ["--epochs", "1", "--latent-dim", "2", "--hidden-dims", "16", "--quiet", "--no-plots"]
    assert main(["train", "--out", str(run), "--tensorboard", *tiny]) == 0
    argv = ["evaluate", str(run), "--num-samples", "20", "--limit", "10", "--proposal", "both"]
    assert main(argv) == 0
    report = json.loads((run / "evaluation.json").read_text())
    log = _read(run)
    for proposal in ("guide", "prior"):
        (event,) = log.Scalars(f"evaluate/{proposal}/nll")
        expected = -report["proposals"][proposal]["log_likelihood"]
        assert event.value == pytest.approx(expected, rel=1e-6) and event.step == 1


def test_without_the_package_the_option_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert main(["train", "--out", str(tmp_path / "r"), "--tensorboard", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "pyro-vae[tensorboard]"' in err
    assert not (tmp_path / "r").exists()  # refused before any work


def test_the_kl_of_each_layer_of_a_hierarchical_model():
    torch.manual_seed(0)
    vae = build_vae(Config(model="hierarchical", latent_dim=2, hidden_dims=(8,)), data_dim=6)
    kl = kl_per_site(vae, torch.bernoulli(torch.full((50, 6), 0.5)))
    assert set(kl) == {"z1", "z2"} and all(math.isfinite(v) for v in kl.values())


def test_settings_become_hyperparameters_tensorboard_takes():
    values = hyperparameters(Config(hidden_dims=(64, 32), data_dir=None))
    assert values["hidden_dims"] == "64,32" and values["data_dir"] == ""
    assert all(isinstance(v, int | float | str | bool) for v in values.values())
