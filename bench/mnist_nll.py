"""The MNIST likelihood table under the protocol of Burda et al. (2015), Table 1.

Dynamically binarized MNIST, 784-200-200-50 tanh MLPs, Bernoulli pixels, Adam (learning rate
1e-3), trained for a fixed wall-clock budget each on this machine; test NLL by importance
sampling with K = 5000 samples on all 10,000 test images, with its standard errors, through

    pyro-vae evaluate RUN_DIR --data-dir DIR --num-samples 5000

Rows: the VAE (Trace_ELBO, k = 1) and the IWAE (k = 5; add k = 50 with ``--rows vae,iwae5,iwae50``),
each trained for ``--budget`` seconds. The published values (VAE 86.76, IWAE k = 50 84.78 nats,
after 3,280 epochs) are printed beside. The row ``best`` is the best configuration we know for a
2-hour budget (``--best-budget``): the IWAE bound with k = 5, a VampPrior with 500 pseudo-inputs,
a learning rate decaying from 1e-3 by 0.995 per epoch and an exponential moving average of the
weights (decay 0.999), which its evaluation uses, on the same networks. The rows
``hvae``, ``hiwae5`` and ``hbest`` are the same with two stochastic layers (``--model
hierarchical``: 784-200-200-100-100-100-50, Burda et al.'s two-layer architecture; published
VAE 85.33, IWAE k = 5 83.89 nats); ``hbest`` has the 2-hour budget and the target of 83.5 nats.

The script is restartable: each run directory is resumed until its budget is spent, an
evaluation is reused when it is newer than the model, and the results file is rewritten after
every row. Rows of an earlier call that this call does not name are kept in the results file
(each row records the commit it was trained at), so ``--rows best`` adds or replaces that row
only.

Usage:
    python bench/mnist_nll.py --data-dir ../shared/data/mnist [--budget 1800]
        [--rows vae,iwae5,best,hvae,hiwae5,hbest]
        [--best-budget 7200] [--train-threads 1]

``--train-threads`` caps torch's threads while training (the evaluation uses all of them), so
that a long row can run in the background of other work; the results file records it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from pyro_vae import Config, evaluate_run, train
from pyro_vae.presets import preset_settings
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    EVALUATION_FILE,
    METRICS_FILE,
    MODEL_FILE,
    read_evaluation,
    read_metrics,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, save_result

#: name -> the settings that differ from the protocol's defaults: the preset ``mnist-NAME``
#: (``pyro-vae train --preset mnist-NAME`` trains the same model) without its data, epochs and
#: time budget, which the protocol sets
ROWS: dict[str, dict[str, Any]] = {
    name: {"num_particles": 1, **preset_settings(f"mnist-{name}")}
    for name in ("vae", "iwae5", "iwae50", "best", "hvae", "hiwae5", "hbest")
}
for _settings in ROWS.values():
    for _protocol in ("dataset", "epochs", "time_budget"):
        del _settings[_protocol]
#: Burda, Grosse & Salakhutdinov (2015), Table 1: MNIST, 3,280 epochs; one stochastic layer
#: (vae, iwae50) and two (hvae: VAE k = 1, hiwae5: IWAE k = 5).
PUBLISHED = {"vae": 86.76, "iwae50": 84.78, "hvae": 85.33, "hiwae5": 83.89}
#: The rows trained for ``--best-budget``.
LONG_ROWS = ("best", "hbest")
NUM_SAMPLES = 5000
#: What the best configurations should reach within their 2-hour budget (the one-layer target of
#: 85.0 nats was met at 84.84 and is retired).
TARGET_NLL = {"hbest": 83.5}


def _evaluated(run_dir: Path) -> dict | None:
    """The stored evaluation if it covers all test images with K = 5000 and the final model."""
    path = run_dir / EVALUATION_FILE
    if not path.is_file() or path.stat().st_mtime < (run_dir / MODEL_FILE).stat().st_mtime:
        return None
    report = read_evaluation(run_dir) or {}
    guide = report.get("proposals", {}).get("guide", {})
    if guide.get("num_points") != 10_000 or guide.get("num_samples") != NUM_SAMPLES:
        return None
    return report


#: Where a run directory keeps the commit and the torch threads it was trained with: an evaluation
#: in a later call (after an interruption, say) records those, not the later call's.
PROVENANCE = "bench-trained.json"


def _provenance(run_dir: Path, commit: str | None, train_threads: int) -> dict[str, Any]:
    """The stored provenance of ``run_dir``, written first from these values if there is none."""
    path = run_dir / PROVENANCE
    if not path.is_file():
        path.write_text(json.dumps({"commit": commit, "train_threads": train_threads}) + "\n")
    return json.loads(path.read_text())


def _finished(run_dir: Path, budget: float) -> bool:
    """Whether the run's model is written and its epochs have used up ``budget`` seconds."""
    if not (run_dir / MODEL_FILE).is_file() or not (run_dir / METRICS_FILE).is_file():
        return False
    return sum(row["seconds"] for row in read_metrics(run_dir)) >= budget


