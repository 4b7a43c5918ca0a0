"""The catalogue of bad input: every case, the workspace it runs in, and docs/bad-input.md.

Each case is a command line (run through ``pyro_vae.cli.commands.main``) or a Python call (evaluated
as written), run in a workspace holding a trained run directory, damaged copies of it, data
files and folders. ``tests/test_bad_input.py`` runs every case and checks it; running this file
regenerates the table in ``docs/bad-input.md`` from the messages the cases really get:

    python tests/bad_input.py
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad-input.md"
#: What stands for the workspace's path in the cases and in the documented messages.
WORK = "WORK"


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv`` for the CLI or ``call`` (Python source) for the API."""

    name: str
    what: str
    argv: tuple[str, ...] = ()
    call: str = ""

    @property
    def shown(self) -> str:
        if self.call:
            return self.call
        return " ".join(["pyro-vae", *(a if " " not in a else repr(a) for a in self.argv)])


def cli(name: str, what: str, *argv: str) -> Case:
    return Case(name, what, argv=argv)


def api(name: str, what: str, call: str) -> Case:
    return Case(name, what, call=call)


RUN = f"{WORK}/run"
CASES: list[Case] = [
    # names
    cli("unknown-dataset", "a data set name", "train", "--dataset", "cifar"),
    cli("misspelt-objective", "an objective name", "train", "--objective", "elbow"),
    cli("unknown-prior", "a prior name", "train", "--prior", "gamma"),
    cli("unknown-guide", "a guide name", "train", "--guide", "flow9"),
    cli("unknown-likelihood", "a likelihood name", "train", "--likelihood", "poisson"),
    cli("unknown-network", "a network name", "train", "--network", "resnet"),
    cli("unknown-model", "a model name", "train", "--model", "pca"),
    cli("unknown-option", "an option", "train", "--latent", "3"),
    cli("unknown-nonfinite-mode", "a mode", "train", "--on-nonfinite", "ignore"),
    cli("unknown-proposal", "a proposal", "evaluate", RUN, "--proposal", "posterior"),
    cli("unknown-figure", "a figure kind", "plot", RUN, "--kind", "violin"),
    api("misspelt-setting", "a setting name", 'Config.from_dict({"latnet_dim": 2})'),
    # numbers
    cli("zero-epochs", "a count", "train", "--epochs", "0"),
    cli("negative-batch", "a count", "train", "--batch-size", "-3"),
    cli("zero-learning-rate", "a rate", "train", "--learning-rate", "0"),
    cli("growing-learning-rate", "a rate", "train", "--lr-decay", "10"),
    cli("text-for-number", "a number", "train", "--latent-dim", "many"),
    cli("huge-latent", "a size", "train", "--latent-dim", "100000000"),
    cli("ais-option-without-ais", "an option", "evaluate", RUN, "--ais-steps", "100"),
    cli("flow-layers-unread", "an option", "train", "--flow-layers", "4", "--out", f"{WORK}/new"),
    cli("sigma-unread", "an option", "train", "--sigma", "0.5", "--out", f"{WORK}/new"),
    cli("processes-zero", "an option", "evaluate", RUN, "--processes", "0"),
    cli("huge-prior", "a size", "train", "--prior", "vamp", "--prior-components", "100000"),
    cli("negative-beta", "a weight", "train", "--beta", "-1"),
    cli("validation-fraction-one", "a fraction", "train", "--validation-fraction", "1"),
    cli("negative-time-budget", "a budget", "train", "--time-budget", "-1"),
    cli("zero-samples", "a sample count", "evaluate", RUN, "--num-samples", "0"),
    cli("text-seed", "a seed", "evaluate", RUN, "--seed", "abc"),
    cli("negative-seed", "a seed", "train", "--seed", "-1"),
    cli("huge-seed", "a seed", "evaluate", RUN, "--seed", "99999999999999999999"),
    api("config-seed-out-of-range", "a seed", f'train(Config(seed=2**40), "{WORK}/new")'),
    api("config-zero-epochs", "a count", f'train(Config(epochs=0), "{WORK}/new")'),
    api("proposals-as-a-string", "proposals", f'evaluate_run("{RUN}", proposals="prior")'),
    api("limit-zero-api", "a count", f'evaluate_run("{RUN}", limit=0)'),
    api(
        "uint8-images-api",
        "data values",
        f'evaluate_run("{RUN}", x=torch.zeros(2, 64, dtype=torch.uint8), write=False)',
    ),
    cli("bad-ks", "a list of K", "compare-estimators", RUN, "--ks", "1,ten"),
    cli("sample-zero", "a count", "sample", RUN, "-n", "0"),
    cli("zero-flow-layers", "a count", "train", "--flow-layers", "0"),
    cli("zero-eval-batch", "a batch size", "evaluate", RUN, "--batch-size", "0"),
    cli("zero-limit", "a count", "evaluate", RUN, "--limit", "0"),
    cli("unknown-evaluate-compile-mode", "a mode", "evaluate", RUN, "--compile", "jit"),
    cli("ema-of-one", "a decay", "train", "--ema", "1"),
    cli("ema-weights-without-average", "a choice", "evaluate", RUN, "--weights", "ema"),
    cli(
        "negative-ais-warmup", "a count", "evaluate", RUN, "--proposal", "ais", "--ais-warmup", "-1"
    ),
    cli("plot-text-seed", "a seed", "plot", RUN, "--kind", "samples", "--seed", "x"),
    cli("huge-hidden-stack", "a size", "train", "--hidden-dims", "65536,65536,65536"),
    api("zero-epochs-api", "a count", 'Config.from_dict({"epochs": 0})'),
    api("hidden-dims-text", "a list", 'Config.from_dict({"hidden_dims": "wide"})'),
    # combinations
    cli(
        "linear-gaussian-bernoulli",
        "settings that exclude each other",
        "train",
        "--model",
        "linear-gaussian",
        "--likelihood",
        "bernoulli",
    ),
    cli(
        "components-without-mixture",
        "a setting without its part",
        "train",
        "--prior-components",
        "5",
    ),
    cli(
        "jit-with-flow",
        "a setting the part cannot follow",
        "train",
        "--compile",
        "jit",
        "--guide",
        "iaf",
    ),
    cli("unknown-compile-mode", "a mode", "train", "--compile", "yes"),
    cli(
        "compile-torch-on-m2",
        "a setting the model cannot follow",
        "train",
        "--model",
        "m2",
        "--labels",
        "100",
        "--compile",
        "torch",
    ),
    cli(
        "conv-not-square",
        "a network for the data",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/grey.npz",
        "--likelihood",
        "gaussian",
        "--network",
        "conv",
    ),
    cli(
        "resume-with-out", "options that exclude each other", "train", "--resume", RUN, "--out", RUN
    ),
    cli(
        "resume-new-model",
        "a setting a resume cannot change",
        "train",
        "--resume",
        RUN,
        "--latent-dim",
        "5",
    ),
    # paths
    cli(
        "missing-data-dir",
        "a data folder",
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        f"{WORK}/none",
    ),
    cli(
        "missing-idx-files",
        "a data folder",
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        f"{WORK}/empty",
    ),
    cli("missing-config-file", "a settings file", "train", "--config", f"{WORK}/none.toml"),
    cli("out-under-a-file", "a run directory", "train", "--out", f"{WORK}/file.txt/run"),
    cli("sample-not-png", "an output file", "sample", RUN, "-o", f"{WORK}/s.jpg"),
    cli("compare-not-csv", "an output file", "compare-estimators", RUN, "-o", f"{WORK}/c.txt"),
    cli("plot-not-png", "an output file", "plot", RUN, "--kind", "samples", "-o", f"{WORK}/s.pdf"),
    api("load-missing-run", "a run directory", f'load_run("{WORK}/none")'),
    # devices (a device that no machine has: the messages are the same everywhere)
    cli("unknown-device", "a device name", "train", "--device", "tpu", "--out", f"{WORK}/new"),
    cli("device-typo-evaluate", "a device name", "evaluate", RUN, "--device", "cuda0"),
    api("unknown-device-api", "a device name", f'load_run("{RUN}", device="gpu")'),
    api("load-config-missing", "a settings file", f'load_config_file("{WORK}/none.toml")'),
    # data
    cli("nan-data", "data values", "train", "--dataset", "npz", "--data-file", f"{WORK}/nan.npz"),
    cli(
        "out-of-range-data",
        "data values",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/big.npz",
    ),
    cli(
        "grey-for-bernoulli",
        "data for the likelihood",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/grey.npz",
        "--binarize",
        "none",
    ),
    cli(
        "grey-levels-for-dmol",
        "data for the likelihood",
        "train",
        "--likelihood",
        "dmol",
    ),
    cli(
        "binarized-for-dmol",
        "data for the likelihood",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/eight-bit.npz",
        "--likelihood",
        "dmol",
        "--binarize",
        "dynamic",
    ),
    cli("zero-mixtures", "a count", "train", "--likelihood", "dmol", "--mixtures", "0"),
    cli(
        "dequantize-off-the-levels",
        "data for the likelihood",
        "train",
        "--likelihood",
        "gaussian",
        "--dequantize",
        "on",
    ),
    cli("unknown-dequantize", "a mode name", "train", "--dequantize", "sometimes"),
    cli("five-channels", "a count", "train", "--channels", "5"),
    cli(
        "wrong-image-size",
        "data for the model",
        "evaluate",
        RUN,
        "--dataset",
        "mnist",
        "--data-dir",
        f"{WORK}/idx",
    ),
    cli(
        "continuous-bernoulli-out-of-range",
        "data for the likelihood",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/big.npz",
        "--likelihood",
        "continuous-bernoulli",
    ),
    cli(
        "npz-without-images",
        "a data file",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/nokey.npz",
    ),
    cli(
        "npy-data-file", "a data file", "train", "--dataset", "npz", "--data-file", f"{WORK}/a.npy"
    ),
    api(
        "train-on-nan-data",
        "data values",
        f'train(Config(dataset="npz", data_file="{WORK}/nan.npz"), "{WORK}/new")',
    ),
    # configs
    cli("bad-toml", "a settings file", "train", "--config", f"{WORK}/bad.toml"),
    cli("toml-unknown-key", "a settings file", "train", "--config", f"{WORK}/unknown.toml"),
    api("config-wrong-type", "config.json", f'load_run("{WORK}/wrong-type")'),
    api("config-unknown-key", "config.json", f'load_run("{WORK}/unknown-key")'),
    api("config-absurd-size", "config.json", f'load_run("{WORK}/absurd")'),
    api("config-not-json", "config.json", f'load_run("{WORK}/not-json")'),
    # run directories
    cli("existing-run", "a run directory", "train", "--out", RUN),
    cli("resume-missing", "a run directory", "train", "--resume", f"{WORK}/none"),
    cli("resume-not-a-run", "a run directory", "train", "--resume", f"{WORK}/empty"),
    cli("evaluate-missing-run", "a run directory", "evaluate", f"{WORK}/none"),
    cli("plot-missing-run", "a run directory", "plot", f"{WORK}/none", "--kind", "curves"),
    cli("pickle-weights", "an untrusted weights file", "evaluate", f"{WORK}/pickled"),
    cli("truncated-weights", "a damaged weights file", "sample", f"{WORK}/truncated"),
    cli(
        "truncated-checkpoint",
        "a damaged checkpoint",
        "train",
        "--resume",
        f"{WORK}/bad-checkpoint",
    ),
    cli("weights-of-another-model", "mismatched files", "evaluate", f"{WORK}/swapped"),
    cli("run-in-use", "a run directory in use", "train", "--resume", f"{WORK}/locked"),
    cli("plot-missing-results", "a figure's inputs", "plot", RUN, "--kind", "estimators"),
    api("train-existing-run", "a run directory", f'train(Config(epochs=1), "{RUN}")'),
    api("load-pickle", "an untrusted weights file", f'load_run("{WORK}/pickled")'),
    # what a new user tripped over
    cli(
        "npz-train-labels",
        "labels that do not fit",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/short-labels.npz",
    ),
    cli(
        "npz-test-labels",
        "labels that do not fit",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/short-test-labels.npz",
    ),
    cli(
        "npz-text-labels",
        "labels that are not integers",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/text-labels.npz",
    ),
    cli(
        "npz-test-labels-alone",
        "labels without images",
        "train",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/labels-alone.npz",
    ),
    cli(
        "data-file-for-mnist",
        "a setting the data set ignores",
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        f"{WORK}/idx",
        "--data-file",
        f"{WORK}/grey.npz",
    ),
    cli("data-dir-for-digits", "a setting the data set ignores", "train", "--data-dir", "x"),
    cli("underscore-option", "an option", "train", "--latent_dim", "2"),
    cli("hidden-dims-spaces", "a list", "train", "--hidden-dims", "200 200"),
    cli("evaluate-again", "an earlier result", "evaluate", RUN, "--num-samples", "50"),
    cli(
        "compare-onto-a-file",
        "an earlier result",
        "compare-estimators",
        RUN,
        "-o",
        f"{WORK}/old.csv",
    ),
    cli("config-extra-entry", "config.json", "evaluate", f"{WORK}/extra-entry"),
    api("evaluate-again-api", "an earlier result", f'evaluate_run("{RUN}", num_samples=50)'),
    api("zero-epochs-python", "a count", "Config(epochs=1).replace(epochs=0)"),
    cli("ais-start", "an AIS setting", "evaluate", RUN, "--proposal", "ais", "--ais-start", "mid"),
    cli("ais-steps", "an AIS setting", "evaluate", RUN, "--proposal", "ais", "--ais-steps", "0"),
    cli("bdmc-schedules", "a list of T", "bdmc", RUN, "--schedules", "100,x"),
    cli(
        "compare-ais-steps",
        "a list of T",
        "compare-estimators",
        RUN,
        "--proposal",
        "all",
        "--ais-steps",
        "100,0",
    ),
    # the semi-supervised model
    cli("labels-without-m2", "a setting without its model", "train", "--labels", "100"),
    cli("m2-without-labels", "a count", "train", "--model", "m2"),
    cli("negative-labels", "a count", "train", "--model", "m2", "--labels", "-5"),
    cli("labels-above-count", "a count", "train", "--model", "m2", "--labels", "100000"),
    cli(
        "m2-unlabelled-data",
        "data without labels",
        "train",
        "--model",
        "m2",
        "--labels",
        "10",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/unlabelled.npz",
    ),
    cli(
        "m2-negative-class",
        "labels outside 0..C-1",
        "train",
        "--model",
        "m2",
        "--labels",
        "10",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/negative-labels.npz",
    ),
    cli(
        "m2-conv",
        "settings that exclude each other",
        "train",
        "--model",
        "m2",
        "--labels",
        "100",
        "--network",
        "conv",
    ),
    # the conditional VAE
    cli("condition-without-cvae", "a setting without its model", "train", "--condition", "label"),
    cli("cvae-without-condition", "a condition kind", "train", "--model", "cvae"),
    cli(
        "quadrants-out-of-range",
        "a count",
        "train",
        "--model",
        "cvae",
        "--condition",
        "quadrants:4",
    ),
    cli(
        "unknown-prior-network",
        "a prior network name",
        "train",
        "--model",
        "cvae",
        "--condition",
        "label",
        "--prior-network",
        "wide",
    ),
    cli(
        "baseline-without-cvae",
        "a setting without its model",
        "train",
        "--baseline-epochs",
        "5",
    ),
    cli(
        "baseline-without-prior-network",
        "a part the setting needs",
        "train",
        "--model",
        "cvae",
        "--condition",
        "quadrants:2",
        "--prior-network",
        "none",
        "--baseline-epochs",
        "5",
    ),
    cli(
        "quadrants-of-vectors",
        "a condition the data cannot give",
        "train",
        "--model",
        "cvae",
        "--condition",
        "quadrants:2",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/unlabelled.npz",
    ),
    cli(
        "label-without-labels",
        "a condition the data cannot give",
        "train",
        "--model",
        "cvae",
        "--condition",
        "label",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/unlabelled.npz",
    ),
    cli(
        "arrays-missing",
        "a condition the data cannot give",
        "train",
        "--model",
        "cvae",
        "--condition",
        "arrays",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/unlabelled.npz",
    ),
    cli(
        "arrays-wrong-length",
        "condition arrays that do not fit",
        "train",
        "--model",
        "cvae",
        "--condition",
        "arrays",
        "--dataset",
        "npz",
        "--data-file",
        f"{WORK}/short-conditions.npz",
    ),
    cli("bdmc-missing-run", "a run directory", "bdmc", f"{WORK}/none"),
    cli("custom-run-cli", "a run of a user's own VAE", "evaluate", f"{WORK}/custom"),
    api("load-custom-run", "a run of a user's own VAE", f'load_run("{WORK}/custom")'),
    api(
        "resume-custom-run",
        "a run of a user's own VAE",
        f'train(None, "{WORK}/custom", resume=True)',
    ),
    api(
        "resume-with-a-model",
        "a run of registered parts",
        f'train(None, "{RUN}", resume=True, vae=build_vae(Config(), 64))',
    ),
]


