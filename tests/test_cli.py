import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyro_vae.cli import main

TINY = ["--epochs", "1", "--latent-dim", "2", "--hidden-dims", "16", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny digits run shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_train_writes_a_complete_run_directory(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.json", "model.safetensors", "checkpoint.safetensors", "metrics.csv"} <= names
    settings = json.loads((trained / "config.json").read_text())["settings"]
    assert settings["epochs"] == 1 and settings["hidden_dims"] == [16] and settings["seed"] == 0
    header = (trained / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {
        "epoch",
        "train_objective",
        "val_elbo",
        "val_kl",
        "val_reconstruction",
        "seconds",
    } <= set(header)


def test_evaluate_prints_the_test_elbo(trained, capsys):
    assert main(["evaluate", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "test ELBO" in out and "360 test points" in out
    report = json.loads((trained / "evaluation.json").read_text())
    assert report["num_points"] == 360 and report["test_elbo"] < 0


def test_sample_writes_a_png(trained, tmp_path):
    out = tmp_path / "s.png"
    assert main(["sample", str(trained), "-n", "16", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_config_file_and_overrides(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("epochs = 5\nlatent_dim = 2\nhidden_dims = [8]\n")
    assert (
        main(
            [
                "train",
                "--config",
                str(cfg),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 0
    )
    settings = json.loads((tmp_path / "r/config.json").read_text())["settings"]
    assert settings["epochs"] == 1 and settings["hidden_dims"] == [8]


def test_resume_from_the_command_line(tmp_path):
    run = tmp_path / "r"
    assert main(["train", "--out", str(run), *TINY]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert len((run / "metrics.csv").read_text().splitlines()) == 3


def test_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--latent-dim",
        "--objective",
        "--binarize",
        "--warmup-epochs",
        "--early-stopping",
        "--jit",
    ):
        assert option in text
    assert "(default: 200,200)" in text and "(default: digits)" in text


def _npz(tmp_path, name, array):
    path = tmp_path / name
    np.savez(path, x_train=array)
    return str(path)


BAD_INPUTS = {
    "unknown-dataset": (["train", "--dataset", "cifar"], "unknown dataset 'cifar'"),
    "unknown-objective": (["train", "--objective", "elbow"], "unknown objective 'elbow'"),
    "unknown-prior": (["train", "--prior", "gamma"], "unknown prior 'gamma'"),
    "unknown-guide": (["train", "--guide", "flow9"], "unknown guide 'flow9'"),
    "unknown-likelihood": (["train", "--likelihood", "poisson"], "unknown likelihood 'poisson'"),
    "missing-data-dir": (
        ["train", "--dataset", "mnist", "--data-dir", "{tmp}/none"],
        "does not exist",
    ),
    "missing-idx-files": (
        ["train", "--dataset", "mnist", "--data-dir", "{tmp}"],
        "is missing from",
    ),
    "nan-data": (["train", "--dataset", "npz", "--data-file", "{nan}"], "NaN or infinite"),
    "out-of-range": (["train", "--dataset", "npz", "--data-file", "{big}"], "needs [0, 1]"),
    "grey-for-bernoulli": (
        ["train", "--dataset", "npz", "--data-file", "{grey}", "--binarize", "none"],
        "--binarize dynamic",
    ),
    "zero-epochs": (["train", "--epochs", "0"], "epochs must be a positive integer"),
    "negative-batch": (["train", "--batch-size", "-3"], "batch_size must be a positive integer"),
    "zero-learning-rate": (["train", "--learning-rate", "0"], "learning_rate must be positive"),
    "text-for-number": (["train", "--latent-dim", "many"], "latent_dim must be an integer"),
    "existing-run": (["train", "--out", "{run}"], "already holds a run"),
    "resume-missing": (["train", "--resume", "{tmp}/none"], "does not exist"),
    "wrong-image-size": (
        ["evaluate", "{run}", "--dataset", "mnist", "--data-dir", "{idx}"],
        "takes 64 values per datapoint",
    ),
    "corrupt-weights": (["evaluate", "{corrupt}"], "not a valid safetensors"),
    "sample-zero": (["sample", "{run}", "-n", "0"], "positive integer"),
    "sample-not-png": (["sample", "{run}", "-o", "{tmp}/s.jpg"], "must end in .png"),
    "unknown-option": (["train", "--latent", "3"], "unrecognized arguments"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_gets_one_line_exit_2_and_changes_nothing(
    case, tmp_path, trained, idx_dir, capsys, monkeypatch
):
    import shutil

    monkeypatch.chdir(tmp_path)

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(trained, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 40)
    subs = {
        "tmp": str(tmp_path),
        "run": str(run),
        "corrupt": str(corrupt),
        "idx": str(idx_dir),
        "nan": _npz(tmp_path, "nan.npz", np.full((20, 4), np.nan)),
        "big": _npz(tmp_path, "big.npz", np.full((20, 4), 5.0)),
        "grey": _npz(tmp_path, "grey.npz", np.full((20, 4), 0.5)),
    }
    argv, needle = BAD_INPUTS[case]
    before = {d: _snapshot(d) for d in (run, corrupt)}
    capsys.readouterr()
    try:
        code = main([a.format(**subs) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert {d: _snapshot(d) for d in (run, corrupt)} == before
    assert not (tmp_path / "runs").exists()  # a refused run leaves no run directory behind


def test_console_script_end_to_end(tmp_path):
    exe = Path(sys.executable).with_name("pyro-vae")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "pyro_vae.cli"]
    done = subprocess.run(
        [*command, "train", "--out", str(tmp_path / "r"), *TINY],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "test ELBO" in done.stdout
    bad = subprocess.run(
        [*command, "train", "--epochs", "-1"], capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
