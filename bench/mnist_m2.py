"""M2 on MNIST from 100, 600, 1000 and 3000 labels, beside the paper and an unsupervised VAE.

Each row trains ``pyro-vae train --model m2 --labels N`` with the paper's architecture (50-d z,
one hidden layer of 500 softplus units, Adam at 3e-4, alpha = 0.1 N) for at most
``--time-budget`` seconds of training (the run stops after the epoch in which the budget runs
out), then evaluates it with ``pyro-vae evaluate --proposal guide,guide-drawn,prior`` on the
first ``--limit`` test images with ``--num-samples`` samples each: the test error of Q(y|x) and
of the model's Bayes classifier argmax_y P(y) P(x|y), and the test NLL with the class summed out,
with the class drawn from Q(y|x), and by naive Monte Carlo. An unsupervised VAE of the same size
trained for the same time is evaluated on the same images. ``--seeds`` more runs of the
100-label model, each ``--seed-budget`` seconds, give the spread over seeds.

Every run directory is kept under ``--runs``. Rerunning the script resumes an unfinished
training run and reuses an evaluation whose settings match, so it can be stopped at any point
and started again; rows finished so far are written to ``bench/results/mnist_m2.json`` after
each one.

Usage:
    python bench/mnist_m2.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pyro_vae import Config, evaluate_run, train
from pyro_vae.storage.rundir import CHECKPOINT_FILE, read_evaluation, read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save_result

#: Test error (%) of M2 and of M1+M2 in Kingma et al. (2014), table 1, by number of labels.
PAPER = {
    100: {"m2": 11.97, "m1_m2": 3.33},
    600: {"m2": 4.94, "m1_m2": 2.59},
    1000: {"m2": 3.60, "m1_m2": 2.40},
    3000: {"m2": 3.92, "m1_m2": 2.18},
}
PROPOSALS = ("guide", "guide-drawn", "prior")
ARCHITECTURE = {
    "latent_dim": 50,
    "hidden_dims": (500,),
    "activation": "softplus",
    "learning_rate": 3e-4,
}


def _trained(run_dir: Path, config: Config) -> None:
    """Train ``run_dir`` to its budget, resuming a run that an earlier call left unfinished."""
    resume = (run_dir / CHECKPOINT_FILE).exists()
    train(None if resume else config, run_dir, resume=resume, verbose=True)


def _evaluated(run_dir: Path, args: argparse.Namespace, proposals: tuple[str, ...]) -> dict:
    """The run's evaluation summary: the stored one if it used these settings, else afresh."""
    marker = run_dir / "bench-evaluation.json"
    wanted = {"limit": args.limit, "num_samples": args.num_samples, "proposals": list(proposals)}
    stored = read_evaluation(run_dir)
    if stored and marker.exists() and json.loads(marker.read_text()) == wanted:
        return stored
    summary = evaluate_run(
        run_dir,
        num_samples=args.num_samples,
        proposals=proposals,
        limit=args.limit,
        data={"data_dir": args.data_dir},
        overwrite=True,
        progress=True,
    ).summary
    marker.write_text(json.dumps(wanted))
    return summary


def _row(run_dir: Path, summary: dict[str, Any], labels: int | None) -> dict[str, Any]:
    metrics = read_metrics(run_dir)
    row: dict[str, Any] = {
        "labels": labels,
        "epochs": len(metrics),
        "training_seconds": sum(r["seconds"] for r in metrics),
        "num_points": summary["num_points"],
        "num_samples": summary["num_samples"],
        "nll": {name: s["nll"] for name, s in summary["proposals"].items()},
        "mc_se": {name: s["mc_standard_error"] for name, s in summary["proposals"].items()},
        "data_se": {name: s["data_standard_error"] for name, s in summary["proposals"].items()},
        "mean_ess": {name: s["mean_ess"] for name, s in summary["proposals"].items()},
        "elbo": summary["test_elbo"],
    }
    if "classes" in summary:
        row.update(summary["classes"])
        row["paper"] = PAPER.get(labels)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/m2", help="where the runs are kept")
    parser.add_argument("--labels", default="100,600,1000,3000", help="rows, comma separated")
    parser.add_argument("--time-budget", type=float, default=3600.0, help="seconds per row")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the 100-label spread")
    parser.add_argument("--seed-budget", type=float, default=600.0, help="seconds per seed")
    parser.add_argument("--limit", type=int, default=10_000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=5000, help="K")
    args = parser.parse_args()

    mnist = {"dataset": "mnist", "data_dir": args.data_dir, "epochs": 100_000}
    runs, result = Path(args.runs), {"rows": [], "seeds": [], "baseline": None}
    settings = {
        "time_budget": args.time_budget,
        "seed_budget": args.seed_budget,
        "limit": args.limit,
        "num_samples": args.num_samples,
        "architecture": {
            k: list(v) if isinstance(v, tuple) else v for k, v in ARCHITECTURE.items()
        },
    }

    started = machine()  # the commit measured, whatever the checkout does meanwhile

    def save() -> None:
        save_result("mnist_m2", {**settings, **result}, measured_on=started)

    for labels in (int(n) for n in args.labels.split(",")):
        run_dir = runs / f"labels-{labels}"
        config = Config(model="m2", labels=labels, time_budget=args.time_budget, **mnist)
        _trained(run_dir, config.replace(**ARCHITECTURE))
        result["rows"].append(_row(run_dir, _evaluated(run_dir, args, PROPOSALS), labels))
        save()
    baseline = runs / "vae"
    _trained(baseline, Config(time_budget=args.time_budget, **mnist, **ARCHITECTURE))
    result["baseline"] = _row(baseline, _evaluated(baseline, args, ("guide", "prior")), None)
    save()
    for seed in range(1, args.seeds + 1):
        run_dir = runs / f"labels-100-seed-{seed}"
        config = Config(model="m2", labels=100, seed=seed, time_budget=args.seed_budget, **mnist)
        _trained(run_dir, config.replace(**ARCHITECTURE))
        summary = _evaluated(run_dir, args, ("guide",))
        result["seeds"].append({"seed": seed, **_row(run_dir, summary, 100)})
        save()


if __name__ == "__main__":
    main()
