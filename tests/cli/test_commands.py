import itertools
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from pyro_vae.cli.commands import main
from pyro_vae.parts.guides import GUIDES
from pyro_vae.parts.likelihoods import LIKELIHOODS
from pyro_vae.parts.priors import PRIORS

TINY = ["--epochs", "1", "--latent-dim", "2", "--hidden-dims", "16", "--quiet", "--no-plots"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny digits run shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


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


@pytest.mark.slow  # about 13 s (CI runs it in its second step)
def test_evaluate_puts_both_estimators_side_by_side(trained, capsys):
    argv = ["evaluate", str(trained), "--num-samples", "300", "--proposal", "both"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "guide (importance sampling)" in out and "prior (naive Monte Carlo)" in out
    assert "360 points, K = 300" in out
    report = json.loads((trained / "evaluation.json").read_text())
    assert report["num_points"] == 360 and report["num_samples"] == 300
    assert report["test_elbo"] < 0
    guide, prior = report["proposals"]["guide"], report["proposals"]["prior"]
    for summary in (guide, prior):
        assert summary["log_likelihood"] >= summary["elbo"]  # Jensen, per point and on average
        assert 1 <= summary["mean_ess"] <= 300
        assert 0 <= summary["bad_khat_share"] <= 1
        assert summary["mc_standard_error"] > 0
    rows = (trained / "estimates.csv").read_text().splitlines()
    assert rows[0].startswith("index,proposal,estimate,standard_error,ess,khat")
    assert len(rows) == 1 + 2 * 360
    # the same seed gives the same numbers
    assert main([*argv, "--limit", "360", "--overwrite"]) == 0
    again = json.loads((trained / "evaluation.json").read_text())
    assert again["proposals"]["guide"]["log_likelihood"] == guide["log_likelihood"]


def test_compare_estimators_writes_a_row_per_k_and_proposal(trained, tmp_path, capsys):
    out = tmp_path / "cmp.csv"
    argv = ["compare-estimators", str(trained), "--ks", "100,1,10", "--limit", "30", "-o", str(out)]
    assert main(argv) == 0
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["num_samples", "proposal", "log_likelihood"]
    assert [tuple(line.split(",")[:2]) for line in lines[1:]] == [
        (k, p) for k in ("1", "10", "100") for p in ("guide", "prior")
    ]
    assert "on 30 points against K" in capsys.readouterr().out


def test_linear_gaussian_end_to_end_matches_the_exact_value(tmp_path, capsys):
    run = tmp_path / "lg"
    argv = ["train", "--model", "linear-gaussian", "--latent-dim", "3", "--hidden-dims", "32"]
    assert main([*argv, "--epochs", "5", "--sigma", "0.2", "--out", str(run), "--quiet"]) == 0
    settings = json.loads((run / "config.json").read_text())["settings"]
    assert settings["model"] == "linear-gaussian" and settings["likelihood"] == "gaussian"
    argv = ["evaluate", str(run), "--num-samples", "2000", "--proposal", "both", "--limit", "100"]
    assert main([*argv, "--float64"]) == 0
    assert "exact (closed form)" in capsys.readouterr().out
    report = json.loads((run / "evaluation.json").read_text())
    exact = report["exact_log_likelihood"]
    guide = report["proposals"]["guide"]
    assert abs(guide["log_likelihood"] - exact) < 4 * guide["mc_standard_error"] + 1e-3
    assert guide["elbo"] < exact
    assert main(["compare-estimators", str(run), "--ks", "10,100", "--limit", "20"]) == 0
    table = (run / "comparison.csv").read_text().splitlines()
    assert table[0].endswith("exact_log_likelihood") and len(table) == 5


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
        "--compile",
    ):
        assert option in text
    flat = " ".join(text.split())  # argparse wraps to the terminal's width
    assert "(default: 200,200)" in flat and "(default: digits)" in flat


@pytest.mark.slow  # about 13 s: a fresh process (CI runs it in its second step)
def test_console_script_end_to_end(tmp_path):
    exe = Path(sys.executable).with_name("pyro-vae")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "pyro_vae"]
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


# The digits have 17 grey levels, no bit depth: the discretized likelihoods train on 8-bit data
# in test_a_discretized_likelihood_reports_bits_per_dimension.
_GREY = [n for n in LIKELIHOODS.names() if LIKELIHOODS.trait(n, "support") != "discrete"]


@pytest.mark.parametrize(
    ("prior", "guide", "likelihood"),
    list(itertools.product(PRIORS.names(), GUIDES.names(), _GREY)),
    ids=lambda v: v,
)
def test_every_combination_trains_and_evaluates_on_digits(prior, guide, likelihood, tmp_path):
    run = str(tmp_path / "run")
    parts = ["--prior", prior, "--guide", guide, "--likelihood", likelihood]
    if prior in ("mixture", "vamp"):
        parts += ["--prior-components", "5"]
    small = ["--epochs", "1", "--latent-dim", "2", "--hidden-dims", "8"]
    small += ["--sigma", "0.3"] if likelihood.startswith("gaussian") else []  # only they read it
    assert main(["train", *parts, *small, "--out", run, "--quiet", "--no-plots"]) == 0
    assert (
        main(["evaluate", run, "--num-samples", "30", "--limit", "10", "--proposal", "both"]) == 0
    )
    report = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert np.isfinite(report["proposals"]["guide"]["log_likelihood"])