class _Exploit:
    """A pickle that runs a shell command when loaded: loading it must never happen."""

    def __reduce__(self) -> tuple:
        return (os.system, ("touch PWNED",))


def make_workspace(root: Path) -> None:
    """Build everything the cases refer to inside ``root``."""
    from conftest import write_idx_folder

    from pyro_vae import Config, evaluate_run, train

    root.mkdir(parents=True, exist_ok=True)
    run = root / "run"
    train(Config(epochs=1, latent_dim=2, hidden_dims=(8,)), run)
    evaluate_run(run, num_samples=30, limit=10)  # an earlier result, to be kept
    (root / "old.csv").write_text("num_samples,proposal\n1,guide\n")
    images = np.random.default_rng(0).random((200, 4))
    np.savez(root / "short-labels.npz", x_train=images, y_train=np.zeros(10, dtype=int))
    np.savez(
        root / "short-test-labels.npz",
        x_train=images,
        x_test=images[:50],
        y_test=np.zeros(7, dtype=int),
    )
    np.savez(root / "text-labels.npz", x_train=images, y_train=np.array(["cat"] * 200))
    np.savez(root / "labels-alone.npz", x_train=images, y_test=np.zeros(50, dtype=int))
    binary = (images > 0.5).astype(np.float32)
    np.savez(root / "unlabelled.npz", x_train=binary)
    np.savez(root / "negative-labels.npz", x_train=binary, y_train=np.arange(200) % 4 - 1)
    np.savez(root / "short-conditions.npz", x_train=binary, c_train=np.zeros((150, 3)))
    (root / "empty").mkdir()
    (root / "file.txt").write_text("a file, not a folder\n")
    (root / "bad.toml").write_text("epochs = = 3\n")
    (root / "unknown.toml").write_text("epoch = 3\n")
    np.savez(root / "nan.npz", x_train=np.full((20, 4), np.nan))
    np.savez(root / "big.npz", x_train=np.full((20, 4), 5.0))
    np.savez(root / "grey.npz", x_train=np.full((20, 4), 0.5))
    np.savez(root / "eight-bit.npz", x_train=np.full((20, 4), 128 / 255, dtype=np.float32))
    np.savez(root / "nokey.npz", images=np.zeros((20, 4)))
    np.save(root / "a.npy", np.zeros((20, 4)))
    write_idx_folder(root / "idx")

    def copy(name: str) -> Path:
        shutil.copytree(run, root / name)
        return root / name

    (copy("pickled") / "model.safetensors").write_bytes(pickle.dumps({"w": _Exploit()}))
    weights = (run / "model.safetensors").read_bytes()
    (copy("truncated") / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    checkpoint = (run / "checkpoint.safetensors").read_bytes()
    (copy("bad-checkpoint") / "checkpoint.safetensors").write_bytes(checkpoint[:100])
    other = root / "other"
    train(Config(epochs=1, latent_dim=3, hidden_dims=(8,)), other)
    shutil.copy(other / "model.safetensors", copy("swapped") / "model.safetensors")
    shutil.rmtree(other)
    copy("locked")
    for name, edit in (
        ("wrong-type", lambda d: d["settings"].update(latent_dim="big")),
        ("unknown-key", lambda d: d["settings"].update(evil="rm -rf /")),
        ("absurd", lambda d: d["settings"].update(hidden_dims=[65_536] * 8)),
    ):
        path = copy(name) / "config.json"
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc, indent=2))
    (copy("not-json") / "config.json").write_text("{settings: [")
    path = copy("extra-entry") / "config.json"
    doc = json.loads(path.read_text())
    doc["hook"] = "import os"
    path.write_text(json.dumps(doc, indent=2))
    path = copy("custom") / "config.json"  # as train(..., vae=MyVAE(...)) records it
    doc = json.loads(path.read_text())
    doc["custom_model"] = "mymodels.MyVAE(prior=mymodels.MyPrior, encoder=..., likelihood=...)"
    path.write_text(json.dumps(doc, indent=2))


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones included) and a hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_case(case: Case, root: Path) -> tuple[str, str]:
    """Run one case in the workspace; return (outcome, stderr or the exception's message).

    The outcome is ``exit N`` for a command line and the exception's type (or ``no error``) for
    a Python call. The workspace path in the message is replaced by ``WORK``.
    """
    import pyro_vae
    from pyro_vae.cli.commands import main
    from pyro_vae.storage.lifecycle import locked

    err = io.StringIO()
    hold = locked(root / "locked") if case.name == "run-in-use" else contextlib.nullcontext()
    with hold, contextlib.chdir(root):
        if case.argv:
            argv = [a.replace(WORK, str(root)) for a in case.argv]
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse's own usage errors
                    code = exc.code
            outcome, message = f"exit {code}", err.getvalue()
        else:
            namespace = {name: getattr(pyro_vae, name) for name in pyro_vae.__all__}
            namespace["torch"] = sys.modules["torch"]  # for data given as tensors
            try:
                eval(case.call.replace(WORK, str(root)), namespace)
                outcome, message = "no error", ""
            except Exception as exc:
                outcome, message = type(exc).__name__, str(exc)
    message = message.replace(str(root), WORK).replace(f"(pid {os.getpid()})", "(pid PID)")
    return outcome, message.strip()


