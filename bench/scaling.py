"""Training steps per second and evaluation images per second, on one process and on several.

On the CPU: one process with two torch threads against two processes (``torchrun
--nproc-per-node 2``, gloo) with one thread each, on the same work. With ``--gpu`` (where
torch sees CUDA): one GPU, then every GPU of the machine (one process each, NCCL). Each
configuration trains the default MNIST model (784-200-200-50, batch 100) for ``--epochs``
epochs from the same seed and scores importance sampling with K = ``--num-samples`` on the
first ``--images`` test images; training speed is the steps of the epochs after the first
(which pays for the JIT's compilation) over their seconds, evaluation speed the images over the
evaluation's seconds (the slowest process's). The configurations run one after the other in
fresh processes, through the command line that users run.

Usage:
    python bench/scaling.py --data-dir ../shared/data/mnist [--epochs 3] [--images 500]
        [--num-samples 1000] [--gpu]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save_result

from pyro_vae import Config
from pyro_vae.data.splits import load_data
from pyro_vae.storage.rundir import read_metrics


def _command(processes: int, *args: str) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "pyro_vae", *args]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(processes),
        "-m",
        "pyro_vae",
        *args,
    ]


def _measure(
    name: str,
    processes: int,
    threads: int,
    device: str,
    args: argparse.Namespace,
    work: Path,
    steps: int,
) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    run = work / name
    data = ["--dataset", "mnist", "--data-dir", args.data_dir] if args.data_dir else []
    train = [
        "train",
        "--out",
        str(run),
        "--epochs",
        str(args.epochs),
        "--device",
        device,
        "--quiet",
        "--no-plots",
        *data,
    ]
    subprocess.run(_command(processes, *train), check=True, env=env, stdin=subprocess.DEVNULL)
    metrics = read_metrics(run)
    later = metrics[1:] or metrics
    seconds = sum(r["seconds"] for r in later)
    evaluate = [
        "evaluate",
        str(run),
        "--num-samples",
        str(args.num_samples),
        "--limit",
        str(args.images),
        "--device",
        device,
        *data,
    ]
    subprocess.run(
        _command(processes, *evaluate),
        check=True,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    report = json.loads((run / "evaluation.json").read_text())
    evaluated = report["proposals"]["guide"]
    return {
        "configuration": name,
        "processes": processes,
        "threads_per_process": threads,
        "device": device,
        "epochs_timed": len(later),
        "train_seconds_per_epoch": seconds / len(later),
        "steps_per_second": steps / (seconds / len(later)),
        "val_elbo": metrics[-1]["val_elbo"],
        "eval_images_per_second": evaluated["num_points"] / evaluated["seconds"],
        "eval_nll": evaluated["nll"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST IDX files (default: the digits, no download)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--gpu", action="store_true", help="also measure the GPUs")
    args = parser.parse_args()
    configurations = [("cpu-1x2", 1, 2, "cpu"), ("cpu-2x1", 2, 1, "cpu")]
    if args.gpu and torch.cuda.is_available():
        count = torch.cuda.device_count()
        configurations.append(("gpu-1", 1, 1, "cuda"))
        if count > 1:
            configurations.append((f"gpu-{count}", count, 1, "cuda"))
    measured_on = machine()
    data = {"dataset": "mnist", "data_dir": args.data_dir} if args.data_dir else {}
    config = Config(**data)
    steps = math.ceil(load_data(config, "binary").train.shape[0] / config.batch_size)
    with tempfile.TemporaryDirectory() as folder:
        rows = [_measure(*c, args, Path(folder), steps) for c in configurations]
    base = rows[0]
    for row in rows:
        row["train_speedup"] = row["steps_per_second"] / base["steps_per_second"]
        row["eval_speedup"] = row["eval_images_per_second"] / base["eval_images_per_second"]
    save_result(
        "scaling",
        {
            "dataset": "mnist" if args.data_dir else "digits",
            "epochs": args.epochs,
            "images": args.images,
            "num_samples": args.num_samples,
            "rows": rows,
        },
        measured_on,
    )
    for row in rows:
        print(
            f"{row['configuration']}: {row['steps_per_second']:.1f} steps/s "
            f"(x{row['train_speedup']:.2f}), {row['eval_images_per_second']:.1f} images/s "
            f"(x{row['eval_speedup']:.2f})"
        )
    if not math.isfinite(base["train_seconds_per_epoch"]):
        sys.exit("no epoch was timed")


if __name__ == "__main__":
    main()