@pytest.mark.parametrize("likelihood", ["discretized-logistic", "dmol"])
def test_a_discretized_likelihood_reports_bits_per_dimension(likelihood, tmp_path, capsys):
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, size=(300, 16)) // 64 * 64  # 8-bit values, four of them used
    np.savez(tmp_path / "grey.npz", x_train=(levels / 255).astype(np.float32))
    run = str(tmp_path / "run")
    data = ["--dataset", "npz", "--data-file", str(tmp_path / "grey.npz")]
    small = ["--epochs", "2", "--latent-dim", "2", "--hidden-dims", "16"]
    small += ["--mixtures", "2"] if likelihood == "dmol" else []  # the other reads none
    argv = ["train", "--likelihood", likelihood, *data, *small, "--out", run, "--quiet"]
    assert main([*argv, "--no-plots"]) == 0
    capsys.readouterr()
    assert main(["evaluate", run, "--num-samples", "50", "--proposal", "both"]) == 0
    out = capsys.readouterr().out
    assert "bits/dim" in out
    report = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    bpd = report["bits_per_dim"]
    assert bpd["dims"] == 16
    for name, summary in report["proposals"].items():
        assert bpd["proposals"][name] == pytest.approx(summary["nll"] / (16 * np.log(2)))
        assert f"{bpd['proposals'][name]:.4f}" in out
    # a probability of the data: never above 1, so the NLL is positive
    assert all(s["nll"] > 0 for s in report["proposals"].values())


def test_conv_network_on_digits(tmp_path):
    run = str(tmp_path / "run")
    argv = ["train", "--network", "conv", "--epochs", "1", "--latent-dim", "2"]
    assert main([*argv, "--hidden-dims", "16", "--out", run, "--quiet"]) == 0
    assert main(["evaluate", run, "--num-samples", "30", "--limit", "10"]) == 0


def test_ctrl_c_outside_training_is_one_line_and_status_130(trained, monkeypatch, capsys):
    import pyro_vae.running.evaluation as evaluation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "evaluate_log_likelihood", interrupted)
    before = sorted(p.name for p in trained.iterdir())
    assert main(["evaluate", str(trained), "--overwrite"]) == 130
    err = capsys.readouterr().err
    assert err == "pyro-vae evaluate: interrupted; files written so far are whole\n"
    assert sorted(p.name for p in trained.iterdir()) == before


def test_version():
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0


def test_version_is_printed(capsys):
    from pyro_vae import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"pyro-vae {__version__}"


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (
            ["train", "--latent_dim", "2"],
            "--latent_dim 2; did you mean --latent-dim?",
        ),
        (["evaluate", "RUN", "--num-sample", "9"], "--num-sample 9; did you mean --num-samples?"),
        (["train", "--zzz"], "unrecognized arguments: --zzz (see pyro-vae train --help)"),
    ],
)
def test_a_misspelled_option_gets_a_close_match_and_the_subcommand_help(argv, hint, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"pyro-vae {argv[0]}: error: ") and hint in err
    assert f"(see pyro-vae {argv[0]} --help)" in err


def test_sample_writes_into_the_run_directory_by_default(trained, capsys):
    assert main(["sample", str(trained), "-n", "4"]) == 0
    assert (trained / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert str(trained / "samples.png") in capsys.readouterr().out


def test_evaluate_keeps_an_earlier_result_unless_asked(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY]) == 0
    assert main(["evaluate", str(run), "--num-samples", "200", "--limit", "30"]) == 0
    before = (run / "estimates.csv").read_bytes(), (run / "evaluation.json").read_bytes()
    capsys.readouterr()
    assert main(["evaluate", str(run), "--num-samples", "50", "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "holds an earlier evaluation (K = 200, 30 points)" in err and "--overwrite" in err
    assert ((run / "estimates.csv").read_bytes(), (run / "evaluation.json").read_bytes()) == before
    assert main(["evaluate", str(run), "--num-samples", "50", "--limit", "5", "--overwrite"]) == 0
    assert json.loads((run / "evaluation.json").read_text())["num_samples"] == 50


def test_unreliable_estimates_are_flagged_in_the_table_and_the_file(trained, tmp_path, capsys):
    # K = 10 fits no k-hat: nothing says the estimates converged, and the rows say so
    out = tmp_path / "cmp.csv"
    argv = ["compare-estimators", str(trained), "--ks", "10,300", "--limit", "40", "-o", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "warning: in the rows marked !" in printed
    rows = [line for line in printed.splitlines() if line.startswith("10 ")]
    assert len(rows) == 2 and all(line.split()[5] == "!" for line in rows)
    cells = (tmp_path / "cmp.csv").read_text().splitlines()
    assert cells[0].split(",")[-3:] == ["reliable", "seconds", "num_steps"]
    assert [line.split(",")[-3] for line in cells[1:3]] == ["0", "0"]


def test_ctrl_c_during_start_up_says_to_start_again(tmp_path, monkeypatch, capsys):
    import pyro_vae.running.training as training

    real = training.load_data

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "load_data", interrupted)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY]) == 130
    err = capsys.readouterr().err
    assert "nothing to resume; start it again" in err and "--resume" not in err
    monkeypatch.setattr(training, "load_data", real)
    assert main(["train", "--out", str(run), *TINY]) == 0  # the same command works


