"""8-bit MNIST (not binarized) with a mixture of discretized logistics: bits per dimension.

Each row trains ``pyro-vae train --dataset mnist --binarize none --likelihood dmol --network
conv`` for at most ``--time-budget`` seconds (the run stops after the epoch in which the budget
runs out), then evaluates it with ``pyro-vae evaluate --proposal guide,prior`` on the first
``--limit`` test images, ``--num-samples`` samples each: -log P(X) by importance sampling and by
naive Monte Carlo and the negative ELBO, each in nats and in bits per dimension (NLL / (784 ln
2)). The likelihood gives each image a probability, so these are comparable with published
8-bit MNIST results; the FFJORD paper's Table 2 (Grathwohl et al. 2019) is quoted beside them.

``--fashion-dir`` adds the same model on 8-bit Fashion-MNIST (its four IDX files); without it
that row is left out (no copy is available offline here).

Every run directory is kept under ``--runs``; rerunning the script resumes an unfinished run and
reuses an evaluation whose settings match. Rows finished so far are written to
``bench/results/mnist_8bit.json`` after each one.

Usage:
    python bench/mnist_8bit.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from pyro_vae import Config
from pyro_vae.presets import preset_settings
from pyro_vae.storage.rundir import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import evaluated, machine, save_result, trained

#: Grathwohl et al. 2019 (FFJORD), Table 2: test bits/dim on 8-bit MNIST.
PUBLISHED = {"MADE": 2.04, "MAF": 1.89, "Real NVP": 1.06, "Glow": 1.05, "FFJORD": 0.99}
PROPOSALS = ("guide", "prior")
#: the model and its training: those of the preset mnist-8bit (``pyro-vae presets mnist-8bit``)
ARCHITECTURE = {
    k: v
    for k, v in preset_settings("mnist-8bit").items()
    if k not in ("dataset", "epochs", "time_budget")
}
DIMS = 784


def _bpd(nats: float) -> float:
    return nats / (DIMS * math.log(2))


def _row(name: str, run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    metrics = read_metrics(run_dir)
    proposals = summary["proposals"]
    return {
        "data": name,
        "epochs": len(metrics),
        "training_seconds": sum(r["seconds"] for r in metrics),
        "num_points": summary["num_points"],
        "num_samples": summary["num_samples"],
        "nll": {p: s["nll"] for p, s in proposals.items()},
        "bits_per_dim": {p: _bpd(s["nll"]) for p, s in proposals.items()},
        "mc_se": {p: s["mc_standard_error"] for p, s in proposals.items()},
        "data_se": {p: s["data_standard_error"] for p, s in proposals.items()},
        "mean_ess": {p: s["mean_ess"] for p, s in proposals.items()},
        "bad_khat_share": {p: s["bad_khat_share"] for p, s in proposals.items()},
        "negative_elbo": -summary["test_elbo"],
        "elbo_bits_per_dim": _bpd(-summary["test_elbo"]),
        "kl": summary["test_kl"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--fashion-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--runs", default="runs/mnist-8bit", help="where the runs are kept")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=preset_settings("mnist-8bit")["time_budget"],
        help="seconds per row (default: the preset's)",
    )
    parser.add_argument("--limit", type=int, default=10_000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=1000, help="K")
    args = parser.parse_args()

    settings = {
        "time_budget": args.time_budget,
        "limit": args.limit,
        "num_samples": args.num_samples,
        "architecture": {
            k: list(v) if isinstance(v, tuple) else v for k, v in ARCHITECTURE.items()
        },
        "published": PUBLISHED,
    }
    started = machine()  # the commit measured, whatever the checkout does meanwhile
    rows: list[dict[str, Any]] = []
    data = [("mnist", args.data_dir)]
    if args.fashion_dir:
        data.append(("fashion-mnist", args.fashion_dir))
    for name, folder in data:
        config = Config(
            dataset=name,
            data_dir=folder,
            epochs=100_000,
            time_budget=args.time_budget,
            **ARCHITECTURE,
        )
        run_dir = Path(args.runs) / name
        trained(run_dir, config)
        summary = evaluated(
            run_dir,
            data_dir=folder,
            limit=args.limit,
            num_samples=args.num_samples,
            proposals=PROPOSALS,
        )
        rows.append(_row(name, run_dir, summary))
        save_result("mnist_8bit", {**settings, "rows": rows}, measured_on=started)


if __name__ == "__main__":
    main()
