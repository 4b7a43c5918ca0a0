"""Faults during training: SIGKILL at exact points, signals, a second writer, failed writes.

The killed runs are real processes (``tests/fault_runner.py`` runs the CLI with a fault injected
at a named point); resuming and the reference run happen in this process. Every kill is followed
by the same checks: each file in the run directory is complete and readable, a directory with a
``config.json`` loads, and the resumed run ends with exactly the metrics and weights of an
uninterrupted run with the same seed.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyro
import pytest
import safetensors
import torch

import pyro_vae.running.objectives as objectives
import pyro_vae.running.trainer as trainer
import pyro_vae.running.training as training
from pyro_vae import Config
from pyro_vae.cli.commands import main
from pyro_vae.storage.files import read_rows
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    MODEL_FILE,
    load_run,
    read_checkpoint,
    read_metrics,
)

RUNNER = Path(__file__).parents[1] / "fault_runner.py"
#: A run of 3 epochs x 13 steps on the digits data: small, but every code path of a real run.
ARGS = ["--epochs", "3", "--latent-dim", "2", "--hidden-dims", "16", "--lr-decay", "0.9"]


def _train_args(run_dir: Path) -> list[str]:
    return ["train", "--out", str(run_dir), *ARGS, "--quiet", "--no-plots"]


def _run_with_fault(point: str, action: str, run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RUNNER), point, action, "--", *_train_args(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _no_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run every killed-and-resumed run must reproduce."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    assert main(_train_args(run_dir)) == 0
    return run_dir


def _assert_every_file_is_whole(run_dir: Path) -> None:
    for path in run_dir.iterdir():
        if path.name.startswith("."):
            continue  # the lock, and temporary files a kill left (nothing reads them)
        if path.suffix == ".safetensors":
            with safetensors.safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118
                    handle.get_tensor(key)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            assert read_rows(path, "test")
    if (run_dir / CONFIG_FILE).exists():
        load_run(run_dir)
        state = read_checkpoint(run_dir)
        metrics = read_metrics(run_dir) if (run_dir / "metrics.csv").exists() else []
        assert len(metrics) <= state["epoch"] + 1


def _finish(run_dir: Path) -> None:
    """Resume a run directory (or start it again when the kill came before its first save)."""
    if (run_dir / CONFIG_FILE).exists():
        assert main(["train", "--resume", str(run_dir), "--quiet", "--no-plots"]) == 0
    else:
        assert main(_train_args(run_dir)) == 0


def _assert_same_as(run_dir: Path, reference: Path) -> None:
    assert _no_time(read_metrics(run_dir)) == _no_time(read_metrics(reference))
    assert (run_dir / MODEL_FILE).read_bytes() == (reference / MODEL_FILE).read_bytes()
    assert not list(run_dir.glob(".*.tmp"))


#: (point, where it is): writes are counted per file name; the start writes model (1),
#: checkpoint (1) and config; each epoch end writes checkpoint, model, metrics; the end writes
#: the model once more.
#: (point, where); the default run kills at four of them, CI's slow step at the rest too
KILL_POINTS = [
    ("write:checkpoint.safetensors:1", "the first checkpoint half-written, before config.json"),
    ("replace:config.json:1", "just after the run was created"),
    ("step:*:5", "in the middle of epoch 1"),
    ("validate:*:1", "during the validation after epoch 1"),
    ("write:checkpoint.safetensors:2", "the epoch-1 checkpoint half-written"),
    ("replace:checkpoint.safetensors:2", "epoch-1 checkpoint in place, model and metrics old"),
    ("write:metrics.csv:1", "the first metrics.csv half-written"),
    ("fsync:checkpoint.safetensors:3", "epoch-2 checkpoint written but not moved into place"),
    ("write:model.safetensors:3", "the epoch-2 model half-written"),
    ("replace:metrics.csv:2", "just after epoch 2 was saved"),
    ("step:*:33", "in the middle of epoch 3"),
    ("write:model.safetensors:5", "the final model half-written"),
]
_DEFAULT_POINTS = {
    "write:checkpoint.safetensors:1",
    "step:*:5",
    "replace:checkpoint.safetensors:2",
    "write:model.safetensors:5",
}
_KILLS = [
    pytest.param(point, where, id=point, marks=() if point in _DEFAULT_POINTS else pytest.mark.slow)
    for point, where in KILL_POINTS
]


@pytest.mark.parametrize(("point", "where"), _KILLS)
def test_sigkill_anywhere_then_resume_gives_the_uninterrupted_run(
    tmp_path, reference, point, where
):
    run_dir = tmp_path / "run"
    killed = _run_with_fault(point, "kill", run_dir)
    assert killed.returncode == -signal.SIGKILL, f"{where}: the fault point was never reached"
    _assert_every_file_is_whole(run_dir)
    _finish(run_dir)
    _assert_same_as(run_dir, reference)


@pytest.mark.slow  # about 22 s (CI runs it in its second step)
def test_killed_twice_then_resumed(tmp_path, reference):
    run_dir = tmp_path / "run"
    assert _run_with_fault("step:*:5", "kill", run_dir).returncode == -signal.SIGKILL
    resume = ["train", "--resume", str(run_dir), "--quiet", "--no-plots"]
    resumed = subprocess.run(
        [sys.executable, str(RUNNER), "write:checkpoint.safetensors:2", "kill", "--", *resume],
        capture_output=True,
        timeout=300,
    )
    assert resumed.returncode == -signal.SIGKILL
    _assert_every_file_is_whole(run_dir)
    _finish(run_dir)
    _assert_same_as(run_dir, reference)


@pytest.mark.parametrize(
    ("action", "name", "status"), [("int", "SIGINT", 130), ("term", "SIGTERM", 143)]
)
def test_sigint_and_sigterm_save_and_exit_with_their_status(
    tmp_path, reference, action, name, status
):
    run_dir = tmp_path / "run"
    stopped = _run_with_fault("step:*:20", action, run_dir)
    assert stopped.returncode == status
    message = stopped.stderr.strip().splitlines()
    assert len(message) == 1 and "Traceback" not in stopped.stderr
    assert message[0].startswith(f"{name} received: saved epoch 2 at step 7 in {run_dir}")
    assert f"pyro-vae train --resume {run_dir}" in message[0]
    state = read_checkpoint(run_dir)
    assert (state["epoch"], state["step"]) == (1, 7)
    _finish(run_dir)
    _assert_same_as(run_dir, reference)


def test_a_second_training_in_the_same_directory_is_refused(tmp_path, reference, capsys):
    run_dir = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, str(RUNNER), "step:*:20", "sleep", "--", *_train_args(run_dir)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stderr is not None
        assert first.stderr.readline().strip() == "fault_runner: sleeping"
        before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
        for argv in (
            ["train", "--resume", str(run_dir), "--quiet"],
            [*_train_args(run_dir), "--overwrite"],
        ):
            assert main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert err.endswith(
                f"run directory {run_dir} is in use by another pyro-vae process (pid "
                f"{first.pid}): wait for it to finish, or choose another run directory"
            )
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    finally:
        first.kill()
        first.wait()
    _finish(run_dir)  # the lock died with its holder
    _assert_same_as(run_dir, reference)


def test_disk_full_keeps_the_last_checkpoint(tmp_path, reference, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    real_replace = os.replace
    calls = {"n": 0}

    def full_disk(src, dst, **kwargs):
        if Path(dst).name == CHECKPOINT_FILE:
            calls["n"] += 1
            if calls["n"] == 3:  # the start, epoch 1, then epoch 2 fails
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    assert main(_train_args(run_dir)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"pyro-vae train: error: cannot write {run_dir / CHECKPOINT_FILE} (No space left on "
        f"device): free disk space or choose a writable directory; the previous "
        f"{CHECKPOINT_FILE} is kept"
    )
    monkeypatch.setattr(os, "replace", real_replace)
    assert read_checkpoint(run_dir)["epoch"] == 1
    _assert_every_file_is_whole(run_dir)
    _finish(run_dir)
    _assert_same_as(run_dir, reference)


def test_an_unwritable_run_directory_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(_train_args(blocker / "run")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"pyro-vae train: error: cannot create the run directory {blocker}/run")
    assert err.endswith("choose a writable --out") and blocker.read_text() == "not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only directories")
def test_a_read_only_run_directory_is_a_clear_error(tmp_path, capsys):  # pragma: no cover
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run_dir.chmod(0o500)
    try:
        assert main(_train_args(run_dir)) == 2
        assert "choose a writable" in capsys.readouterr().err
    finally:
        run_dir.chmod(0o700)


# ---------------------------------------------------------------------------------------------
# non-finite losses and gradients


@pytest.mark.parametrize(
    ("first", "second", "problem"),
    [
        ([1.0, -2.0], [3.0], ""),
        ([1.0, math.nan], [3.0], "a gradient became non-finite"),
        ([1.0, math.inf], [3.0], "a gradient became non-finite"),
        ([1.0, -math.inf], [3.0], "a gradient became non-finite"),
        ([math.inf, -math.inf], [3.0], "a gradient became non-finite"),  # cancel to NaN
        ([math.inf, 1.0], [-math.inf], "a gradient became non-finite"),  # across tensors
        ([3e38, 3e38], [1.0], "a gradient became non-finite"),  # finite, sum beyond float32
    ],
    ids=["finite", "nan", "inf", "minus-inf", "both-infs", "infs-apart", "overflow"],
)
def test_nonfinite_problem_finds_any_bad_gradient_element(first, second, problem):
    parameters = [torch.zeros(len(first), requires_grad=True), torch.zeros(1, requires_grad=True)]
    parameters[0].grad, parameters[1].grad = torch.tensor(first), torch.tensor(second)
    no_grad = torch.zeros(2, requires_grad=True)  # a parameter without a gradient is skipped
    assert objectives.nonfinite_problem(1.0, [*parameters, no_grad]) == problem
    assert objectives.nonfinite_problem(math.nan, parameters) == "the training loss became nan"


def _poisoned_objective(monkeypatch, bad_steps: set[int], what: str) -> None:
    """Make the objective's loss (or one gradient) non-finite at the given 1-based steps."""
    real_build, real_compile = objectives.build_objective, objectives.compile_objective
    calls = {"n": 0, "compiling": False}

    def compile_objective(*args, **kwargs):  # the JIT's compile run is not a training step
        calls["compiling"] = True
        try:
            real_compile(*args, **kwargs)
        finally:
            calls["compiling"] = False

    def build(*args, **kwargs):
        objective = real_build(*args, **kwargs)
        real_loss_and_grads = objective.loss_and_grads

        def loss_and_grads(model, guide, *batch, **kwargs):
            loss = real_loss_and_grads(model, guide, *batch, **kwargs)
            if calls["compiling"]:
                return loss
            calls["n"] += 1
            if calls["n"] in bad_steps:
                if what == "loss":
                    return math.nan
                param = next(p for p in pyro.get_param_store().values() if p.grad is not None)
                param.grad.view(-1)[0] = math.inf
            return loss

        objective.loss_and_grads = loss_and_grads
        return objective

    monkeypatch.setattr(objectives, "build_objective", build)
    monkeypatch.setattr(objectives, "compile_objective", compile_objective)


