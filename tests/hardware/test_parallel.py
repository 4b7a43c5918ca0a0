"""Many processes: shards, shared noise, and training under torchrun against one process.

The torchrun tests launch ``python -m torch.distributed.run --standalone --nproc-per-node 2``
on the CPU (gloo), one thread per process, and compare with one process. Weights agree to
float rounding: the gradient of the global batch is summed from two partial sums instead of
one, in float32 (about 1e-7 relative), and Adam's normalized steps carry that through a few
hundred steps to about 1e-6; ``ATOL`` leaves a margin of ten.
"""

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import RenyiELBO, Trace_ELBO, TraceMeanField_ELBO

from pyro_vae import Config, build_vae, load_run, train
from pyro_vae.hardware.parallel import SharedNoise, Workers, noise_seed
from pyro_vae.storage.rundir import read_bdmc, read_metrics

ATOL = 1e-5
TINY = ["--latent-dim", "2", "--hidden-dims", "16", "--no-plots", "--device", "cpu"]


@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_shards_split_like_tensor_split(size):
    for n in (0, 1, 5, 7, 128):
        pieces = [Workers(rank, size).bounds(n) for rank in range(size)]
        expected = [len(p) for p in torch.tensor_split(torch.arange(n), size)]
        assert [stop - start for start, stop in pieces] == expected
        assert pieces[0][0] == 0 and pieces[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))


def test_noise_seeds_name_independent_streams():
    assert noise_seed(0, 1, 2) == noise_seed(0, 1, 2)
    assert len({noise_seed(0, 1, s) for s in range(100)}) == 100
    assert noise_seed(0, 1) != noise_seed(1, 0)


def _rows(vae, x, total, start, particles):
    def guide(x):
        with pyro.plate("particles", particles, dim=-2):
            return SharedNoise(total, start)(vae.guide)(x)

    return poutine.trace(guide).get_trace(x).nodes["z"]["value"]


@pytest.mark.parametrize("guide", ["diagonal", "full", "iaf"])
def test_two_processes_draw_the_rows_one_process_draws(guide):
    vae = build_vae(Config(latent_dim=3, hidden_dims=(8,), guide=guide), data_dim=6)
    x = torch.bernoulli(torch.full((5, 6), 0.4))
    torch.manual_seed(1)
    whole = _rows(vae, x, 5, 0, particles=4)
    parts = []
    for rank in range(2):
        start, stop = Workers(rank, 2).bounds(5)
        torch.manual_seed(1)
        parts.append(_rows(vae, x[start:stop], 5, start, particles=4))
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)


@pytest.mark.parametrize(
    "objective",
    [
        Trace_ELBO(num_particles=3, vectorize_particles=True, max_plate_nesting=1),
        RenyiELBO(alpha=0.0, num_particles=3, vectorize_particles=True, max_plate_nesting=1),
        TraceMeanField_ELBO(max_plate_nesting=1),
    ],
    ids=["elbo", "iwae", "analytic-kl"],
)
@pytest.mark.parametrize("guide", ["diagonal", "full", "iaf"])
def test_the_losses_of_two_shards_add_up_to_the_loss_of_the_batch(objective, guide):
    vae = build_vae(Config(latent_dim=3, hidden_dims=(8,), guide=guide), data_dim=6)
    x = torch.bernoulli(torch.full((7, 6), 0.4))
    torch.manual_seed(2)
    whole = objective.loss(vae.model, SharedNoise(7, 0)(vae.guide), x)
    total = 0.0
    for rank in range(2):
        start, stop = Workers(rank, 2).bounds(7)
        torch.manual_seed(2)
        total += objective.loss(vae.model, SharedNoise(7, start)(vae.guide), x[start:stop])
    assert total == pytest.approx(whole, rel=1e-6)


# -- torchrun ---------------------------------------------------------------------------------


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _torchrun(*args):
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "pyro_vae",
        *args,
    ]


def _run_torchrun(*args):
    """Run ``pyro_vae ARGS`` in two processes to the end; its completed process."""
    return subprocess.run(
        _torchrun(*args),
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )


def _launch(run, settings):
    """Start a two-process training into ``run`` and return the launcher."""
    return subprocess.Popen(
        _torchrun("train", "--out", str(run), "--quiet", *settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )


def _resume(run):
    done = _run_torchrun("train", "--resume", str(run), "--quiet", "--no-plots", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-2000:]


def _weights(run_dir):
    return dict(load_run(run_dir).vae.state_dict())


def _assert_same_run(one, two):
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    a, b = _weights(one), _weights(two)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=ATOL, rtol=0, msg=name)
    for x, y in zip(read_metrics(one), read_metrics(two), strict=True):
        for key in x:
            if key != "seconds":
                assert x[key] == pytest.approx(y[key], rel=1e-6, abs=1e-6), key