def test_evaluate_compiled_gives_the_estimates_of_evaluate_uncompiled(trained, monkeypatch):
    import pyro_vae.hardware.compiler as compiler
    from pyro_vae.storage.rundir import read_estimates

    monkeypatch.setattr(compiler, "BACKEND", "aot_eager")  # inductor's own test is slow
    ran, original = set(), compiler.PerShape.run

    def run(self, *args):
        ran.add(type(self).__name__)
        return original(self, *args)

    monkeypatch.setattr(compiler.PerShape, "run", run)
    argv = ["evaluate", str(trained), "--proposal", "all", "--num-samples", "50", "--limit", "6"]
    argv += ["--ais-steps", "5", "--ais-chains", "3", "--overwrite", "--compile"]
    rows = {}
    for mode in ("off", "torch"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no fallback to uncompiled
            assert main([*argv, mode]) == 0
        rows[mode] = read_estimates(trained)
        assert ran == (set() if mode == "off" else {"CompiledWeights", "CompiledPotential"})
    assert {r["proposal"] for r in rows["off"]} == {"guide", "prior", "ais"}
    for a, b in zip(rows["off"], rows["torch"], strict=True):
        assert (a["index"], a["proposal"]) == (b["index"], b["proposal"])
        assert b["estimate"] == pytest.approx(a["estimate"], rel=1e-5)


def test_ais_in_evaluate_and_compare_estimators_and_the_bdmc_command(tmp_path, capsys):
    from pyro_vae.storage.rundir import read_bdmc, read_comparison

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY]) == 0
    argv = ["evaluate", str(run), "--proposal", "all", "--num-samples", "100", "--limit", "10"]
    assert main([*argv, "--ais-steps", "20", "--ais-chains", "4"]) == 0
    out = capsys.readouterr().out
    assert "AIS from the guide (T = 20, 4 chains" in out
    ais = json.loads((run / "evaluation.json").read_text())["proposals"]["ais"]
    assert ais["num_steps"] == 20 and 0 < ais["acceptance"] <= 1
    assert ais["log_likelihood"] >= ais["elbo"]  # Jensen over the chains
    bdmc = ["bdmc", str(run), "--num-points", "10", "--schedules", "50,2", "--ais-chains", "4"]
    assert main(bdmc) == 0
    rows = read_bdmc(run)
    assert [r["num_steps"] for r in rows] == [2, 50]
    assert rows[1]["gap"] < rows[0]["gap"]  # the sandwich closes as the schedule grows
    assert main(["plot", str(run), "--kind", "bdmc"]) == 0
    assert main(bdmc) == 2  # an earlier table is kept unless asked
    capsys.readouterr()
    compare = ["compare-estimators", str(run), "--proposal", "all", "--ks", "10", "--limit", "10"]
    assert main([*compare, "--ais-steps", "20,5", "--ais-chains", "4"]) == 0
    out = capsys.readouterr().out
    assert "4 chains" in out and "mean test log P(X)" in out
    rows = read_comparison(run)
    assert [(r["proposal"], r["num_samples"], r["num_steps"]) for r in rows] == [
        ("guide", 10, 0),
        ("prior", 10, 0),
        ("ais", 4, 5),
        ("ais", 4, 20),
    ]
    assert rows[3]["log_likelihood"] == ais["log_likelihood"]  # the same seed and settings
    assert main(["plot", str(run), "--kind", "estimators"]) == 0


def test_ctrl_c_while_the_figures_are_drawn_says_the_run_is_complete(tmp_path, monkeypatch, capsys):
    import pyro_vae.plots.kinds as kinds

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kinds, "write_training_figures", interrupted)
    run = tmp_path / "run"
    tiny = [a for a in TINY if a != "--no-plots"]
    assert main(["train", "--out", str(run), *tiny]) == 130
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "interrupted while drawing the figures" in err[0]
    assert f"the run in {run} is complete and saved" in err[0]
    assert f"pyro-vae plot {run} --kind KIND" in err[0]
    assert main(["plot", str(run), "--kind", "samples"]) == 0  # as it says
