"""M2 on MNIST from 100, 600, 1000 and 3000 labels, beside the paper and an unsupervised VAE.

Each row trains ``pyro-vae train --model m2 --labels N`` with the paper's architecture (50-d z,
one hidden layer of 500 softplus units, Adam at 3e-4, alpha = 0.1 N) for at most
``--time-budget`` seconds of training (the run stops after the epoch in which the budget runs
out), then evaluates it with ``pyro-vae evaluate --proposal guide,guide-drawn,prior`` on the
first ``--limit`` test images with ``--num-samples`` samples each: the test error of Q(y|x) and
of the model's Bayes classifier argmax_y P(y) P(x|y), and the test NLL with the class summed out,
with the class drawn from Q(y|x), and by naive Monte Carlo. An unsupervised VAE of the same size
trained for the same time is evaluated on the same images. ``--seeds`` runs of the 100-label
model, each ``--seed-budget`` seconds, give the spread over seeds (seed 0 is the 100-label row
when the two budgets are equal), and ``--weights`` rows train the 100-label model with other
classification weights than the paper's.

The error of Q(y|x) is also measured on all 10,000 test images (it costs one pass of the
classifier), beside a classifier of the same network trained on the row's labels alone
(``--label-steps`` Adam steps on minibatches of them, binarized afresh): what the unlabelled
images add.

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

import torch
from torch.nn import functional as F

from pyro_vae import Config, load_run
from pyro_vae.data.splits import load_data
from pyro_vae.parts.networks import MLP
from pyro_vae.presets import preset_settings
from pyro_vae.running.semisupervised import accuracy, labelled_rows
from pyro_vae.storage.rundir import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import evaluated, machine, save_result, trained

#: Test error (%) of M2 and of M1+M2 in Kingma et al. (2014), table 1, by number of labels.
PAPER = {
    100: {"m2": 11.97, "m1_m2": 3.33},
    600: {"m2": 4.94, "m1_m2": 2.59},
    1000: {"m2": 3.60, "m1_m2": 2.40},
    3000: {"m2": 3.92, "m1_m2": 2.18},
}
PROPOSALS = ("guide", "guide-drawn", "prior")
#: the model and its training: those of the preset mnist-m2-100 (``pyro-vae presets mnist-m2-100``)
ARCHITECTURE = {
    k: v
    for k, v in preset_settings("mnist-m2-100").items()
    if k not in ("dataset", "epochs", "time_budget", "model", "labels")
}


def _evaluated(run_dir: Path, args: argparse.Namespace, proposals: tuple[str, ...]) -> dict:
    return evaluated(
        run_dir,
        data_dir=args.data_dir,
        limit=args.limit,
        num_samples=args.num_samples,
        proposals=proposals,
    )


def _test_error(run_dir: Path, data_dir: str) -> float:
    """The error of the run's Q(y|x) on every test image."""
    run = load_run(run_dir)
    splits = run.load_data(data_dir=data_dir)
    assert splits.y_test is not None
    return 1.0 - accuracy(run.vae, splits.test, splits.y_test)


def _labels_alone(config: Config, steps: int) -> float:
    """Test error of M2's classifier network trained on the run's labelled images alone.

    The same labels, network, optimizer and minibatch size as the M2 run, cross-entropy only.
    """
    torch.manual_seed(config.seed)
    splits = load_data(config, "binary")
    assert splits.y_train is not None and splits.y_test is not None
    keep = labelled_rows(config, splits)
    x, y = splits.train[keep], splits.y_train[keep]
    net = MLP(
        x.shape[1], config.hidden_dims, int(splits.num_classes or 0), activation=config.activation
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    for _ in range(steps):
        rows = torch.randint(x.shape[0], (min(config.batch_size, x.shape[0]),))
        batch = torch.bernoulli(x[rows]) if splits.binarize_train else x[rows]
        optimizer.zero_grad()
        F.cross_entropy(net(batch), y[rows]).backward()
        optimizer.step()
    with torch.no_grad():
        wrong = net(splits.test).argmax(-1) != splits.y_test
    return float(wrong.float().mean())


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


def _m2_row(run_dir: Path, config: Config, args: argparse.Namespace, proposals: tuple) -> dict:
    """Train and evaluate one M2 run; its row with the errors on all test images."""
    trained(run_dir, config)
    row = _row(run_dir, _evaluated(run_dir, args, proposals), config.labels)
    row["classification_weight"] = config.classification_weight
    row["test_error"] = _test_error(run_dir, args.data_dir)
    marker = run_dir / "bench-labels-alone.json"  # reused when the steps match
    stored = json.loads(marker.read_text()) if marker.exists() else {}
    if stored.get("label_steps") != args.label_steps:
        stored = {"label_steps": args.label_steps}
        stored["labels_alone_error"] = _labels_alone(config, args.label_steps)
        marker.write_text(json.dumps(stored))
    return {**row, **stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/m2", help="where the runs are kept")
    parser.add_argument("--labels", default="100,600,1000,3000", help="rows, comma separated")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=preset_settings("mnist-m2-100")["time_budget"],
        help="seconds per row (default: the preset's)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the 100-label spread")
    parser.add_argument("--seed-budget", type=float, default=600.0, help="seconds per seed")
    parser.add_argument("--weights", default="", help="other classification weights, 100 labels")
    parser.add_argument("--label-steps", type=int, default=3000, help="labels-alone steps")
    parser.add_argument("--limit", type=int, default=10_000, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=5000, help="K")
    args = parser.parse_args()

    mnist = {"dataset": "mnist", "data_dir": args.data_dir, "epochs": 100_000, **ARCHITECTURE}
    runs = Path(args.runs)
    result: dict[str, Any] = {"rows": [], "weights": [], "seeds": [], "baseline": None}
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

    m2 = Config(model="m2", time_budget=args.time_budget, **mnist)
    for labels in (int(n) for n in args.labels.split(",")):
        config = m2.replace(labels=labels)
        result["rows"].append(_m2_row(runs / f"labels-{labels}", config, args, PROPOSALS))
        save()
    baseline = runs / "vae"
    trained(baseline, Config(time_budget=args.time_budget, **mnist))
    result["baseline"] = _row(baseline, _evaluated(baseline, args, ("guide", "prior")), None)
    save()
    for weight in (float(w) for w in args.weights.split(",") if w):
        config = m2.replace(labels=100, classification_weight=weight)
        result["weights"].append(
            _m2_row(runs / f"labels-100-weight-{weight:g}", config, args, ("guide",))
        )
        save()
    for seed in range(args.seeds):
        config = m2.replace(labels=100, seed=seed, time_budget=args.seed_budget)
        same = seed == 0 and args.seed_budget == args.time_budget
        run_dir = runs / ("labels-100" if same else f"labels-100-seed-{seed}")
        proposals = PROPOSALS if same else ("guide",)  # the row's evaluation, reused
        result["seeds"].append({"seed": seed, **_m2_row(run_dir, config, args, proposals)})
        save()


if __name__ == "__main__":
    main()