@pytest.mark.parametrize(
    ("what", "problem"),
    [("loss", "the training loss became nan"), ("grad", "a gradient became non-finite")],
)
def test_a_non_finite_step_stops_training_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch, capsys, what, problem
):
    run_dir = tmp_path / "run"
    _poisoned_objective(monkeypatch, {20}, what)  # epoch 2, step 7
    before_model = None

    real_save = trainer.Trainer.save

    def save(self):
        nonlocal before_model
        real_save(self)
        before_model = (run_dir / MODEL_FILE).read_bytes()

    monkeypatch.setattr(trainer.Trainer, "save", save)
    assert main(_train_args(run_dir)) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"pyro-vae train: error: {problem} at epoch 2, step 7: lower --learning-rate, or pass "
        f"--on-nonfinite skip to skip such batches; the checkpoint of epoch 1 in {run_dir} is kept"
    )
    assert read_checkpoint(run_dir)["epoch"] == 1
    assert (run_dir / MODEL_FILE).read_bytes() == before_model  # nothing written after it
    assert all(torch.isfinite(t).all() for t in load_run(run_dir).vae.state_dict().values())


def test_skipping_non_finite_steps_counts_them_and_stays_finite(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    _poisoned_objective(monkeypatch, {5, 6, 20}, "loss")
    assert main([*_train_args(run_dir), "--on-nonfinite", "skip"]) == 0
    metrics = read_metrics(run_dir)
    assert [row["skipped_steps"] for row in metrics] == [2, 1, 0]
    assert all(math.isfinite(row["train_objective"]) for row in metrics)
    assert all(torch.isfinite(t).all() for t in load_run(run_dir).vae.state_dict().values())


def test_an_epoch_with_every_step_skipped_stops_the_run_in_one_line(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    _poisoned_objective(monkeypatch, set(range(14, 27)), "loss")  # all 13 steps of epoch 2
    assert main([*_train_args(run_dir), "--on-nonfinite", "skip"]) == 1
    assert capsys.readouterr().err.strip() == (
        "pyro-vae train: error: every step of epoch 2 was non-finite and skipped: lower "
        f"--learning-rate; the checkpoint of epoch 1 in {run_dir} is kept"
    )
    assert read_checkpoint(run_dir)["epoch"] == 1


def test_a_stopped_run_resumes_with_skipping_turned_on(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    _poisoned_objective(monkeypatch, {20}, "grad")
    with pytest.raises(FloatingPointError):
        training.train(Config.from_dict(_config_values()), run_dir)
    _poisoned_objective(monkeypatch, {7}, "grad")  # epoch 2 again: 7th step after the resume
    resumed = training.train(
        Config.from_dict({**_config_values(), "on_nonfinite": "skip"}), run_dir, resume=True
    )
    assert [row["skipped_steps"] for row in resumed.metrics] == [0, 1, 0]


def _config_values() -> dict:
    return {"epochs": 3, "latent_dim": 2, "hidden_dims": [16], "lr_decay": 0.9}
