"""The conditional VAE on MNIST quadrant completion: -log P(Y|X) estimated, not bounded.

For 1, 2 and 3 given quadrants, each row trains ``pyro-vae train --model cvae --condition
quadrants:K`` with the sizes of Pyro's CVAE tutorial (200-d z, hidden layers 500,500, ReLU, Adam
at 1e-3) for at most ``--time-budget`` seconds, then evaluates it with ``pyro-vae evaluate
--proposal guide,prior`` on the first ``--limit`` test images with ``--num-samples`` samples
each: -log P(Y|X) by importance sampling with Q(z|X, Y) and by naive Monte Carlo from the prior
network P(z|X), and the negative ELBO. Beside them, the tutorial's deterministic baseline
network (:mod:`pyro_vae.models.baseline`: an MLP from the given pixels to the probabilities of
the missing ones, trained for ``--baseline-budget`` seconds): its -log P(Y|X) is exact.

The tutorial's table (examples/cvae) lists a negative ELBO under the name "marginal conditional
log-likelihood", on grey-level images scored as if they were binary; ours are binarized test
images (the targets; the given pixels are grey levels), so its numbers are quoted beside ours,
not matched to them.

Every run directory is kept under ``--runs``; rerunning the script resumes an unfinished run and
reuses an evaluation whose settings match. Rows finished so far are written to
``bench/results/mnist_cvae.json`` after each one.

Usage:
    python bench/mnist_cvae.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from pyro_vae import Config
from pyro_vae.data.splits import load_data
from pyro_vae.models.baseline import build_baseline
from pyro_vae.presets import preset_settings
from pyro_vae.running.baseline import baseline_nll, fit_baseline
from pyro_vae.storage.rundir import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import evaluated, machine, save_result, trained

#: Pyro's CVAE tutorial, its printed table: "NN (baseline)" and "CVAE (Monte Carlo)" by given
#: quadrants; both are computed as losses on grey-level test images (the CVAE's: a -ELBO).
TUTORIAL = {1: {"baseline": 100.4, "cvae": 71.8}, 2: {"baseline": 61.9, "cvae": 51.0}}
TUTORIAL[3] = {"baseline": 25.4, "cvae": 24.2}
PROPOSALS = ("guide", "prior")
#: the model and its training: the preset mnist-cvae-q1 (``pyro-vae presets mnist-cvae-q1``)
ARCHITECTURE = {
    k: v
    for k, v in preset_settings("mnist-cvae-q1").items()
    if k not in ("dataset", "epochs", "time_budget", "model", "condition")
}


def _evaluated(run_dir: Path, args: argparse.Namespace) -> dict:
    return evaluated(
        run_dir,
        data_dir=args.data_dir,
        limit=args.limit,
        num_samples=args.num_samples,
        proposals=PROPOSALS,
    )


def _baseline(run_dir: Path, config: Config, seconds: float, limit: int) -> dict[str, Any]:
    """The tutorial's baseline network (:mod:`pyro_vae.models.baseline`), exact -log P(Y|X).

    Trained with the CVAE run's data, minibatches and binarization of the target for
    ``seconds`` of whole epochs, keeping the epoch with the best validation NLL; scored on the
    test rows the CVAE is evaluated on. Stored beside the run and reused.
    """
    stored = run_dir / "bench-baseline.json"
    wanted = {"seconds": seconds, "limit": limit}
    if stored.exists() and json.loads(stored.read_text())["settings"] == wanted:
        return json.loads(stored.read_text())["result"]
    splits = load_data(config, "binary")
    torch.manual_seed(config.seed)
    baseline = build_baseline(
        target_dim=splits.target_dim,
        condition_dim=splits.condition_dim,
        hidden_dims=config.hidden_dims,
        activation=config.activation,
    )
    fit = fit_baseline(
        baseline,
        splits,
        epochs=100_000,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        time_budget=seconds,
        verbose=True,
    )
    nll = baseline_nll(baseline, splits.test[:limit]).double()
    result = {
        "nll": float(nll.mean()),
        "data_se": float(nll.std() / len(nll) ** 0.5),
        **fit.to_dict(),
    }
    stored.write_text(json.dumps({"settings": wanted, "result": result}))
    return result


def _row(run_dir: Path, summary: dict[str, Any], quadrants: int) -> dict[str, Any]:
    metrics = read_metrics(run_dir)
    proposals = summary["proposals"]
    return {
        "quadrants": quadrants,
        "epochs": len(metrics),
        "training_seconds": sum(r["seconds"] for r in metrics),
        "num_points": summary["num_points"],
        "num_samples": summary["num_samples"],
        "nll": {name: s["nll"] for name, s in proposals.items()},
        "mc_se": {name: s["mc_standard_error"] for name, s in proposals.items()},
        "data_se": {name: s["data_standard_error"] for name, s in proposals.items()},
        "mean_ess": {name: s["mean_ess"] for name, s in proposals.items()},
        "bad_khat_share": {name: s["bad_khat_share"] for name, s in proposals.items()},
        "negative_elbo": -summary["test_elbo"],
        "kl": summary["test_kl"],
        "tutorial": TUTORIAL[quadrants],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/cvae", help="where the runs are kept")
    parser.add_argument("--quadrants", default="1,2,3", help="rows, comma separated")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=preset_settings("mnist-cvae-q1")["time_budget"],
        help="seconds per row (default: the preset's)",
    )
    parser.add_argument("--baseline-budget", type=float, default=300.0, help="seconds")
    parser.add_argument("--limit", type=int, default=10_000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=5000, help="K")
    args = parser.parse_args()

    result: dict[str, Any] = {"rows": []}
    settings = {
        "time_budget": args.time_budget,
        "baseline_budget": args.baseline_budget,
        "limit": args.limit,
        "num_samples": args.num_samples,
        "architecture": {
            k: list(v) if isinstance(v, tuple) else v for k, v in ARCHITECTURE.items()
        },
    }
    started = machine()  # the commit measured, whatever the checkout does meanwhile
    for quadrants in (int(k) for k in args.quadrants.split(",")):
        config = Config(
            model="cvae",
            condition=f"quadrants:{quadrants}",
            dataset="mnist",
            data_dir=args.data_dir,
            epochs=100_000,
            time_budget=args.time_budget,
            **ARCHITECTURE,
        )
        run_dir = Path(args.runs) / f"quadrants-{quadrants}"
        trained(run_dir, config)
        row = _row(run_dir, _evaluated(run_dir, args), quadrants)
        row["baseline"] = _baseline(run_dir, config, args.baseline_budget, args.limit)
        result["rows"].append(row)
        save_result("mnist_cvae", {**settings, **result}, measured_on=started)


if __name__ == "__main__":
    main()
