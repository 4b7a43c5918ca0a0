"""The training loop: one run's state between steps, its epochs, checkpoints and stop.

:class:`Trainer` holds what a checkpoint holds -- weights, optimizer, the weights' average,
the position in the epoch, the metrics so far -- and runs the epochs: each step is what
``pyro.infer.SVI.step`` does (:mod:`pyro_vae.running.objectives` computes the loss and
gradients; one fused Adam applies them), after which a non-finite loss or gradient stops the run
or skips the batch (``on_nonfinite``); every epoch ends with the validation ELBO, a checkpoint and
the epoch's line. :func:`pyro_vae.running.training.train` sets a run up and hands it over.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm  # text bars: shown only on a terminal, so no widget dependency

from pyro_vae.config import Config
from pyro_vae.data.batches import epoch_batches
from pyro_vae.data.splits import DataSplits
from pyro_vae.errors import InputError, setting
from pyro_vae.estimate.dataset import evaluate_elbo
from pyro_vae.hardware.devices import device_of
from pyro_vae.hardware.parallel import (
    Workers,
    noise_seed,
    split_programs,
)
from pyro_vae.models.vae import VAE
from pyro_vae.progress import EVERY, duration
from pyro_vae.running.averaging import WeightAverage
from pyro_vae.running.interrupts import stopped_message
from pyro_vae.running.objectives import (
    LatentScale,
    announce_compile,
    kl_weight,
    load_optimizer_state,
    make_gradients,
    make_optimizer,
    nonfinite_problem,
    optimizer_state,
)
from pyro_vae.running.outcome import TrainResult, divergence, epoch_line, summary_line
from pyro_vae.running.semisupervised import accuracies, labelled_gradients
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    Run,
    save_checkpoint,
    write_metrics,
    write_model,
)

__all__ = ["Trainer"]

_LOG = logging.getLogger("pyro_vae")

# what the noise's seeds are keyed by, beside the run's seed (pyro_vae.hardware.parallel.noise_seed)
_STEP, _VALIDATION, _PROBE, _TEST = range(1, 5)


class Trainer:
    """The state of one training run between steps (kept together for checkpoints)."""

    def __init__(
        self,
        config: Config,
        vae: VAE,
        splits: DataSplits,
        run_dir: Path,
        verbose: bool,
        custom: bool,
        workers: Workers,
    ) -> None:
        self.config, self.vae, self.splits, self.run_dir = config, vae, splits, run_dir
        self.verbose, self.workers = verbose, workers
        self.scale = LatentScale(
            kl_weight(config.beta, config.warmup_epochs, 0.0), sites=vae.latent_sites
        )
        # Pyro's ELBO computes the loss and gradients; one fused torch Adam applies them: the
        # rule of pyro.optim.Adam, which would make an optimizer call per parameter tensor.
        self.parameters = list(vae.parameters())
        self.optimizer = make_optimizer(self.parameters, config.learning_rate)
        # noise drawn for the global batch (rows=): any number of processes takes one path
        model, guide = (self.scale(p) for p in split_programs(vae.model, vae.guide))
        self.steps_per_epoch = math.ceil(splits.train.shape[0] / config.batch_size)
        # M2 scores labelled images beside each minibatch (pyro_vae.running.semisupervised)
        labelled = labelled_gradients(vae, (model, guide), config, splits, self.parameters, workers)
        self.gradients = labelled or make_gradients(
            config, vae, (model, guide), self.parameters, workers, custom=custom,
            steps=config.epochs * self.steps_per_epoch, scale=self.scale)  # fmt: skip
        self.device = device_of(vae)  # the data stay on the CPU; batches go to the model
        self.train_probe = splits.probe().to(self.device)  # the training curves of metrics.csv
        self.validation = splits.validation.to(self.device)
        self.epoch, self.step = 0, 0
        self.loss_sum, self.loss_count, self.epoch_seconds, self.skipped = 0.0, 0, 0.0, 0
        self.metrics: list[dict[str, float]] = []
        self.best_elbo, self.best_epoch = -math.inf, -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.interrupted, self.stopped_early, self.signal = False, False, 0
        self.board: Any = None  # a TensorBoard log (pyro_vae.running.board), when asked for
        self.average = WeightAverage(vae, config.ema) if config.ema else None
        # what validation, the test ELBO and the figures see: the average when there is one
        self.used = self.average.module if self.average else vae

    def watch(self, run: Run) -> None:
        """Log the run to TensorBoard from its current step on."""
        from pyro_vae.plots.kinds import FigureSource
        from pyro_vae.running.board import TrainingBoard

        source = FigureSource(run, lambda: (self.splits.test, self.splits.y_test))
        start = self.epoch * self.steps_per_epoch + self.step
        self.board = TrainingBoard(self.run_dir, source, self.steps_per_epoch, start_step=start)

    # -- checkpoint state -----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What the checkpoint holds: weights, optimizer, average, position, metrics."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "epoch_seconds": self.epoch_seconds,
            "skipped": self.skipped,
            "metrics": self.metrics,
            "best_elbo": self.best_elbo if math.isfinite(self.best_elbo) else None,
            "best_epoch": self.best_epoch,
            "best_model": self.best_state,
            "stopped_early": self.stopped_early,
            "data_dim": self.splits.data_dim,
            "model": self.vae.state_dict(),
            "optimizer": optimizer_state(self.optimizer),
            "average": self.average.state() if self.average else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state` (an InputError if it does not fit)."""
        try:
            self.vae.load_state_dict(state["model"])
            self.epoch, self.step = int(state["epoch"]), int(state["step"])
            self.loss_sum, self.loss_count = float(state["loss_sum"]), int(state["loss_count"])
            self.epoch_seconds = float(state["epoch_seconds"])
            self.skipped = int(state.get("skipped", 0))
            self.metrics = [
                {**dict(row), "skipped_steps": row.get("skipped_steps", 0)}
                for row in state["metrics"]
            ]
            best = state["best_elbo"]
            self.best_elbo = -math.inf if best is None else float(best)
            self.best_epoch = int(state["best_epoch"])
            self.best_state = state["best_model"]
            self.stopped_early = bool(state["stopped_early"])
            load_optimizer_state(self.optimizer, state["optimizer"])
            if self.average is not None:
                self.average.restore(state["average"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise InputError(
                f"{self.run_dir / CHECKPOINT_FILE} does not match this model "
                f"({type(exc).__name__}): it is damaged or from another version; train again"
            ) from None

    def save(self) -> None:
        """Checkpoint, model and metrics, each replaced atomically; rank 0 alone writes."""
        if not self.workers.main:
            return
        save_checkpoint(self.run_dir, self.state())
        ema = self.average.module if self.average else None
        write_model(
            self.run_dir, self.vae, {"epoch": str(self.epoch), "step": str(self.step)}, ema=ema
        )
        write_metrics(self.run_dir, self.metrics)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, interrupted: dict[str, int], show_bar: bool) -> None:
        """Train to the last epoch, the time budget, early stopping or a stop signal."""
        cfg = self.config
        total = cfg.epochs * self.steps_per_epoch
        done = min(total, self.epoch * self.steps_per_epoch + self.step)
        bar = tqdm(
            total=total,
            initial=done,
            disable=not show_bar,
            unit="step",
            dynamic_ncols=True,
            leave=False,
        )
        first = self.splits.train[: cfg.batch_size]
        if self.splits.binarize_train:  # any valid batch will do: values don't matter here
            first = (first > 0.5).to(first.dtype)
        sizes = (first.shape[0], self.splits.train.shape[0] % cfg.batch_size or first.shape[0])
        if self.epoch < cfg.epochs and not self.out_of_time():  # a finished run: no compile
            self.gradients.compile(first, sizes)
            if self.workers.main:  # how the step is compiled: in config.json, said if verbose
                announce_compile(self.gradients, self.run_dir, self.verbose)
        elif self.verbose:  # resumed after its end: say so rather than nothing
            print(
                f"{self.run_dir} has done its {self.epoch} epochs (or its time budget): nothing "
                f"to train; pass more {setting('epochs')} or {setting('time_budget')} to go on"
            )
        lines = self.verbose and not show_bar  # off a terminal: a line a minute, not a bar
        try:
            while self.epoch < cfg.epochs and not self.stopped_early and not self.out_of_time():
                started = last_line = time.perf_counter()
                first_step = self.step
                batches = epoch_batches(
                    self.splits.train,
                    cfg.batch_size,
                    seed=cfg.seed,
                    epoch=self.epoch,
                    binarize=self.splits.binarize_train,
                    start_step=self.step,
                    columns=self.splits.target_dim,
                    dequantize=self.splits.dequantize_bits,
                )
                for batch in batches:
                    progress = self.epoch + self.step / self.steps_per_epoch
                    self.scale.scale = kl_weight(cfg.beta, cfg.warmup_epochs, progress)
                    loss, stop = self._svi_step(batch, interrupted)
                    if loss is None:
                        self.skipped += 1
                    else:
                        self.loss_sum += loss
                        self.loss_count += batch.shape[0]
                    self.step += 1
                    if self.board is not None and loss is not None:
                        self.board.step(
                            self.epoch * self.steps_per_epoch + self.step, loss=loss,
                            rows=batch.shape[0], parameters=self.parameters,
                            learning_rate=self.optimizer.param_groups[0]["lr"])  # fmt: skip
                    bar.update(1)
                    bar.set_description(f"epoch {self.epoch + 1}/{cfg.epochs}")
                    if self.loss_count:
                        bar.set_postfix(objective=f"{-self.loss_sum / self.loss_count:.2f}")
                    if lines and time.perf_counter() - last_line >= EVERY:
                        last_line = time.perf_counter()
                        print(self._step_line(last_line - started, first_step), flush=True)
                    if stop:  # every process stops at the same step
                        self.epoch_seconds += time.perf_counter() - started
                        self._stop(interrupted.get("signal", signal.SIGTERM))
                        return
                self.epoch_seconds += time.perf_counter() - started
                if not self.loss_count:  # every step skipped (on_nonfinite="skip"): none learnt
                    raise self._nonfinite(
                        f"every step of epoch {self.epoch + 1} was non-finite and skipped"
                    )
                self._end_epoch()
                if cfg.time_budget > 0 and self.epoch < cfg.epochs:  # the bar's end: the budget's
                    per_step = self.metrics[-1]["seconds"] / self.steps_per_epoch
                    left = cfg.time_budget - sum(row["seconds"] for row in self.metrics)
                    bar.total = min(total, bar.n + max(0, math.ceil(left / per_step)))
                    bar.refresh()
        finally:
            bar.close()

    def _step_line(self, seconds: float, first_step: int) -> str:
        """Where the epoch stands, and the time left (at this epoch's pace, within the budget)."""
        cfg, steps = self.config, self.steps_per_epoch
        per_step = seconds / max(1, self.step - first_step)
        left = ((cfg.epochs - self.epoch) * steps - self.step) * per_step
        if cfg.time_budget > 0:
            spent = sum(row["seconds"] for row in self.metrics) + self.epoch_seconds + seconds
            left = min(left, cfg.time_budget - spent)
        return (
            f"epoch {self.epoch + 1}/{cfg.epochs}: step {self.step}/{steps}, "
            f"{duration(seconds)} into the epoch; about {duration(left)} left in all"
        )

    def out_of_time(self) -> bool:
        """Whether the finished epochs have used up ``time_budget`` (never when it is 0)."""
        budget = self.config.time_budget
        return budget > 0 and sum(row["seconds"] for row in self.metrics) >= budget

    def _svi_step(self, batch: torch.Tensor, stop: dict[str, int]) -> tuple[float | None, bool]:
        """One optimizer step on the global ``batch`` (this process does its rows).

        Returns the loss (``None`` when the step was skipped as non-finite) and whether any
        process was asked to stop (``stop`` is this one's interrupt flag).
        """
        # the step's noise is keyed by (seed, epoch, step), in any process and after a resume
        seed = noise_seed(self.config.seed, _STEP, self.epoch, self.step)
        loss = self.gradients(batch, seed)
        # the stop flag as it is now, after the step's work: one message carries it with the sum
        loss, stops = self.workers.sum_gradients(self.parameters, loss, int(bool(stop)))
        problem = nonfinite_problem(loss, self.parameters)
        if problem:
            if self.config.on_nonfinite == "skip":
                return None, stops > 0
            raise self._nonfinite(
                f"{problem} at epoch {self.epoch + 1}, step {self.step + 1}",
                f", or pass {setting('on_nonfinite', 'skip')} to skip such batches",
            )
        self.optimizer.step()
        if self.average is not None:
            self.average.update(self.vae)
        return loss, stops > 0

    def _nonfinite(self, problem: str, alternative: str = "") -> FloatingPointError:
        """The error that stops a run for non-finite numbers: the fix, and what is kept."""
        kept = (
            f"the checkpoint of epoch {self.epoch} in {self.run_dir} is kept"
            if self.epoch
            else f"{self.run_dir} keeps the untrained start"
        )
        fix = f"lower {setting('learning_rate')}{alternative}"
        return FloatingPointError(f"{problem}: {fix}; {kept}")

    def _end_epoch(self) -> None:
        cfg = self.config
        started = time.perf_counter()
        self.used.eval()
        seeds = [noise_seed(cfg.seed, kind, self.epoch) for kind in (_VALIDATION, _PROBE)]
        val = evaluate_elbo(self.used, self.validation, seed=seeds[0], workers=self.workers)
        fit = evaluate_elbo(self.used, self.train_probe, seed=seeds[1], workers=self.workers)
        self.used.train()
        seconds = self.epoch_seconds + time.perf_counter() - started
        # the slowest process's time: every process must take the same time-budget decision
        seconds = self.workers.max(seconds)
        row = {
            "epoch": self.epoch + 1,
            "train_objective": -self.loss_sum / self.loss_count,
            "val_elbo": val["elbo"],
            "val_reconstruction": val["reconstruction"],
            "val_kl": val["kl"],
            "train_elbo": fit["elbo"],
            "train_reconstruction": fit["reconstruction"],
            "train_kl": fit["kl"],
            **accuracies(self.used, splits=self.splits, probe=self.train_probe),
            "kl_weight": self.scale.scale,
            "learning_rate": float(self.optimizer.param_groups[0]["lr"]),
            "skipped_steps": self.skipped,
            "seconds": seconds,
        }
        self.metrics.append(row)
        for group in self.optimizer.param_groups:  # decay the learning rate for the next epoch
            group["lr"] = cfg.learning_rate * cfg.lr_decay ** (self.epoch + 1)
        if val["elbo"] > self.best_elbo:
            self.best_elbo, self.best_epoch = val["elbo"], self.epoch + 1
            if cfg.early_stopping:
                self.best_state = {k: v.clone() for k, v in self.used.state_dict().items()}
        elif cfg.early_stopping and self.epoch + 1 - self.best_epoch >= cfg.early_stopping:
            self.stopped_early = True
        self.epoch, self.step = self.epoch + 1, 0
        self.loss_sum, self.loss_count, self.epoch_seconds, self.skipped = 0.0, 0, 0.0, 0
        self.save()
        if self.board is not None:
            last = self.epoch >= cfg.epochs or self.stopped_early or self.out_of_time()
            self.board.epoch(row, self.validation, last=last)
        if self.verbose:
            tqdm.write(epoch_line(row, cfg.epochs))
        else:  # train() from Python: through logging (logging.basicConfig(level="INFO") shows it)
            _LOG.info(epoch_line(row, cfg.epochs))

    def _stop(self, signum: int) -> None:
        self.interrupted, self.signal = True, signum
        self.save()
        if self.board is not None:
            self.board.writer.close()
        if not self.workers.main:
            return
        where = f"epoch {self.epoch + 1} at step {self.step}"
        message = stopped_message(signum, self.run_dir, where, many=self.workers.many)
        print(message, file=sys.stderr)

    def finish(self) -> TrainResult:
        """The run's outcome, with the weights it ends with (the best or the average, if kept)."""
        result = TrainResult(
            self.run_dir, self.used, self.splits, self.metrics, self.interrupted, self.stopped_early
        )
        result.rank = self.workers.rank
        if self.interrupted:
            result.signal = self.signal
            return result  # _stop saved the model with the checkpoint
        if self.best_state is not None:
            self.used.load_state_dict(self.best_state)
        if self.workers.main:
            ema = self.average.module if self.average else None
            write_model(self.run_dir, self.vae, {"epoch": str(self.epoch)}, ema=ema)
        self.used.eval()
        seed = noise_seed(self.config.seed, _TEST)
        test = evaluate_elbo(self.used, self.splits.test, seed=seed, workers=self.workers)
        result.test_elbo = test["elbo"]
        if self.board is not None:
            self.board.close(self.config, self.metrics, result.test_elbo)
        best = self.best_epoch if self.stopped_early else None
        line = summary_line(self.metrics, result.test_elbo, self.run_dir, best)
        result.warnings = [w for w in [divergence(self.metrics)] if w]
        if self.verbose:
            print(line)
            for warning in result.warnings:
                print(f"warning: {warning}", file=sys.stderr)
        else:
            _LOG.info(line)
            for warning in result.warnings:
                _LOG.warning(warning)
        return result
