"""Weight averaging on MNIST: the test NLL of a run's averaged weights against its raw weights.

One run of the default model (the preset ``mnist-vae``: the likelihood table's 10-minute row) is
trained with ``--ema DECAY`` for ``--budget`` seconds. The average does not change the training
path, so the run's raw weights *are* the same model trained without ``--ema`` for the same
time: the two are compared at equal training time by construction. Both are evaluated by
importance sampling on the first ``--limit`` test images with ``--num-samples`` samples each,
from the same per-image random streams, so the difference is paired image by image and its
standard error is that of the per-image differences.

Rerunning resumes an unfinished run and keeps finished evaluations.

Usage:
    python bench/mnist_ema.py --data-dir ../shared/data/mnist [--budget 600] [--decay 0.999]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pyro_vae import Config, evaluate_run, load_run
from pyro_vae.storage.rundir import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save_result, trained


def _estimates(run_dir: Path, weights: str, args: argparse.Namespace) -> dict[str, Any]:
    """Per-image importance-sampling estimates of one set of the run's weights (kept on disk)."""
    stored = run_dir / f"bench-{weights}.json"
    wanted = {"limit": args.limit, "num_samples": args.num_samples}
    if stored.exists():
        record = json.loads(stored.read_text())
        if record["settings"] == wanted:
            return record
    evaluation = evaluate_run(
        load_run(run_dir, weights=weights),
        num_samples=args.num_samples,
        limit=args.limit,
        data={"data_dir": args.data_dir},
        write=False,
        progress=sys.stderr.isatty(),
    )
    record = {
        "settings": wanted,
        "weights": evaluation.run.weights,
        "estimates": evaluation.evaluation.results["guide"].estimate.tolist(),
        "test_elbo": evaluation.summary["test_elbo"],
    }
    stored.write_text(json.dumps(record))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/mnist-ema", help="where the run is kept")
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds")
    parser.add_argument("--decay", type=float, default=0.999, help="the average's decay")
    parser.add_argument("--limit", type=int, default=1000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=1000, help="K")
    args = parser.parse_args()
    started = machine()
    run_dir = Path(args.runs) / f"ema-{args.decay}"
    config = Config.from_dict(
        {
            "preset": "mnist-vae",
            "data_dir": args.data_dir,
            "time_budget": args.budget,
            "ema": args.decay,
        }
    )
    trained(run_dir, config)
    raw, ema = (_estimates(run_dir, w, args) for w in ("raw", "ema"))
    assert (raw["weights"], ema["weights"]) == ("raw", "ema")
    difference = np.asarray(ema["estimates"]) - np.asarray(raw["estimates"])  # log P, nats
    metrics = read_metrics(run_dir)
    save_result(
        "mnist_ema",
        {
            "preset": "mnist-vae",
            "decay": args.decay,
            "time_budget": args.budget,
            "epochs": len(metrics),
            "training_seconds": sum(r["seconds"] for r in metrics),
            "limit": args.limit,
            "num_samples": args.num_samples,
            "nll_raw": -float(np.mean(raw["estimates"])),
            "nll_ema": -float(np.mean(ema["estimates"])),
            "gain": float(np.mean(difference)),  # NLL(raw) - NLL(ema): > 0 when the average helps
            "gain_standard_error": float(difference.std(ddof=1) / math.sqrt(difference.size)),
            "test_elbo_raw": raw["test_elbo"],
            "test_elbo_ema": ema["test_elbo"],
        },
        measured_on=started,
    )
    print(
        f"mnist_ema: test NLL {-np.mean(raw['estimates']):.2f} (raw) vs "
        f"{-np.mean(ema['estimates']):.2f} (EMA {args.decay}) nats on {args.limit} images "
        f"after {len(metrics)} epochs"
    )


if __name__ == "__main__":
    main()