def render(results: list[tuple[Case, str, str]]) -> str:
    """The Markdown page: an introduction and one table row per case."""
    lines = [
        "# Bad input and the errors it gets",
        "",
        "Every row is a case that `tests/test_bad_input.py` runs; the message is the one it gets,",
        "word for word (`WORK` stands for the folder the cases run in, `PID` for a process id).",
        "Each command exits with status 2 and prints one line to stderr; each Python call raises",
        "`pyro_vae.InputError` (a `ValueError`) with the same message. No traceback, and no file",
        "anywhere in the folder is created, changed or removed. Regenerate this page with",
        "`python tests/bad_input.py`.",
        "",
        "| # | Bad | Input | Outcome | Message |",
        "|---|-----|-------|---------|---------|",
    ]
    for number, (case, outcome, message) in enumerate(results, 1):
        cells = [str(number), case.what, f"`{case.shown}`", outcome, message]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def read_documented() -> dict[str, tuple[str, str]]:
    """The documented outcome and message per input, parsed back from docs/bad-input.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| #"):
            continue
        cells = [c.replace("\\|", "|").strip() for c in _split_row(line)]
        rows[cells[2].strip("`")] = (cells[3], cells[4])
    return rows


def _split_row(line: str) -> list[str]:
    cells, current, i = [], "", 1
    while i < len(line) - 1:
        if line[i] == "\\" and line[i + 1] == "|":
            current += "\\|"
            i += 2
            continue
        if line[i] == "|":
            cells.append(current)
            current = ""
        else:
            current += line[i]
        i += 1
    return [*cells, current] if current.strip() else cells


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "work"
        make_workspace(root)
        results = [(case, *run_case(case, root)) for case in CASES]
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(results))
    print(f"wrote {DOC.relative_to(ROOT)}: {len(results)} cases")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