def _earlier_rows() -> dict[str, dict[str, Any]]:
    """Row name -> that row of an earlier call's results (with its torch threads filled in)."""
    path = RESULTS / "mnist_nll.json"
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    default = record["machine"]["torch_threads"]
    return {
        row["row"]: {**row, "train_threads": row.get("train_threads", default)}
        for row in record["rows"]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/mnist-nll", help="where the runs are kept")
    parser.add_argument("--budget", type=float, default=1800.0, help="training seconds per row")
    parser.add_argument("--rows", default="vae,iwae5", help=f"some of {', '.join(ROWS)}")
    parser.add_argument(
        "--best-budget", type=float, default=7200.0, help="training seconds of the row 'best'"
    )
    parser.add_argument(
        "--train-threads", type=int, default=0, help="torch threads while training (0: all)"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.rows.split(",")]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        sys.exit(f"unknown rows {unknown}: choose from {', '.join(ROWS)}")

    all_threads = torch.get_num_threads()
    earlier = _earlier_rows()
    started = machine()  # the commit measured, even if the checkout changes while rows run
    commit = started["commit"]
    rows: dict[str, dict[str, Any]] = dict(earlier)
    for name in names:
        settings = ROWS[name]
        budget = args.best_budget if name in LONG_ROWS else args.budget
        run_dir = Path(args.runs) / name
        train_threads = args.train_threads or all_threads
        torch.set_num_threads(train_threads)
        trained_at = commit
        if _finished(run_dir, budget):  # resuming would rewrite the model: its evaluation stale
            if (run_dir / PROVENANCE).is_file():
                provenance = _provenance(run_dir, None, 0)
                train_threads, trained_at = provenance["train_threads"], provenance["commit"]
            elif name in earlier:  # a run trained before runs kept their provenance
                train_threads = earlier[name]["train_threads"]
                trained_at = earlier[name].get("trained_at_commit")
            else:
                trained_at = None
        elif (run_dir / CHECKPOINT_FILE).exists():
            provenance = _provenance(run_dir, commit, train_threads)  # kept from its start
            train_threads, trained_at = provenance["train_threads"], provenance["commit"]
            result = train(None, run_dir, resume=True, verbose=True)
            if result.interrupted:
                sys.exit("interrupted: run the same command again to resume")
        else:
            config = Config(
                dataset="mnist",
                data_dir=args.data_dir,
                epochs=100_000,
                time_budget=budget,
                **settings,
            )
            run_dir.mkdir(parents=True, exist_ok=True)
            _provenance(run_dir, commit, train_threads)  # before any epoch: a kill keeps it
            result = train(config, run_dir, verbose=True)
            if result.interrupted:
                sys.exit("interrupted: run the same command again to resume")
        torch.set_num_threads(all_threads)
        report = _evaluated(run_dir)
        if report is None:
            report = evaluate_run(
                run_dir,
                num_samples=NUM_SAMPLES,
                data={"data_dir": args.data_dir},
                overwrite=True,  # an evaluation of an earlier model, or of fewer images
                progress=sys.stderr.isatty(),
            ).summary
        guide = report["proposals"]["guide"]
        metrics = read_metrics(run_dir)
        rows[name] = {
            "row": name,
            "settings": settings,
            "objective": settings["objective"],
            "num_particles": settings["num_particles"],
            "time_budget": budget,
            "train_threads": train_threads,
            "trained_at_commit": trained_at,  # None: trained before commits were recorded
            "epochs": len(metrics),
            "training_seconds": sum(r["seconds"] for r in metrics),
            "weights": report.get("weights", "raw"),  # "ema": the average (--ema)
            "nll": guide["nll"],
            "mc_standard_error": guide["mc_standard_error"],
            "data_standard_error": guide["data_standard_error"],
            "elbo": guide["elbo"],
            "bad_khat_share": guide["bad_khat_share"],
            "published_nll": PUBLISHED.get(name),
            "target_nll": TARGET_NLL.get(name),
            # still improving when the budget ran out? the validation ELBO's gain over the
            # last tenth of the epochs
            "val_elbo_gain_last_tenth": metrics[-1]["val_elbo"]
            - metrics[int(0.9 * (len(metrics) - 1))]["val_elbo"],
        }
        ordered = [rows[n] for n in ROWS if n in rows]
        save_result(
            "mnist_nll",
            {"num_samples": NUM_SAMPLES, "num_points": 10_000, "rows": ordered},
            measured_on=started,
        )
        print(f"{name}: test NLL {guide['nll']:.2f} after {len(metrics)} epochs", flush=True)
    summary = ", ".join(
        f"{r['row']} {r['nll']:.2f} ({r['epochs']} epochs, {r['training_seconds']:.0f} s)"
        for r in (rows[n] for n in names)
    )
    print(f"mnist_nll: test NLL at K = {NUM_SAMPLES}: {summary}")


if __name__ == "__main__":
    main()
