"""AIS against importance sampling on MNIST test images, and the BDMC sandwich on simulated data.

Uses the default MNIST model of ``bench/mnist_estimator_gap.py`` (run that first: this script
reuses its run directory and the per-image estimates of ``pyro-vae evaluate --proposal both``
with K = 5000). On the first ``--points`` test images: AIS from the guide with each of
``--ais-steps`` intermediate distributions (16 chains, 10 leapfrog steps), beside importance
sampling with the guide and naive Monte Carlo with the prior on the same images; the per-image
difference AIS - IS, its mean and spread, against the image's k-hat. On ``--bdmc-points``
points simulated from the model: BDMC (forward AIS from the guide, reverse AIS from the latents
that generated them) for each of ``--bdmc-steps``. Seconds per image for each estimator.

The script is restartable: every batch's per-image results are kept in ``--cache-dir``, and each
batch is seeded by its schedule length and first index, so running the same command again after
an interruption continues where it stopped and gives the same numbers.

Usage:
    python bench/mnist_ais.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pyro_vae import load_run
from pyro_vae.ais import annealed_importance_sampling
from pyro_vae.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.evaluation import run_test_data
from pyro_vae.rundir import read_estimates, read_evaluation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save_result

CHAINS, LEAPFROG = 16, 10


def _cached(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored at ``path``, computed (and stored, atomically) the first time."""
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    arrays = compute()
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)
    return arrays


def _ais_batch(run, x: torch.Tensor, steps: int, start: int) -> dict[str, np.ndarray]:
    torch.manual_seed(steps * 100_003 + start)
    started = time.perf_counter()
    result = annealed_importance_sampling(
        run.vae.model,
        run.vae.guide,
        x,
        num_chains=CHAINS,
        num_steps=steps,
        leapfrog_steps=LEAPFROG,
        progress=sys.stderr.isatty(),
    )
    return {
        "estimate": result.estimate,
        "seconds": np.array(time.perf_counter() - started),
    }


def _bdmc_batch(run, x: torch.Tensor, latents, steps: int, start: int) -> dict[str, np.ndarray]:
    torch.manual_seed(steps * 100_003 + start + 1)
    started = time.perf_counter()
    (sandwich,) = bidirectional_monte_carlo(
        run.vae.model,
        run.vae.guide,
        x,
        latents,
        schedules=(steps,),
        num_chains=CHAINS,
        leapfrog_steps=LEAPFROG,
        progress=sys.stderr.isatty(),
    )
    return {
        "lower": sandwich.lower.estimate,
        "upper": sandwich.upper.estimate,
        "seconds": np.array(time.perf_counter() - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--run-dir", default="runs/mnist-default", help="the default MNIST run")
    parser.add_argument("--points", type=int, default=200, help="test images")
    parser.add_argument("--ais-steps", default="1000,10000", help="comma-separated T for AIS")
    parser.add_argument("--bdmc-points", type=int, default=50, help="simulated points")
    parser.add_argument("--bdmc-steps", default="100,1000,10000", help="comma-separated T")
    parser.add_argument("--batch", type=int, default=50, help="test images per AIS batch")
    parser.add_argument("--bdmc-batch", type=int, default=25, help="simulated points per batch")
    parser.add_argument("--cache-dir", default="runs/mnist-ais-cache", help="per-batch results")
    args = parser.parse_args()
    measured_on = machine()  # before hours of running: the commit measured, not the one after
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    run = load_run(args.run_dir)
    x = run_test_data(run, data_dir=args.data_dir).test[: args.points]
    stored = read_estimates(args.run_dir)
    by_proposal = {
        p: np.array([r["estimate"] for r in stored if r["proposal"] == p][: args.points])
        for p in ("guide", "prior")
    }
    is_estimate, naive = by_proposal["guide"], by_proposal["prior"]
    khat = np.array([r["khat"] for r in stored if r["proposal"] == "guide"][: args.points])
    evaluation = read_evaluation(args.run_dir) or {}
    proposals = evaluation.get("proposals", {})

    def seconds_per_image(proposal: str) -> float | None:
        entry = proposals.get(proposal)
        return entry["seconds"] / entry["num_points"] if entry and "seconds" in entry else None

    ais_rows = []
    for steps in (int(t) for t in args.ais_steps.split(",")):
        batches = [
            _cached(
                cache / f"ais-{steps}-{s}-{args.batch}.npz",
                lambda s=s, steps=steps: _ais_batch(run, x[s : s + args.batch], steps, s),
            )
            for s in range(0, x.shape[0], args.batch)
        ]
        estimate = np.concatenate([b["estimate"] for b in batches])
        seconds = sum(float(b["seconds"]) for b in batches)
        diff = estimate - is_estimate
        high = khat > 0.7
        ais_rows.append(
            {
                "num_steps": steps,
                "ais_nll": float(-estimate.mean()),
                "difference_mean": float(diff.mean()),
                "difference_sd": float(diff.std(ddof=1)),
                "difference_se": float(diff.std(ddof=1) / np.sqrt(diff.size)),
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
    sim_x, latents = simulate(run.vae.model, args.bdmc_points)
    bdmc_rows = []
    for steps in (int(t) for t in args.bdmc_steps.split(",")):
        batches = [
            _cached(
                cache / f"bdmc-{steps}-{s}-{args.bdmc_batch}.npz",
                lambda s=s, steps=steps: _bdmc_batch(
                    run,
                    sim_x[s : s + args.bdmc_batch],
                    {k: v[s : s + args.bdmc_batch] for k, v in latents.items()},
                    steps,
                    s,
                ),
            )
            for s in range(0, sim_x.shape[0], args.bdmc_batch)
        ]
        lower = np.concatenate([b["lower"] for b in batches])
        upper = np.concatenate([b["upper"] for b in batches])
        gap = upper - lower
        bdmc_rows.append(
            {
                "num_steps": steps,
                "lower": float(lower.mean()),
                "upper": float(upper.mean()),
                "gap": float(gap.mean()),
                "gap_sd": float(gap.std(ddof=1)),
                "gap_max": float(gap.max()),
                "seconds_per_image": sum(float(b["seconds"]) for b in batches) / sim_x.shape[0],
            }
        )
        print(f"BDMC T={steps}: gap {gap.mean():.3f} nats", flush=True)
    save_result(
        "mnist_ais",
        {
            "points": args.points,
            "bdmc_points": args.bdmc_points,
            "chains": CHAINS,
            "leapfrog_steps": LEAPFROG,
            "importance_sampling_k": int(evaluation.get("num_samples", 5000)),
            "is_nll": float(-is_estimate.mean()),
            "is_seconds_per_image": seconds_per_image("guide"),
            "naive_nll": float(-naive.mean()) if naive.size else None,
            "naive_seconds_per_image": seconds_per_image("prior"),
            "mean_khat": float(khat.mean()),
            "khat_above_0.7": float((khat > 0.7).mean()),
            "ais": ais_rows,
            "bdmc": bdmc_rows,
        },
        measured_on,
    )


if __name__ == "__main__":
    main()
