"""AIS against importance sampling on MNIST test images, and the BDMC sandwich on simulated data.

``--model default`` uses the default MNIST model of ``bench/mnist_estimator_gap.py`` and
``--model best`` the best row of ``bench/mnist_nll.py`` (run those first: this script reuses
their run directories and the per-image estimates of ``pyro-vae evaluate`` with K = 5000; an
estimator the run's ``estimates.csv`` lacks is computed here on the same images). On the first
``--points`` test images: AIS from the guide with each of ``--ais-steps`` intermediate
distributions (16 weighted and 4 tuning chains, 10 leapfrog steps), beside importance sampling
with the guide and naive Monte Carlo with the prior on the same images; the per-image difference
AIS - IS, its mean and spread, against the image's k-hat. On ``--bdmc-points`` points simulated
from the model: BDMC (forward AIS from the guide, reverse AIS from the latents that generated
them) for each of ``--bdmc-steps``. Seconds per image for each estimator. Results go to
``bench/results/mnist_ais.json`` (default model) or ``mnist_ais_best.json``.

The script is restartable: every batch's per-image results are kept in ``--cache-dir`` (named by
the estimator's settings, with the commit that computed them), and each batch is seeded by its
schedule length and first index, so running the same command again after an interruption
continues where it stopped and gives the same numbers.

Usage:
    python bench/mnist_ais.py --data-dir ../shared/data/mnist [--model default|best]
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
from pyro_vae.estimate.ais import annealed_importance_sampling
from pyro_vae.estimate.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.estimate.dataset import estimate_dataset
from pyro_vae.storage.rundir import read_estimates, read_evaluation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save_result

CHAINS, TUNING, LEAPFROG = 16, 4, 10
NUM_SAMPLES = 5000
#: what the cache files of a batch are named by: a change of estimator settings recomputes
SETTINGS = f"c{CHAINS}t{TUNING}l{LEAPFROG}"
#: --model -> (run directory, results file, how BENCHMARKS.md names the model)
MODELS = {
    "default": (
        "runs/mnist-default",
        "mnist_ais",
        "The default MNIST model of the estimator-gap section",
    ),
    "best": (
        "runs/mnist-nll/best",
        "mnist_ais_best",
        "The best model of the likelihood table (row `best`)",
    ),
}


def _cached(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored at ``path``, computed (and stored, atomically) the first time."""
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    arrays = {**compute(), "commit": np.array(machine()["commit"] or "unknown")}
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
        tuning_chains=TUNING,
        num_steps=steps,
        leapfrog_steps=LEAPFROG,
        progress=sys.stderr.isatty(),
    )
    return {
        "estimate": result.estimate,
        "seconds": np.array(time.perf_counter() - started),
    }


def _estimator_batch(run, x: torch.Tensor, proposal: str) -> dict[str, np.ndarray]:
    """Importance sampling (``guide``) or naive Monte Carlo (``prior``) with K = 5000."""
    torch.manual_seed(7)
    started = time.perf_counter()
    result = estimate_dataset(run.vae.model, run.vae.guide, x, NUM_SAMPLES, proposal=proposal)
    return {
        "estimate": result.estimate,
        "khat": result.khat,
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
        tuning_chains=TUNING,
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
    parser.add_argument("--model", choices=list(MODELS), default="default", help="which model")
    parser.add_argument("--run-dir", help="its run directory (default: where its bench keeps it)")
    parser.add_argument("--points", type=int, default=200, help="test images")
    parser.add_argument("--ais-steps", default="1000,10000", help="comma-separated T for AIS")
    parser.add_argument("--bdmc-points", type=int, default=50, help="simulated points")
    parser.add_argument("--bdmc-steps", default="100,1000,10000", help="comma-separated T")
    parser.add_argument("--batch", type=int, default=50, help="test images per AIS batch")
    parser.add_argument("--bdmc-batch", type=int, default=25, help="simulated points per batch")
    parser.add_argument(
        "--cache-dir", help="per-batch results (default: runs/mnist-ais-cache/MODEL)"
    )
    args = parser.parse_args()
    measured_on = machine()  # before hours of running: the commit measured, not the one after
    default_run, result_name, description = MODELS[args.model]
    run_dir = Path(args.run_dir or default_run)
    cache = Path(args.cache_dir or f"runs/mnist-ais-cache/{args.model}")
    cache.mkdir(parents=True, exist_ok=True)
    run = load_run(run_dir)
    x = run.load_data(data_dir=args.data_dir).test[: args.points]
    stored = read_estimates(run_dir)
    evaluation = read_evaluation(run_dir) or {}
    estimates, khats, seconds_per_image, sources = {}, {}, {}, {}
    for proposal in ("guide", "prior"):
        rows = [r for r in stored if r["proposal"] == proposal][: args.points]
        entry = evaluation.get("proposals", {}).get(proposal)
        usable = entry and "seconds" in entry and evaluation.get("num_samples") == NUM_SAMPLES
        if len(rows) == args.points and usable:
            estimates[proposal] = np.array([r["estimate"] for r in rows])
            khats[proposal] = np.array([r["khat"] for r in rows])
            seconds_per_image[proposal] = entry["seconds"] / entry["num_points"]
            sources[proposal] = "evaluate"
            continue
        computed = _cached(
            cache / f"{proposal}-{NUM_SAMPLES}-{args.points}.npz",
            lambda proposal=proposal: _estimator_batch(run, x, proposal),
        )
        estimates[proposal], khats[proposal] = computed["estimate"], computed["khat"]
        seconds_per_image[proposal] = float(computed["seconds"]) / args.points
        sources[proposal] = "computed"
    is_estimate, naive, khat = estimates["guide"], estimates["prior"], khats["guide"]

    commits: set[str] = set()
    ais_rows = []
    for steps in (int(t) for t in args.ais_steps.split(",")):
        batches = [
            _cached(
                cache / f"ais-{steps}-{SETTINGS}-{s}-{args.batch}.npz",
                lambda s=s, steps=steps: _ais_batch(run, x[s : s + args.batch], steps, s),
            )
            for s in range(0, x.shape[0], args.batch)
        ]
        commits.update(str(b.get("commit", "unknown")) for b in batches)
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
                cache / f"bdmc-{steps}-{SETTINGS}-{s}-{args.bdmc_batch}.npz",
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
        commits.update(str(b.get("commit", "unknown")) for b in batches)
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
        result_name,
        {
            "label": args.model,
            "model": description,
            "run_dir": run_dir.as_posix(),
            "points": args.points,
            "bdmc_points": args.bdmc_points,
            "chains": CHAINS,
            "tuning_chains": TUNING,
            "leapfrog_steps": LEAPFROG,
            "importance_sampling_k": NUM_SAMPLES,
            "is_nll": float(-is_estimate.mean()),
            "is_seconds_per_image": seconds_per_image["guide"],
            "naive_nll": float(-naive.mean()),
            "naive_seconds_per_image": seconds_per_image["prior"],
            "estimates_from": sources,
            # the commits that computed the cached batches (a restart may span several)
            "computed_at_commits": sorted(commits),
            "mean_khat": float(khat.mean()),
            "khat_above_0.7": float((khat > 0.7).mean()),
            "ais": ais_rows,
            "bdmc": bdmc_rows,
        },
        measured_on,
    )


if __name__ == "__main__":
    main()
