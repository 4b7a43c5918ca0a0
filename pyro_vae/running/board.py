"""TensorBoard logs of a run: scalars per step and per epoch, figures, settings, evaluations.

``pyro-vae train --tensorboard`` (``train(..., tensorboard=True)``) writes the log into the run
directory's ``tensorboard/`` folder, so ``tensorboard --logdir runs`` shows every run side by
side. Everything is on one axis, the global training step:

* every step: ``train/objective`` (per datapoint), ``train/gradient_norm``,
  ``train/learning_rate``, ``train/step_seconds``;
* every epoch: each number of the epoch's ``metrics.csv`` row (``epoch/val_elbo``,
  ``epoch/val_kl``, ...) and, for a model of several latent sites (the hierarchical VAE), the
  KL of each on the validation set (``epoch/kl_z1``, ``epoch/kl_z2``: one per layer);
* every :data:`FIGURE_EVERY` epochs and at the last: the figures of the run that show images
  (samples, reconstructions, the class grid of a labelled model, a conditional model's
  completions);
* when training ends: the settings as hyper-parameters, with the best validation ELBO and the
  test ELBO;
* when ``pyro-vae evaluate`` runs on the run: its estimates (``evaluate/<proposal>/nll``, and
  bits per dimension where they apply), at the number of epochs trained (tags of their own).

Only rank 0 writes under torchrun. A resumed run appends to the same log: TensorBoard hides the
events at or after the step it resumes from (``purge_step``), so nothing appears twice. The
``tensorboard`` package is an optional extra (``pip install "pyro-vae[tensorboard]"``);
without it the option is refused in one line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from pyro import poutine

from pyro_vae.config import Config
from pyro_vae.errors import InputError
from pyro_vae.models.vae import VAE
from pyro_vae.plots.kinds import FigureSource, draw_figure, standard_kinds

__all__ = [
    "BOARD_DIR",
    "FIGURE_EVERY",
    "TrainingBoard",
    "board_dir",
    "check_tensorboard",
    "hyperparameters",
    "kl_per_site",
    "log_evaluation",
]

#: The folder of a run directory that holds its TensorBoard log.
BOARD_DIR = "tensorboard"
#: Figures are logged every this many epochs, and after the last.
FIGURE_EVERY = 5
_IMAGE_KINDS = ("samples", "recon", "classes", "completions")
_EVENTS = "events.out.tfevents."


def board_dir(run_dir: str | Path) -> Path:
    """Where the TensorBoard log of the run in ``run_dir`` goes.

    Example:
        >>> board_dir("runs/digits").as_posix()
        'runs/digits/tensorboard'
    """
    return Path(run_dir) / BOARD_DIR


def _writer(log_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError(
            '--tensorboard needs the tensorboard package: pip install "pyro-vae[tensorboard]" '
            "(or pip install tensorboard)"
        ) from None
    return SummaryWriter(str(log_dir), purge_step=purge_step)


def check_tensorboard() -> bool:
    """Refuse ``--tensorboard`` before any work when the package is missing (one line).

    Returns:
        True (else it raises :class:`~pyro_vae.errors.InputError`).
    """
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        _writer(Path("."), None)  # raises the InputError
    return True


class TrainingBoard:
    """The TensorBoard log of one training run (rank 0's).

    Args:
        run_dir: the run directory; the log goes into :func:`board_dir` of it.
        source: the run and its test data, for the figures.
        steps_per_epoch: optimizer steps per epoch (epoch scalars sit at epoch x this).
        start_step: the optimizer steps already taken: 0 for a new run (an earlier log in the
            folder is removed), else those of the resumed run (later events are hidden).

    Example:
        >>> board = TrainingBoard(Path("runs/r"), source, 36, start_step=0)  # doctest: +SKIP
        >>> board.step(1, loss=2.9e3, rows=100, parameters=ps, learning_rate=1e-3)  # doctest: +SKIP
    """

    def __init__(
        self, run_dir: Path, source: FigureSource, steps_per_epoch: int, *, start_step: int
    ) -> None:
        log_dir = board_dir(run_dir)
        if start_step == 0 and log_dir.is_dir():  # a replaced run's old log
            for old in log_dir.glob(f"{_EVENTS}*"):
                old.unlink()
        # the steps logged so far are 1..start_step: any later one is a crashed run's, hidden
        self.writer = _writer(log_dir, start_step + 1 if start_step else None)
        self.source, self.steps_per_epoch = source, steps_per_epoch
        self.kinds = [k for k in standard_kinds(source.run) if k in _IMAGE_KINDS]
        self._last = time.perf_counter()

    def step(
        self,
        step: int,
        *,
        loss: float,
        rows: int,
        parameters: Sequence[torch.Tensor],
        learning_rate: float,
    ) -> None:
        """Log one optimizer step (``step`` counts from 1): objective, gradient norm, time."""
        now = time.perf_counter()
        grads = [p.grad for p in parameters if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        scalars = {
            "train/objective": -loss / max(1, rows),
            "train/gradient_norm": float(norm),
            "train/learning_rate": learning_rate,
            "train/step_seconds": now - self._last,
        }
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)
        self._last = now

    def epoch(self, row: Mapping[str, Any], validation: torch.Tensor, *, last: bool) -> None:
        """Log an epoch's ``metrics.csv`` row, the KL per latent site and, now and then, figures."""
        epoch = int(row["epoch"])
        step = epoch * self.steps_per_epoch
        for name, value in row.items():
            if name != "epoch" and isinstance(value, int | float) and math.isfinite(value):
                self.writer.add_scalar(f"epoch/{name}", value, step)
        if len(self.source.run.vae.latent_sites) > 1:  # one KL per layer (one: val_kl itself)
            for site, value in kl_per_site(self.source.run.vae, validation).items():
                self.writer.add_scalar(f"epoch/kl_{site}", value, step)
        if last or epoch % FIGURE_EVERY == 0:
            self.source.run.vae.eval()
            for kind in self.kinds:
                figure = draw_figure(kind, self.source, seed=epoch)
                self.writer.add_figure(f"figures/{kind}", figure, step)
            self.source.run.vae.train()
        self.writer.flush()
        self._last = time.perf_counter()  # the epoch's evaluation is not a step's time

    def close(self, config: Config, metrics: Sequence[Mapping[str, Any]], test_elbo: float) -> None:
        """Log the settings as hyper-parameters with the run's results, and close the log."""
        results = {"hparam/test_elbo": test_elbo}
        if metrics:
            results["hparam/best_val_elbo"] = max(float(r["val_elbo"]) for r in metrics)
        self.writer.add_hparams(hyperparameters(config), results, run_name=".")
        self.writer.close()


def hyperparameters(config: Config) -> dict[str, Any]:
    """The settings as TensorBoard takes them: numbers, strings and booleans (lists as text).

    Example:
        >>> hyperparameters(Config())["hidden_dims"]
        '200,200'
    """
    out: dict[str, Any] = {}
    for name, value in config.to_dict().items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        out[name] = "" if value is None else value
    return out


@torch.no_grad()
def kl_per_site(vae: VAE, x: torch.Tensor) -> dict[str, float]:
    """The single-sample KL estimate log q(z|.) - log p(z|.) of each latent site, mean over ``x``.

    One draw from the guide, the model replayed on it; for a hierarchical model one number per
    layer, which sum to the KL of ``metrics.csv`` (up to its own draw).

    Example:
        >>> from pyro_vae import build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> sorted(kl_per_site(vae, torch.ones(3, 4)))
        ['z']
    """
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        guide = poutine.trace(vae.guide).get_trace(x)
        model = poutine.trace(poutine.replay(vae.model, trace=guide)).get_trace(x)
    out = {}
    for site in vae.latent_sites:
        if site in guide.nodes and site in model.nodes:
            q = guide.nodes[site]["fn"].log_prob(guide.nodes[site]["value"])
            p = model.nodes[site]["fn"].log_prob(model.nodes[site]["value"])
            out[site] = float((q - p).mean())
    return out


def log_evaluation(run_dir: Path, summary: Mapping[str, Any], step: int) -> bool:
    """Add an evaluation's numbers to the run's TensorBoard log, if it has one, at ``step``.

    Returns:
        Whether the run has a log (nothing is written otherwise).
    """
    log_dir = board_dir(run_dir)
    if not log_dir.is_dir():
        return False
    writer = _writer(log_dir, None)
    for proposal, numbers in summary.get("proposals", {}).items():
        writer.add_scalar(f"evaluate/{proposal}/nll", -numbers["log_likelihood"], step)
    for proposal, value in summary.get("bits_per_dim", {}).get("proposals", {}).items():
        writer.add_scalar(f"evaluate/{proposal}/bits_per_dim", value, step)
    writer.add_scalar("evaluate/test_elbo", summary["test_elbo"], step)
    writer.close()
    return True
