"""The pretrained model in ``pretrained/``: the likelihood table's best MNIST row, exported.

Takes the run of the row ``best`` of ``bench/mnist_nll.py`` (trained for its 2-hour budget and
evaluated with K = 5000 on all 10,000 test images), exports it (``pyro_vae.export_run``: the
weights its evaluation used, its settings, training log and per-image estimates; no training
state) to ``pretrained/mnist-best``, and draws its samples and reconstructions there. The first
100 test images, as the evaluation saw them (binarized, bits packed), go to
``pretrained/mnist-test-100.npz``, so that a test can check the committed model against its
committed per-image estimates without the MNIST files.

Before anything in ``pretrained/`` is replaced, the copy is checked: estimating log P(X) of those
100 images from the exported model must give the run's own per-image estimates. Rerunning with
the same run rewrites the same files.

Usage:
    python bench/pretrained.py --data-dir ../shared/data/mnist [--runs runs/mnist-nll]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from pyro_vae import evaluate_run, export_run, load_run
from pyro_vae.plots.kinds import FigureSource, draw_figure, save_figure
from pyro_vae.storage.rundir import (
    MODEL_FILE,
    evaluation_path,
    figure_path,
    read_estimates,
    read_evaluation,
    read_metrics,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, save_result

ROOT = Path(__file__).resolve().parents[1]
#: where the model goes, under the repository root
PRETRAINED = ROOT / "pretrained"
NAME = "mnist-best"
#: what the run's evaluation must cover: the likelihood table's protocol
NUM_POINTS, NUM_SAMPLES = 10_000, 5000
#: the test images stored beside it for the committed check
CHECKED = 100
#: the most an estimate of the copy may differ from the run's own (nats; float rounding only)
TOLERANCE = 1e-3


def _source(runs: Path) -> tuple[Path, dict]:
    """The best row's run and its evaluation, refused unless it covers the whole test set."""
    run_dir = runs / "best"
    summary = read_evaluation(run_dir) or {}
    guide = summary.get("proposals", {}).get("guide", {})
    if (guide.get("num_points"), guide.get("num_samples")) != (NUM_POINTS, NUM_SAMPLES) or (
        (run_dir / MODEL_FILE).stat().st_mtime > evaluation_path(run_dir).stat().st_mtime
    ):
        sys.exit(f"{run_dir} is not evaluated on all test images: run bench/mnist_nll.py first")
    return run_dir, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/mnist-nll", help="where mnist_nll keeps its runs")
    args = parser.parse_args()
    source, summary = _source(Path(args.runs))
    building = PRETRAINED / f".{NAME}.new"
    shutil.rmtree(building, ignore_errors=True)
    done = export_run(source, building)
    run = load_run(building, device="cpu")
    splits = run.load_data(data_dir=args.data_dir)
    for kind in ("samples", "recon"):
        figure = draw_figure(kind, FigureSource(run, lambda: (splits.test, splits.y_test)))
        save_figure(figure, figure_path(building, kind))
    images = splits.test[:CHECKED].numpy()
    if not np.isin(images, (0.0, 1.0)).all():
        sys.exit("the test images are not binary: this is not the Burda et al. protocol")
    # the check: the exported model, evaluated on the stored images, gives the run's estimates
    checked = evaluate_run(
        run,
        num_samples=summary["num_samples"],
        x=splits.test[:CHECKED],
        write=False,
        device="cpu",
        compile="off",
    )
    got = checked.evaluation.results["guide"].estimate
    stored = [r["estimate"] for r in read_estimates(building) if r["proposal"] == "guide"]
    difference = float(np.max(np.abs(got - np.asarray(stored[:CHECKED]))))
    if difference > TOLERANCE:
        sys.exit(f"the exported model differs from its run by {difference:.2g} nats: not replaced")
    PRETRAINED.mkdir(exist_ok=True)
    np.savez_compressed(
        PRETRAINED / f"mnist-test-{CHECKED}.npz",
        bits=np.packbits(images.astype(np.uint8), axis=1),
        width=np.asarray(images.shape[1]),
    )
    target = PRETRAINED / NAME
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    guide = summary["proposals"]["guide"]
    metrics = read_metrics(target)
    table = json.loads((RESULTS / "mnist_nll.json").read_text())["rows"]
    nll_row = next(r for r in table if r["row"] == "best")
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir())}
    save_result(
        "pretrained",
        {
            "path": target.relative_to(ROOT).as_posix(),
            "weights": done.weights,
            "files": files,
            "size": sum(files.values()),
            "num_points": guide["num_points"],
            "num_samples": guide["num_samples"],
            "nll": guide["nll"],
            "mc_standard_error": guide["mc_standard_error"],
            "data_standard_error": guide["data_standard_error"],
            "epochs": len(metrics),
            "training_seconds": sum(r["seconds"] for r in metrics),
            "trained_at_commit": nll_row.get("trained_at_commit"),
            "checked_points": CHECKED,
            "check_max_abs_difference": difference,
        },
    )
    print(
        f"pretrained: {target.relative_to(ROOT)} ({sum(files.values()) / 1e6:.1f} MB, "
        f"{done.weights} weights), test NLL {guide['nll']:.2f}; the copy gives the run's "
        f"estimates of {CHECKED} images to {difference:.1g} nats"
    )


if __name__ == "__main__":
    main()