def test_two_gloo_processes_train_the_weights_of_one(tmp_path):
    from pyro_vae.cli.commands import main

    settings = ["--epochs", "2", "--batch-size", "50", *TINY]  # the JIT on (default)
    assert main(["train", "--out", str(tmp_path / "one"), "--quiet", *settings]) == 0
    done = _run_torchrun("train", "--out", str(tmp_path / "two"), "--quiet", *settings)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("test ELBO") == 1  # rank 0 alone reports
    _assert_same_run(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow  # inductor compiles in every process: tens of seconds
def test_two_processes_compiled_with_torch_compile_train_the_weights_of_one(tmp_path):
    from pyro_vae.cli.commands import main

    settings = ["--epochs", "1", "--batch-size", "50", "--compile", "torch", "--quiet", *TINY]
    assert main(["train", "--out", str(tmp_path / "one"), *settings]) == 0
    done = _run_torchrun("train", "--out", str(tmp_path / "two"), *settings)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("one", "two"):
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["compile"]["mode"] == "torch", config["compile"]
        assert not config["compile"]["fell_back"]
    _assert_same_run(tmp_path / "one", tmp_path / "two")


def test_a_run_of_two_processes_resumes_in_one(tmp_path):
    settings = ["--batch-size", "50", "--objective", "iwae", "--num-particles", "3", *TINY]
    done = _run_torchrun(
        "train", "--epochs", "1", "--out", str(tmp_path / "two"), "--quiet", *settings
    )
    assert done.returncode == 0, done.stderr[-2000:]
    config = Config(
        epochs=2,
        batch_size=50,
        objective="iwae",
        num_particles=3,
        latent_dim=2,
        hidden_dims=(16,),
    )
    train(config, tmp_path / "one", device="cpu")
    train(config, tmp_path / "two", resume=True, device="cpu")
    _assert_same_run(tmp_path / "one", tmp_path / "two")


def _children(pid):
    """The worker processes of a torchrun process, by rank."""
    found = {}
    for child in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child / "stat").read_text().split()
            environ = (child / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[3]) == pid:
            for entry in environ:
                if entry.startswith(b"RANK="):
                    found[int(entry[5:])] = int(child.name)
    return found


def _wait_for_epochs(run_dir, epochs, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        metrics = run_dir / "metrics.csv"
        if metrics.exists() and len(read_metrics(run_dir)) >= epochs:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow  # two torchrun launches (CI runs them in its second step)
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_a_dead_process_stops_the_other_and_resume_finishes_the_run(tmp_path):
    settings = ["--epochs", "6", "--batch-size", "16", *TINY]
    run = tmp_path / "two"
    launcher = _launch(run, settings)
    try:
        assert _wait_for_epochs(run, 2, launcher)
        workers = _children(launcher.pid)
        assert set(workers) == {0, 1}
        os.kill(workers[1], signal.SIGKILL)  # mid-epoch: an epoch is ~90 steps
        started = time.monotonic()
        launcher.wait(timeout=120)
        waited = time.monotonic() - started
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0 and waited < 60
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers.values())
    epochs_saved = len(read_metrics(run))
    assert 2 <= epochs_saved < 6
    _resume(run)
    from pyro_vae.cli.commands import main

    assert main(["train", "--out", str(tmp_path / "one"), "--quiet", *settings]) == 0
    _assert_same_run(tmp_path / "one", run)


@pytest.mark.slow  # two torchrun launches (CI runs them in its second step)
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_sigint_to_torchrun_saves_once_and_resumes(tmp_path):
    settings = ["--epochs", "6", "--batch-size", "16", *TINY]
    run = tmp_path / "two"
    launcher = _launch(run, settings)
    try:
        assert _wait_for_epochs(run, 1, launcher)
        launcher.send_signal(signal.SIGINT)
        _, err = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    text = err.decode()
    # torchrun passes the signal on to its workers, then exits with its own error status
    assert launcher.returncode != 0
    assert text.count("SIGINT received: saved") + text.count("SIGTERM received: saved") == 1
    assert len(read_metrics(run)) < 6
    _resume(run)
    assert len(read_metrics(run)) == 6


# -- sharded evaluation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("eval") / "run"
    train(Config(latent_dim=2, hidden_dims=(16,), epochs=2), run, device="cpu")
    return run


def _estimates(run):
    return (run / "estimates.csv").read_text()


def test_each_point_has_its_own_stream_whatever_the_batch_or_subset(small_run, tmp_path):
    from pyro_vae.running.evaluation import evaluate_run

    options = {"num_samples": 50, "proposals": ("guide", "prior", "ais"), "write": False}
    options["ais"] = {"num_steps": 5, "num_chains": 3, "tuning_chains": 1}
    whole = evaluate_run(small_run, limit=30, batch_size=100, device="cpu", **options)
    part = evaluate_run(small_run, limit=12, batch_size=7, device="cpu", **options)
    for proposal, res in part.evaluation.results.items():
        expected = whole.evaluation.results[proposal].estimate[:12]
        assert res.estimate.tolist() == pytest.approx(expected.tolist(), abs=1e-5), proposal


@pytest.mark.slow  # two torchrun launches (CI runs them in its second step)
def test_two_processes_evaluate_the_estimates_of_one(small_run, tmp_path):
    from pyro_vae.cli.commands import main

    evaluate = ["--num-samples", "40", "--proposal", "all", "--ais-steps", "5", "--ais-chains"]
    evaluate += ["3", "--limit", "25", "--device", "cpu"]
    bdmc = ["--num-points", "5", "--schedules", "4", "--ais-chains", "2", "--device", "cpu"]
    for name in ("one", "two"):
        _copy_run(small_run, tmp_path / name)
    commands = {
        name: [["evaluate", str(tmp_path / name), *evaluate], ["bdmc", str(tmp_path / name), *bdmc]]
        for name in ("one", "two")
    }
    for command in commands["one"]:
        assert main(command) == 0
    for command in commands["two"]:
        done = _run_torchrun(*command)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.count("written to") == 1  # rank 0 alone reports and writes
    assert _estimates(tmp_path / "one") == _estimates(tmp_path / "two")
    for a, b in zip(read_bdmc(tmp_path / "one"), read_bdmc(tmp_path / "two"), strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == pytest.approx(
            {k: v for k, v in b.items() if k != "seconds"}, abs=1e-6
        )


def _copy_run(source, target):
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
