"""The figures the README shows, drawn into ``bench/figures/`` through the Python API.

Each step is what one ``pyro-vae`` command does (the same functions, the same defaults and
seeds); the results file records those commands, so any figure can be redrawn by hand.

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

from pyro_vae import Config, compare_run, load_run, train
from pyro_vae.plots.kinds import FigureSource, draw_figure, save_figure
from pyro_vae.storage.rundir import MODEL_FILE, read_estimates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

FIGURES = Path(__file__).resolve().parent / "figures"


def _plot(run_dir: str, kind: str, output: str, data_dir: str | None = None) -> list[str]:
    """Draw one figure as ``pyro-vae plot`` does; return that command."""
    run = load_run(run_dir)

    def load_test() -> tuple:
        splits = run.load_data(data_dir=data_dir)
        return splits.test, splits.y_test

    save_figure(draw_figure(kind, FigureSource(run, load_test), seed=0), Path(output))
    command = ["plot", run_dir, "--kind", kind, "-o", output]
    command += ["--data-dir", data_dir] if data_dir else []
    print("pyro-vae", " ".join(command), flush=True)
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--digits-run", default="runs/digits-2d", help="the 2-D digits run")
    parser.add_argument("--mnist-run", default="runs/mnist-default", help="the default MNIST run")
    parser.add_argument("--limit", default="500", help="MNIST test images for the K sweep")
    args = parser.parse_args()
    mnist = Path(args.mnist_run)
    if not (mnist / MODEL_FILE).is_file():
        sys.exit(f"{mnist} has no model: run bench/mnist_estimator_gap.py first")
    try:
        read_estimates(mnist)
    except Exception:
        sys.exit(f"{mnist} has not been evaluated: run bench/mnist_estimator_gap.py first")
    FIGURES.mkdir(exist_ok=True)
    out = os.path.relpath(FIGURES)  # commands are recorded as they would be typed
    commands = []

    commands.append(["train", "--latent-dim", "2", "--epochs", "200", "--out", args.digits_run])
    print("pyro-vae", " ".join(commands[-1]), flush=True)
    if Path(args.digits_run).exists():
        shutil.rmtree(args.digits_run)
    train(Config(latent_dim=2, epochs=200), args.digits_run)
    for kind in ("samples", "manifold"):
        commands.append(_plot(args.digits_run, kind, f"{out}/digits-{kind}.png"))

    sweep = ["compare-estimators", str(mnist), "--data-dir", args.data_dir, "--limit", args.limit]
    sweep += ["--overwrite"]
    commands.append(sweep)
    print("pyro-vae", " ".join(sweep), flush=True)
    compare_run(mnist, limit=int(args.limit), data={"data_dir": args.data_dir}, overwrite=True)
    for kind in ("samples", "estimators", "khat"):
        commands.append(_plot(str(mnist), kind, f"{out}/mnist-{kind}.png", args.data_dir))

    save_result(
        "readme_figures",
        {
            "commands": ["pyro-vae " + " ".join(c) for c in commands],
            "figures": sorted(p.name for p in FIGURES.glob("*.png")),
        },
    )


if __name__ == "__main__":
    main()
