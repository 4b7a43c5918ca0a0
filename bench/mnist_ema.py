"""Weight averaging on MNIST: the test NLL of a run's averaged weights against its raw weights.

The average does not change the training path, so a run's raw weights *are* the same model
trained without ``--ema`` for the same time: the two are compared at equal training time by
construction. Both are evaluated by importance sampling on the first ``--limit`` test images
with ``--num-samples`` samples each, from the same per-image random streams, so the difference
is paired image by image and its standard error is that of the per-image differences.

Rows (``--rows``):

* ``vae``: the default model (preset ``mnist-vae``, the likelihood table's 10-minute row),
  trained here with ``--ema DECAY`` for ``--budget`` seconds;
* ``best``: the likelihood table's 2-hour row (preset ``mnist-best``, which averages its
  weights), trained by ``python bench/mnist_nll.py --rows best``; this script only evaluates it.

Rerunning resumes an unfinished run and keeps finished evaluations; rows of an earlier call
that this call does not name are kept in the results file.

Usage:
    python bench/mnist_ema.py --data-dir ../shared/data/mnist [--rows vae,best]
        [--budget 600] [--decay 0.999]
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
from pyro_vae.storage.rundir import CHECKPOINT_FILE, read_config, read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, save_result, trained

ROWS = ("vae", "best")


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


def _run_dir(row: str, args: argparse.Namespace) -> Path:
    """The row's run directory, trained to its budget (``vae``) or checked to be (``best``)."""
    if row == "vae":
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
        return run_dir
    run_dir = Path(args.nll_runs) / "best"
    if not (run_dir / CHECKPOINT_FILE).exists():
        sys.exit(f"{run_dir} is not trained: run python bench/mnist_nll.py --rows best first")
    config, _ = read_config(run_dir)
    budget = sum(r["seconds"] for r in read_metrics(run_dir))
    if config.ema is None or budget < config.time_budget:
        sys.exit(f"{run_dir} has no average or has not finished: rerun bench/mnist_nll.py")
    return run_dir


def _earlier_rows() -> dict[str, dict[str, Any]]:
    path = RESULTS / "mnist_ema.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    return {row["row"]: row for row in record.get("rows", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--rows", default="vae", help=f"some of {', '.join(ROWS)}")
    parser.add_argument("--runs", default="runs/mnist-ema", help="where the row vae is kept")
    parser.add_argument(
        "--nll-runs", default="runs/mnist-nll", help="where bench/mnist_nll.py keeps its runs"
    )
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds (vae)")
    parser.add_argument("--decay", type=float, default=0.999, help="the average's decay (vae)")
    parser.add_argument("--limit", type=int, default=1000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=1000, help="K")
    args = parser.parse_args()
    names = [n.strip() for n in args.rows.split(",")]
    if set(names) - set(ROWS):
        sys.exit(f"unknown rows {sorted(set(names) - set(ROWS))}: choose from {', '.join(ROWS)}")
    started = machine()
    rows = _earlier_rows()
    for name in names:
        run_dir = _run_dir(name, args)
        config, _ = read_config(run_dir)
        raw, ema = (_estimates(run_dir, w, args) for w in ("raw", "ema"))
        assert (raw["weights"], ema["weights"]) == ("raw", "ema")
        difference = np.asarray(ema["estimates"]) - np.asarray(raw["estimates"])  # log P, nats
        metrics = read_metrics(run_dir)
        rows[name] = {
            "row": name,
            "preset": f"mnist-{name}",
            "decay": config.ema,
            "time_budget": config.time_budget,
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
            # each row keeps its own provenance: a later call may measure only some rows
            "measured": {
                "date": started["date"],
                "commit": started.get("commit"),
                "torch_threads": started["torch_threads"],
            },
        }
        print(
            f"mnist_ema {name}: test NLL {rows[name]['nll_raw']:.2f} (raw) vs "
            f"{rows[name]['nll_ema']:.2f} (EMA {config.ema}) nats on {args.limit} images "
            f"after {len(metrics)} epochs",
            flush=True,
        )
        save_result(
            "mnist_ema", {"rows": [rows[n] for n in ROWS if n in rows]}, measured_on=started
        )


if __name__ == "__main__":
    main()
