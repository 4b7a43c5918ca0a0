"""Shared helpers of the benchmarks: machine description and the results files.

Every benchmark writes ``bench/results/<name>.json`` with its measured figures, the command that
produced them and the machine it ran on; ``bench/report.py`` renders BENCHMARKS.md from those
files, so no figure in BENCHMARKS.md is typed by hand.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "evaluated", "machine", "peak_rss_mib", "save_result", "trained"]

RESULTS = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str | None:
    """The checked-out commit (``+`` if the package has uncommitted changes), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "pyro_vae"],
            cwd=root,
            capture_output=True,
            text=True,
        )
    except OSError:  # no git
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    """The machine and library versions a measurement was taken with."""
    import numpy
    import pyro
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "numpy": numpy.__version__,
        "date": datetime.date.today().isoformat(),
        "commit": _commit(),
    }


def peak_rss_mib() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save_result(
    name: str, figures: dict[str, Any], measured_on: dict[str, Any] | None = None
) -> Path:
    """Write ``bench/results/<name>.json`` with the figures, the command line and the machine.

    ``measured_on``: the :func:`machine` taken when a long measurement started (its commit is
    the one measured, even if the checkout changed while it ran); by default, now.
    """
    RESULTS.mkdir(exist_ok=True)
    argv = [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]
    with contextlib.suppress(ValueError):
        argv[0] = Path(sys.argv[0]).resolve().relative_to(Path.cwd()).as_posix()
    record = {
        "command": "python " + shlex.join(argv),
        "machine": measured_on or machine(),
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def trained(run_dir: Path, config: Any) -> None:
    """Train ``run_dir`` to its budget, resuming a run that an earlier call left unfinished."""
    from pyro_vae import train
    from pyro_vae.storage.rundir import CHECKPOINT_FILE

    resume = (run_dir / CHECKPOINT_FILE).exists()
    # resumed with the bench's config: a changed time budget or epoch count applies
    result = train(config, run_dir, resume=resume, verbose=True)
    if result.interrupted:  # a stopped benchmark stops; rerunning it resumes the run
        raise SystemExit(f"interrupted: rerun the same command to resume {run_dir}")


def evaluated(
    run_dir: Path, *, data_dir: str, limit: int, num_samples: int, proposals: tuple[str, ...]
) -> dict[str, Any]:
    """The run's evaluation summary: the stored one if it used these settings, else afresh."""
    from pyro_vae import evaluate_run
    from pyro_vae.storage.rundir import read_evaluation

    marker = run_dir / "bench-evaluation.json"
    wanted = {"limit": limit, "num_samples": num_samples, "proposals": list(proposals)}
    stored = read_evaluation(run_dir)
    if stored and marker.exists() and json.loads(marker.read_text()) == wanted:
        return stored
    summary = evaluate_run(
        run_dir,
        num_samples=num_samples,
        proposals=proposals,
        limit=limit,
        data={"data_dir": data_dir},
        overwrite=True,
        progress=True,
    ).summary
    marker.write_text(json.dumps(wanted))
    return summary
