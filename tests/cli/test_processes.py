"""``--processes N``: torchrun's launcher started by the command, with one-line failures."""

import os
import subprocess
import sys

import pytest
import torch

from pyro_vae import load_run
from pyro_vae.cli.commands import main as full
from pyro_vae.cli.launch import main
from pyro_vae.cli.processes import without_processes

TINY = ["--latent-dim", "2", "--hidden-dims", "16", "--no-plots", "--device", "cpu", "--quiet"]


def _pyro_vae(*args):
    return subprocess.run(
        [sys.executable, "-m", "pyro_vae", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
    )


def test_each_process_runs_the_command_without_the_option():
    assert without_processes(["train", "--processes=2", "--out", "a"]) == ["train", "--out", "a"]
    assert without_processes(["evaluate", "r", "--processes", "3"]) == ["evaluate", "r"]


@pytest.mark.parametrize("value", ["0", "two"])
def test_a_bad_count_is_one_line_before_any_process_starts(value, capsys):
    assert main(["train", "--processes", value]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"pyro-vae train: error: --processes must be a positive integer, got {value!r}: "
        "pass e.g. --processes 2\n"
    )


def test_under_torchrun_the_option_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "0")
    assert main(["evaluate", "runs/x", "--processes", "2"]) == 2
    assert "leave it out under torchrun" in capsys.readouterr().err


def test_a_bad_input_the_processes_find_is_their_one_line_and_status_2(tmp_path):
    # --sigma is read by no Bernoulli part: train() itself refuses it, in every process
    done = _pyro_vae("train", "--processes", "2", "--sigma", "0.5", "--out", str(tmp_path / "r"))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "pyro-vae train: error: --sigma 0.5 is read by none"
    ), lines
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # two launches of two processes
def test_two_processes_train_the_run_of_one_and_evaluate_it(tmp_path):
    settings = ["--epochs", "2", "--batch-size", "50", *TINY]
    assert full(["train", "--out", str(tmp_path / "one"), *settings]) == 0
    done = _pyro_vae("train", "--processes", "2", "--out", str(tmp_path / "two"), *settings)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("test ELBO") == 1  # rank 0 alone reports
    assert "OMP_NUM_THREADS" not in done.stderr  # the launcher's warnings are not shown
    one, two = load_run(tmp_path / "one").vae, load_run(tmp_path / "two").vae
    for name, value in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[name], value, atol=1e-5, rtol=0)
    done = _pyro_vae("evaluate", str(tmp_path / "two"), "--processes", "2", "--num-samples", "20")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("test log P(X)") == 1


@pytest.mark.parametrize(
    ("exitcode", "status", "said"),
    [
        (-9, 137, "the process of rank 1 was killed by SIGKILL; the others were stopped"),
        (-77, 205, "the process of rank 1 was killed by signal 77; the others were stopped"),
        (1, 1, "the process of rank 1 failed with exit status 1; the others were stopped"),
        (2, 2, ""),  # the process said it (rank 0's line)
        (130, 130, ""),
    ],
)
def test_a_failed_process_is_one_line_and_its_status(exitcode, status, said, monkeypatch, capsys):
    import torch.distributed.run as launcher
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    from pyro_vae.cli.processes import run_processes
    from pyro_vae.running.interrupts import PROCESSES_VARIABLE

    def failed(config):
        assert (config.module, config.training_script) == (True, "pyro_vae")
        assert config.nproc_per_node == "2" and config.standalone
        assert config.training_script_args == ["evaluate", "r", "--limit", "5"]
        failure = ProcessFailure(local_rank=1, pid=1, exitcode=exitcode, error_file="<N/A>")
        raise ChildFailedError("pyro_vae", {1: failure})

    monkeypatch.setattr(launcher, "run", failed)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # (restored after the test, as below)
    monkeypatch.setenv(PROCESSES_VARIABLE, "0")
    assert run_processes(["evaluate", "r", "--limit", "5"], 2) == status
    err = capsys.readouterr().err
    assert err == (f"pyro-vae evaluate: {said}\n" if said else "")


def test_a_signal_to_the_launcher_is_passed_on_and_its_status_returned(monkeypatch, capsys):
    import signal

    import torch.distributed.run as launcher
    from torch.distributed.elastic.multiprocessing.api import SignalException

    from pyro_vae.cli.processes import run_processes
    from pyro_vae.running.interrupts import PROCESSES_VARIABLE

    def stopped(config):
        raise SignalException("Process got signal: 2", sigval=signal.SIGINT)

    monkeypatch.setattr(launcher, "run", stopped)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv(PROCESSES_VARIABLE, "0")
    assert run_processes(["train"], 2) == 130
    assert capsys.readouterr().err == ""  # the processes say where they saved
