"""The gap the tutorial predicts: naive Monte Carlo against importance sampling on MNIST.

Trains a VAE with the default settings (784-200-200-50 tanh MLPs, Bernoulli likelihood, Adam,
50 epochs, dynamic binarization) unless the run directory already holds it (an interrupted run is
resumed), then runs exactly

    pyro-vae evaluate RUN_DIR --data-dir DIR --num-samples 5000 --proposal both

on all 10,000 test images and records both estimates, their standard errors and diagnostics.

Usage:
    python bench/mnist_estimator_gap.py --data-dir ../shared/data/mnist [--run-dir runs/mnist]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pyro_vae import Config, evaluate_run, train
from pyro_vae.storage.rundir import CHECKPOINT_FILE, read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--run-dir", default="runs/mnist-default", help="the run directory")
    parser.add_argument("--num-samples", type=int, default=5000, help="K (default 5000)")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)

    start = time.perf_counter()
    if (run_dir / CHECKPOINT_FILE).exists():
        result = train(None, run_dir, resume=True, verbose=True)
    else:
        result = train(Config(dataset="mnist", data_dir=args.data_dir), run_dir, verbose=True)
    if result.interrupted:
        sys.exit("interrupted: run the same command again to resume")
    train_seconds = sum(row["seconds"] for row in read_metrics(run_dir))
    print(f"training: {len(result.metrics)} epochs ({time.perf_counter() - start:.0f} s this call)")

    report = evaluate_run(
        run_dir,
        num_samples=args.num_samples,
        proposals=("guide", "prior"),
        data={"data_dir": args.data_dir},
        overwrite=True,  # each call measures afresh
        progress=sys.stderr.isatty(),
    ).summary
    # The same evaluation from the command line, for the report:
    argv = ["evaluate", str(run_dir), "--data-dir", args.data_dir, "--proposal", "both"]
    argv += ["--overwrite"]
    guide, prior = report["proposals"]["guide"], report["proposals"]["prior"]
    gap = guide["log_likelihood"] - prior["log_likelihood"]
    save_result(
        "mnist_estimator_gap",
        {
            "evaluate_command": "pyro-vae "
            + " ".join([*argv, "--num-samples", str(args.num_samples)]),
            "training_seconds": train_seconds,
            "evaluation": report,
            "gap_nats": gap,
        },
    )
    print(
        f"mnist_estimator_gap: test NLL {guide['nll']:.2f} (guide) vs {prior['nll']:.2f} "
        f"(prior) at K = {report['num_samples']}: naive is {gap:.1f} nats too low"
    )


if __name__ == "__main__":
    main()
