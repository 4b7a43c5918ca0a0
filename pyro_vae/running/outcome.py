"""What a training run reports: the result ``train`` returns, and the lines it prints.

:func:`~pyro_vae.running.training.train` returns a :class:`TrainResult`; with ``verbose`` it
prints :func:`epoch_line` after every epoch and :func:`summary_line` at the end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyro_vae.data.splits import DataSplits
from pyro_vae.errors import setting
from pyro_vae.models.vae import VAE

__all__ = [
    "TrainResult",
    "divergence",
    "epoch_line",
    "summary_line",
]


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the run directory.
        vae: the trained model (the moving average of its weights with ``ema``; the best
            validation epoch when early stopping is on).
        data: the data splits the run used.
        metrics: one dict per finished epoch, as in ``metrics.csv``.
        interrupted: whether a signal stopped the run (it can be resumed).
        signal: the number of that signal (0 when none).
        stopped_early: whether early stopping ended the run.
        test_elbo: mean test-set ELBO per datapoint (nats); ``nan`` when interrupted.
        figures: the figure files written into the run directory (``figures=True``).
        rank: this process's rank under torchrun (0 alone): rank 0 wrote the files.
        warnings: what the run's numbers say went wrong (:func:`divergence`), one line each.
    """

    run_dir: Path
    vae: VAE
    data: DataSplits
    metrics: list[dict[str, float]] = field(default_factory=list)
    interrupted: bool = False
    stopped_early: bool = False
    test_elbo: float = math.nan
    figures: list[Path] = field(default_factory=list)
    signal: int = 0
    rank: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        """The command line's exit status: 0, or 128 + the signal (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signal if self.interrupted else 0


def epoch_line(row: Mapping[str, Any], epochs: int) -> str:
    """The line ``verbose`` training prints after an epoch (a ``metrics.csv`` row).

    Example:
        >>> row = {"epoch": 2, "train_objective": -30.5, "val_elbo": -31.0, "val_kl": 4.25,
        ...        "seconds": 1.5}
        >>> epoch_line(row, 10)
        'epoch   2/10  train objective   -30.500  val ELBO   -31.000  KL   4.250     1.5s'
    """
    accuracy = f"  accuracy {row['val_accuracy']:6.1%}" if "val_accuracy" in row else ""
    return (
        f"epoch {row['epoch']:>3}/{epochs}"
        f"  train objective {row['train_objective']:9.3f}"
        f"  val ELBO {row['val_elbo']:9.3f}  KL {row['val_kl']:7.3f}{accuracy}"
        f"  {row['seconds']:6.1f}s"
    )


def divergence(metrics: Sequence[Mapping[str, Any]]) -> str:
    """A warning when the validation ELBO ended far below where it started ('' when not).

    Far: by more than its first value's own size, or to a non-finite value -- what a learning
    rate too large for the model does, and what nothing else would stop.

    Example:
        >>> divergence([{"epoch": 1, "val_elbo": -190.0}, {"epoch": 9, "val_elbo": -3.5e15}])[:60]
        'the validation ELBO fell from -190 (epoch 1) to -3.5e+15 (ep'
        >>> divergence([{"epoch": 1, "val_elbo": -190.0}, {"epoch": 9, "val_elbo": -95.0}])
        ''
    """
    if len(metrics) < 2:
        return ""
    first, last = metrics[0], metrics[-1]
    start, end = first["val_elbo"], last["val_elbo"]
    if math.isfinite(end) and end >= start - abs(start):
        return ""
    return (
        f"the validation ELBO fell from {start:.5g} (epoch {first['epoch']}) to {end:.5g} "
        f"(epoch {last['epoch']}): training diverged; lower {setting('learning_rate')}"
    )


def summary_line(
    metrics: Sequence[Mapping[str, Any]], test_elbo: float, run_dir: Path, best: int | None
) -> str:
    """The line ``verbose`` training prints at the end (``best``: the early-stopping epoch).

    Example:
        >>> line = summary_line([{"val_elbo": -31.0, "seconds": 2.0}], -30.75, Path("r"), None)
        >>> line[:50], line[-14:]
        ('trained 1 epochs in 2.0s: validation ELBO -31.000,', 'run saved in r')
    """
    last = metrics[-1] if metrics else {}
    stop = f" (early stop; best epoch {best})" if best is not None else ""
    return (
        f"trained {len(metrics)} epochs{stop} in {sum(r['seconds'] for r in metrics):.1f}s: "
        f"validation ELBO {last.get('val_elbo', math.nan):.3f}, "
        f"test ELBO {test_elbo:.3f} nats per datapoint; run saved in {run_dir}"
    )
