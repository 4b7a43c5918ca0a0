"""The figures the README shows, drawn through ``pyro-vae`` commands into ``bench/figures/``.

* ``digits-samples.png`` and ``digits-manifold.png``: a VAE with a 2-D latent space trained on
  the embedded digits (``pyro-vae train --latent-dim 2``), its samples and its decoded latent grid;
* ``mnist-samples.png``: samples of the default MNIST model of ``bench/mnist_estimator_gap.py``
  (run that first: this script reuses its run directory);
* ``mnist-estimators.png``: both log P(X) estimators against K on the first ``--limit`` MNIST test
  images (``pyro-vae compare-estimators``);
* ``mnist-khat.png``: the Pareto k-hat of every test image, from the ``estimates.csv`` that
  ``bench/mnist_estimator_gap.py`` left.

Usage:
    python bench/readme_figures.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from pyro_vae.checkpoint import ESTIMATES_FILE, MODEL_FILE
from pyro_vae.cli import main as cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

FIGURES = Path(__file__).resolve().parent / "figures"


def _run(argv: list[str]) -> None:
    print("pyro-vae", " ".join(argv), flush=True)
    if cli(argv):
        sys.exit(f"pyro-vae {argv[0]} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--digits-run", default="runs/digits-2d", help="the 2-D digits run")
    parser.add_argument("--mnist-run", default="runs/mnist-default", help="the default MNIST run")
    parser.add_argument("--limit", default="500", help="MNIST test images for the K sweep")
    args = parser.parse_args()
    mnist = Path(args.mnist_run)
    if not (mnist / MODEL_FILE).is_file() or not (mnist / ESTIMATES_FILE).is_file():
        sys.exit(f"{mnist} has no evaluated model: run bench/mnist_estimator_gap.py first")
    FIGURES.mkdir(exist_ok=True)
    out = os.path.relpath(FIGURES)  # commands are recorded as they would be typed
    commands = []

    digits = ["train", "--latent-dim", "2", "--epochs", "200", "--out", args.digits_run]
    commands.append(digits)
    if Path(args.digits_run).exists():
        shutil.rmtree(args.digits_run)
    _run([*digits, "--no-plots", "--quiet"])
    for kind in ("samples", "manifold"):
        command = ["plot", args.digits_run, "--kind", kind, "-o", f"{out}/digits-{kind}.png"]
        commands.append(command)
        _run(command)

    sweep = ["compare-estimators", str(mnist), "--data-dir", args.data_dir, "--limit", args.limit]
    commands.append(sweep)
    _run(sweep)
    for kind in ("samples", "estimators", "khat"):
        command = ["plot", str(mnist), "--kind", kind, "-o", f"{out}/mnist-{kind}.png"]
        command += ["--data-dir", args.data_dir]
        commands.append(command)
        _run(command)

    save_result(
        "readme_figures",
        {
            "commands": ["pyro-vae " + " ".join(c) for c in commands],
            "figures": sorted(p.name for p in FIGURES.glob("*.png")),
        },
    )


if __name__ == "__main__":
    main()
