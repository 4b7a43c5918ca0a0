"""Standard normal against VampPrior, diagonal against IAF guide, at equal training time on MNIST.

Trains the four combinations (prior x guide) with the default architecture and settings
(optionally with a linear KL warm-up, ``--warmup-epochs``), and the same wall-clock budget
each (``--time-budget``: training stops after the epoch in which the budget runs out). Then it
estimates the test log-likelihood of each by importance sampling with K = 5000 samples per
image on the first ``--limit`` test images (the same images for all four) through
``pyro-vae evaluate``. Differences to the baseline are paired per image, which makes their
standard errors much smaller than those of the NLLs themselves.

Run directories are kept under ``--runs``; rerunning the script resumes or reuses them.

Usage:
    python bench/mnist_components.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pyro_vae import Config, evaluate_run, train
from pyro_vae.storage.rundir import CHECKPOINT_FILE, read_estimates, read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

COMBINATIONS = [
    ("standard-normal", "diagonal"),
    ("vamp", "diagonal"),
    ("standard-normal", "iaf"),
    ("vamp", "iaf"),
]


def _per_image(run_dir: Path) -> np.ndarray:
    rows = read_estimates(run_dir)
    return np.array([r["estimate"] for r in rows if r["proposal"] == "guide"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/components", help="where the runs are kept")
    parser.add_argument("--time-budget", type=float, default=180.0, help="seconds per model")
    parser.add_argument("--components", type=int, default=500, help="VampPrior pseudo-inputs")
    parser.add_argument(
        "--warmup-epochs",
        type=float,
        default=0.0,
        help="linear KL warm-up in epochs, the same for every model (default: none)",
    )
    parser.add_argument("--limit", type=int, default=2000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=5000, help="K")
    args = parser.parse_args()

    rows, baseline = [], None
    for prior, guide in COMBINATIONS:
        run_dir = Path(args.runs) / f"{prior}-{guide}"
        config = Config(
            dataset="mnist",
            data_dir=args.data_dir,
            prior=prior,
            guide=guide,
            prior_components=args.components if prior == "vamp" else None,
            epochs=10_000,
            warmup_epochs=args.warmup_epochs,
            time_budget=args.time_budget,
        )
        resume = (run_dir / CHECKPOINT_FILE).exists()
        train(config if not resume else None, run_dir, resume=resume, verbose=True)
        evaluation = evaluate_run(
            run_dir,
            num_samples=args.num_samples,
            limit=args.limit,
            data={"data_dir": args.data_dir},
            overwrite=True,  # each call measures afresh
            progress=sys.stderr.isatty(),
        )
        report = evaluation.summary["proposals"]["guide"]
        metrics = read_metrics(run_dir)
        estimates = _per_image(run_dir)
        if baseline is None:
            baseline = estimates
        diff = estimates - baseline
        rows.append(
            {
                "prior": prior,
                "guide": guide,
                "prior_components": config.prior_components,
                "epochs": len(metrics),
                "training_seconds": sum(r["seconds"] for r in metrics),
                "nll": report["nll"],
                "mc_standard_error": report["mc_standard_error"],
                "data_standard_error": report["data_standard_error"],
                "elbo": report["elbo"],
                "mean_ess": report["mean_ess"],
                "bad_khat_share": report["bad_khat_share"],
                "gain_vs_baseline": float(diff.mean()),
                "gain_standard_error": float(diff.std(ddof=1) / np.sqrt(diff.size))
                if np.any(diff)
                else 0.0,
            }
        )
        print(
            f"{prior:>15} + {guide:<8}  NLL {report['nll']:.2f} "
            f"+- {report['mc_standard_error']:.3f}"
        )
    save_result(
        "mnist_components",
        {
            "time_budget": args.time_budget,
            "warmup_epochs": args.warmup_epochs,
            "num_points": args.limit,
            "num_samples": args.num_samples,
            "rows": rows,
        },
    )
    best = min(rows, key=lambda r: r["nll"])
    print(
        f"mnist_components: best {best['prior']} + {best['guide']} at {best['nll']:.2f} nats "
        f"({best['gain_vs_baseline']:+.2f} +- {best['gain_standard_error']:.2f} against "
        f"standard-normal + diagonal) with {args.time_budget:.0f} s of training each"
    )


if __name__ == "__main__":
    main()
