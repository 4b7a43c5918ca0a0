"""AIS against importance sampling on MNIST test images, and the BDMC sandwich on simulated data.

Uses the default MNIST model of ``bench/mnist_estimator_gap.py`` (run that first: this script
reuses its run directory and its per-image importance-sampling estimates with K = 5000). On the
first ``--points`` test images: AIS from the guide with each of ``--ais-steps`` intermediate
distributions (16 chains, 10 leapfrog steps); the per-image difference AIS - IS, its mean and
spread, against the image's k-hat. On as many points simulated from the model: BDMC (forward
and reverse AIS from the guide) for each of ``--bdmc-steps``. Seconds per image for each.

Usage:
    python bench/mnist_ais.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pyro_vae import load_run
from pyro_vae.ais import annealed_importance_sampling
from pyro_vae.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.evaluation import run_test_data
from pyro_vae.rundir import read_estimates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

CHAINS, LEAPFROG = 16, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--run-dir", default="runs/mnist-default", help="the default MNIST run")
    parser.add_argument("--points", type=int, default=200, help="test images (and simulated)")
    parser.add_argument("--ais-steps", default="1000", help="comma-separated T for AIS")
    parser.add_argument("--bdmc-steps", default="100,1000", help="comma-separated T for BDMC")
    parser.add_argument("--batch", type=int, default=100, help="images per AIS batch")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    x = run_test_data(run, data_dir=args.data_dir).test[: args.points]
    rows = [r for r in read_estimates(args.run_dir) if r["proposal"] == "guide"][: args.points]
    is_estimate = np.array([r["estimate"] for r in rows])
    khat = np.array([r["khat"] for r in rows])

    ais_rows = []
    for steps in (int(t) for t in args.ais_steps.split(",")):
        torch.manual_seed(0)
        started = time.perf_counter()
        parts = [
            annealed_importance_sampling(
                run.vae.model,
                run.vae.guide,
                x[s : s + args.batch],
                num_chains=CHAINS,
                num_steps=steps,
                leapfrog_steps=LEAPFROG,
                progress=sys.stderr.isatty(),
            ).estimate
            for s in range(0, x.shape[0], args.batch)
        ]
        seconds = time.perf_counter() - started
        diff = np.concatenate(parts) - is_estimate
        high = khat > 0.7
        ais_rows.append(
            {
                "num_steps": steps,
                "ais_nll": float(-np.concatenate(parts).mean()),
                "is_nll": float(-is_estimate.mean()),
                "difference_mean": float(diff.mean()),
                "difference_sd": float(diff.std(ddof=1)),
                "difference_mean_khat_above_0.7": float(diff[high].mean()) if high.any() else None,
                "difference_mean_khat_below_0.7": float(diff[~high].mean())
                if (~high).any()
                else None,
                "correlation_with_khat": float(np.corrcoef(diff, khat)[0, 1]),
                "seconds_per_image": seconds / x.shape[0],
            }
        )
        print(f"AIS T={steps}: AIS - IS {diff.mean():+.3f} nats (sd {diff.std():.3f})", flush=True)

    torch.manual_seed(1)
    sim_x, latents = simulate(run.vae.model, args.points)
    bdmc_rows = []
    for steps in (int(t) for t in args.bdmc_steps.split(",")):
        started = time.perf_counter()
        (sandwich,) = bidirectional_monte_carlo(
            run.vae.model,
            run.vae.guide,
            sim_x,
            latents,
            schedules=(steps,),
            num_chains=CHAINS,
            leapfrog_steps=LEAPFROG,
        )
        bdmc_rows.append(
            {
                "num_steps": steps,
                "lower": float(sandwich.lower.estimate.mean()),
                "upper": float(sandwich.upper.estimate.mean()),
                "gap": float(sandwich.gap.mean()),
                "gap_sd": float(sandwich.gap.std(ddof=1)),
                "seconds_per_image": (time.perf_counter() - started) / args.points,
            }
        )
        print(f"BDMC T={steps}: gap {sandwich.gap.mean():.3f} nats", flush=True)
    save_result(
        "mnist_ais",
        {
            "points": args.points,
            "chains": CHAINS,
            "leapfrog_steps": LEAPFROG,
            "importance_sampling_k": 5000,
            "ais": ais_rows,
            "bdmc": bdmc_rows,
        },
    )


if __name__ == "__main__":
    main()
