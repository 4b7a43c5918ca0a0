"""Is a trained model's epoch slower than a fresh one's, and are subnormal floats why?

The 2-hour rows of bench/mnist_nll.py slowed down as they trained (``hbest``: about 22 s per
epoch at the start, 38 s at the end). Either the run got slower -- a trained model could compute
with subnormal floats (below 2^-126), which x86 CPUs handle many times slower than normal ones,
from decayed Adam moments or a decoder sure of MNIST's blank border -- or the host did. This
times one epoch of the trained run (a copy of ``--run``, resumed for one more epoch) and the
first epoch of a fresh model with the run's own settings, each with subnormals flushed to zero
(``torch.set_flush_denormal``) and without, alternating in one process for ``--rounds`` rounds;
the table takes each case's median. It also counts the subnormal floats the trained run holds:
in the Adam moments of its checkpoint, and among its decoder's logits on ``--images`` test images
(a logit under log(2^-126) = -87.3 has a subnormal sigmoid).

The trained run must exist: the long rows of bench/mnist_nll.py leave theirs in
runs/mnist-nll/ (``hbest`` by default).

Usage:
    python bench/epoch_time.py [--run runs/mnist-nll/hbest] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyro.poutine as poutine
import torch

from pyro_vae.config import Config
from pyro_vae.running.training import train
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    load_run,
    read_checkpoint,
    read_config,
    read_metrics,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save_result

_TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32, 2^-126


def _subnormal(t: torch.Tensor) -> int:
    return int(((t != 0) & (t.abs() < _TINY)).sum())


@contextlib.contextmanager
def _flushing(on: bool) -> Iterator[None]:
    """Flush subnormal floats to zero inside the block, or not; torch's default (not) after."""
    torch.set_flush_denormal(on)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _epoch_seconds(
    source: Path, config: Config, epochs: int, work: Path, trained: bool, flush: bool
) -> float:
    """Seconds of one more epoch of a copy of ``source``, or of a fresh model's first epoch.

    ``config`` and ``epochs``: the run's settings and how many epochs it has done.
    """
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    with _flushing(flush):
        if trained:
            skip = shutil.ignore_patterns(".lock", "estimates.csv", "evaluation.json")
            shutil.copytree(source, run_dir, ignore=skip)
            more = config.replace(epochs=epochs + 1, time_budget=0.0)
            result = train(more, run_dir, resume=True)
        else:
            result = train(config.replace(epochs=1, time_budget=0.0), run_dir)
    if result.interrupted:
        sys.exit("interrupted: nothing was written")
    return result.metrics[-1]["seconds"]


def _held(run_dir: Path, images: int) -> dict[str, Any]:
    """Subnormal floats in the trained run's Adam moments and its decoder's outputs."""
    adam = read_checkpoint(run_dir)["optimizer"]["state"]  # per parameter: step and moments
    moments = [t for state in adam.values() for k, t in state.items() if k.startswith("exp_avg")]
    run = load_run(run_dir)
    x = run.load_data().test[:images]
    with torch.no_grad():
        guide = poutine.trace(run.vae.guide).get_trace(x)
        model = poutine.trace(poutine.replay(run.vae.model, trace=guide)).get_trace(x)
    fn = model.nodes["x"]["fn"]
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    logits = fn.logits
    return {
        "moment_values": sum(t.numel() for t in moments),
        "moment_subnormal": sum(_subnormal(t) for t in moments),
        "images": x.shape[0],
        "logits": logits.numel(),
        "logits_below": int((logits < math.log(_TINY)).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/mnist-nll/hbest", help="a trained run directory")
    parser.add_argument("--rounds", type=int, default=2, help="epochs per case")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--images", type=int, default=500, help="test images for the counts")
    args = parser.parse_args()
    source = Path(args.run)
    if not (source / CHECKPOINT_FILE).exists():
        sys.exit(
            f"{source} holds no trained run: train one first, e.g. python bench/mnist_nll.py "
            "--data-dir ../shared/data/mnist --rows hbest"
        )
    torch.set_num_threads(args.threads)
    config, _ = read_config(source)
    during = [r["seconds"] for r in read_metrics(source)]
    cases = [(trained, flush) for trained in (True, False) for flush in (False, True)]
    seconds: dict[tuple[bool, bool], list[float]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory() as work:
        for r in range(args.rounds):
            for trained, flush in cases:
                s = _epoch_seconds(source, config, len(during), Path(work), trained, flush)
                seconds[(trained, flush)].append(s)
                print(f"round {r + 1}: trained={trained} flush={flush}: {s:.1f} s", flush=True)
    median = {case: statistics.median(v) for case, v in seconds.items()}
    result = {
        "run": str(source),
        "epochs_trained": len(during),
        "first_ten_median": statistics.median(during[:10]),
        "last_ten_median": statistics.median(during[-10:]),
        "threads": args.threads,
        "rounds": args.rounds,
        "seconds": [
            {"model": "trained" if t else "fresh", "flush": f, "epochs": v, "median": median[t, f]}
            for (t, f), v in seconds.items()
        ],
        "trained_over_fresh": median[True, False] / median[False, False],
        "flush_speedup_trained": median[True, False] / median[True, True],
        "flush_speedup_fresh": median[False, False] / median[False, True],
        "held": _held(source, args.images),
    }
    print(result)
    save_result("epoch_time", result)


if __name__ == "__main__":
    main()
