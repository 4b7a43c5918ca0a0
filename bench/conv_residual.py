"""Residual blocks in the convolutional networks: do they pay for themselves on this CPU?

For each image size, ``--network conv`` and ``--network resconv`` (the same networks with a
residual block at each resolution, :class:`pyro_vae.parts.networks.ResidualBlock`) train for the
same ``--time-budget`` seconds with the mixture of discretized logistics (``dmol``, 5
components), keeping their best validation epoch (early stopping after 10 epochs without
improvement). Each is then scored on the first ``--limit`` test images: bits per dimension by
the negative ELBO and by importance sampling with ``--num-samples`` samples. Rows:

* 28x28 grey: 8-bit MNIST (``--data-dir``, not binarized);
* 32x32 colour: ``--dataset photos`` (patches of scikit-learn's two photographs);
* 64x64 colour: 64-pixel patches of the same photographs, written as a folder and read by
  ``--dataset folder``.

Both networks get the same budget, so a residual block pays for itself when its row reaches fewer
bits per dimension, although each of its epochs takes longer. Runs are kept under ``--runs``;
rerunning the script resumes an unfinished one and reuses a matching evaluation.

Usage:
    python bench/conv_residual.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from pyro_vae import Config
from pyro_vae.storage.rundir import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import evaluated, machine, save_result, trained

NETWORKS = ("conv", "resconv")
ARCHITECTURE = {
    "likelihood": "dmol",
    "mixtures": 5,
    "hidden_dims": (512,),
    "activation": "relu",
    "latent_dim": 32,
    "learning_rate": 1e-3,
    "early_stopping": 10,
}


def _parameters(run_dir: Path) -> int:
    from pyro_vae import load_run

    return sum(p.numel() for p in load_run(run_dir).vae.parameters())


def _data(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """Each row's name and data settings (the 64-pixel folder written on first use)."""
    from pyro_vae.data.photos import write_patch_folder

    patches = Path(args.runs) / "patches-64"
    if not patches.exists():
        write_patch_folder(patches, size=64, stride=16)
    return [
        ("28x28 grey (8-bit MNIST)", {"dataset": "mnist", "data_dir": args.data_dir}),
        ("32x32 colour (photos)", {"dataset": "photos"}),
        ("64x64 colour (photo patches)", {"dataset": "folder", "data_dir": str(patches)}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--runs", default="runs/conv-residual", help="where the runs are kept")
    parser.add_argument("--time-budget", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--limit", type=int, default=500, help="test images evaluated")
    parser.add_argument("--num-samples", type=int, default=100, help="K")
    args = parser.parse_args()

    started = machine()
    settings = {
        "time_budget": args.time_budget,
        "limit": args.limit,
        "num_samples": args.num_samples,
        "architecture": {
            k: list(v) if isinstance(v, tuple) else v for k, v in ARCHITECTURE.items()
        },
    }
    rows: list[dict[str, Any]] = []
    for name, data in _data(args):
        for network in NETWORKS:
            binarize = {"binarize": "none"} if data["dataset"] == "mnist" else {}
            config = Config(
                **data,
                **binarize,
                network=network,
                epochs=100_000,
                time_budget=args.time_budget,
                **ARCHITECTURE,
            )
            run_dir = Path(args.runs) / f"{data['dataset']}-{network}"
            trained(run_dir, config)
            summary = evaluated(
                run_dir,
                data_dir=data.get("data_dir"),
                limit=args.limit,
                num_samples=args.num_samples,
                proposals=("guide",),
            )
            metrics = read_metrics(run_dir)
            dims = summary["bits_per_dim"]["dims"]
            seconds = sum(r["seconds"] for r in metrics)
            rows.append(
                {
                    "data": name,
                    "network": network,
                    "parameters": _parameters(run_dir),
                    "epochs": len(metrics),
                    "training_seconds": seconds,
                    "seconds_per_epoch": seconds / len(metrics),
                    "best_val_elbo_bits_per_dim": -max(r["val_elbo"] for r in metrics)
                    / (dims * math.log(2)),
                    "elbo_bits_per_dim": summary["bits_per_dim"]["elbo"],
                    "is_bits_per_dim": summary["bits_per_dim"]["proposals"]["guide"],
                    "is_se_bits_per_dim": summary["proposals"]["guide"]["data_standard_error"]
                    / (dims * math.log(2)),
                }
            )
            save_result("conv_residual", {**settings, "rows": rows}, measured_on=started)


if __name__ == "__main__":
    main()
