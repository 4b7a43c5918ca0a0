"""Training: stochastic variational inference with a Pyro ELBO, checkpointed every epoch.

Each step is what ``pyro.infer.SVI.step`` does -- the objective's ``loss_and_grads`` on one
minibatch, with the objective from :mod:`pyro_vae.objectives`, then an Adam step (optionally
decaying the learning rate every epoch) -- with one fused ``torch.optim.Adam`` over all
parameters (:func:`make_optimizer`) in place of Pyro's optimizer wrapper, which keeps one Adam per
parameter tensor.
Minibatches go to the model and guide directly (no plate subsampling), which keeps the IWAE
objective a valid bound. After every epoch the validation ELBO, its reconstruction and KL terms
are measured and the run directory is checkpointed atomically; Ctrl-C (SIGINT) or SIGTERM saves
the position inside the epoch, and ``resume=True`` continues exactly where the run stopped, so an
interrupted run ends with the same metrics as an uninterrupted one.

What survives what:

* The run directory holds a run once ``config.json`` is written, and that file is written last
  when a run starts (after the initial model and checkpoint), so a directory with a
  ``config.json`` can always be loaded and resumed, whenever its process was killed (SIGKILL
  included): every file is replaced atomically, and a killed run resumes from its last
  checkpoint (the end of the last finished epoch) to the same final numbers.
* One process at a time: training holds the directory's lock (:mod:`pyro_vae.locking`).
* A write that fails (disk full, read-only directory) raises :class:`InputError`; the file it
  would have replaced is left as it was.
* A non-finite loss or gradient stops training before the optimizer applies it, naming the epoch
  and step and keeping the last checkpoint; with ``on_nonfinite="skip"`` such batches are
  skipped instead and counted in the ``skipped_steps`` column of ``metrics.csv``.

Pyro keeps the parameters that ``pyro.module`` registers in one global param store; ``train``
clears it when it starts, as every Pyro training script does.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyro
import torch
from tqdm import tqdm  # text bars: shown only on a terminal, so no widget dependency

from pyro_vae.checkpoint import (
    CONFIG_FILE,
    RUN_FILES,
    DataInfo,
    Run,
    read_checkpoint,
    read_config,
    remove_stale_temporaries,
    save_checkpoint,
    write_config,
    write_metrics,
    write_model,
)
from pyro_vae.config import RESUMABLE, RESUMABLE_OPTIONS, Config
from pyro_vae.data import DataSplits, binarize_fixed, epoch_batches, load_data
from pyro_vae.errors import InputError
from pyro_vae.estimators import elbo_terms
from pyro_vae.likelihoods import likelihood_support
from pyro_vae.locking import run_lock
from pyro_vae.objectives import LatentScale, build_objective, kl_weight, quiet_jit_warnings
from pyro_vae.vae import VAE, build_vae

__all__ = [
    "TrainResult",
    "compile_objective",
    "evaluate_elbo",
    "make_optimizer",
    "nonfinite_problem",
    "train",
]

_EVAL_BATCH = 1000


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the run directory.
        vae: the trained model (best validation epoch when early stopping is on).
        data: the data splits the run used.
        metrics: one dict per finished epoch, as in ``metrics.csv``.
        interrupted: whether a signal stopped the run (it can be resumed).
        signal: the number of that signal (0 when none).
        stopped_early: whether early stopping ended the run.
        test_elbo: mean test-set ELBO per datapoint (nats); ``nan`` when interrupted.
        figures: the figure files written into the run directory (``figures=True``).
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

    @property
    def exit_status(self) -> int:
        """The command line's exit status: 0, or 128 + the signal (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signal if self.interrupted else 0


def evaluate_elbo(vae: VAE, x: torch.Tensor, batch_size: int = _EVAL_BATCH) -> dict[str, float]:
    """Mean ELBO, reconstruction and KL terms per datapoint over ``x`` (one sample of z each).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> sorted(evaluate_elbo(vae, torch.ones(5, 4)))
        ['elbo', 'kl', 'reconstruction']
    """
    totals = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    for start in range(0, x.shape[0], batch_size):
        terms = elbo_terms(vae.model, vae.guide, x[start : start + batch_size])
        for name in totals:
            totals[name] += float(getattr(terms, name).double().sum())
    return {name: value / x.shape[0] for name, value in totals.items()}


def train(
    config: Config | None,
    run_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    verbose: bool = False,
    figures: bool = False,
) -> TrainResult:
    """Train a VAE as ``config`` says and leave everything in ``run_dir``.

    Args:
        config: the run's settings. When resuming, ``None`` takes the stored settings; a config
            may differ from them only in ``epochs``, ``early_stopping``, ``time_budget``,
            ``on_nonfinite`` and ``jit``.
        run_dir: where the run directory goes.
        resume: continue the run stored in ``run_dir``.
        overwrite: replace the run files in an existing ``run_dir``.
        progress: show a progress bar (default: when stderr is a terminal).
        verbose: print one line per epoch and a final summary.
        figures: write the standard figures (:func:`pyro_vae.figures.standard_kinds`) into
            ``run_dir`` when training ends.

    Returns:
        A :class:`TrainResult`.

    Raises:
        InputError: for an existing run directory without ``resume``/``overwrite``, bad data,
            a damaged checkpoint, a directory another process is training in, or a file that
            cannot be written (the previous version of the file is kept).
        FloatingPointError: for a non-finite loss or gradient with ``on_nonfinite="stop"``.

    Example:
        >>> result = train(Config(epochs=2), "runs/example", verbose=False)  # doctest: +SKIP
        >>> result.metrics[-1]["val_elbo"]  # doctest: +SKIP
        -32.1
    """
    run_dir = Path(run_dir)
    if resume:  # settings are checked before the directory is locked or touched
        config = _resumed_config(run_dir, config)
    elif config is None:
        raise ValueError("train() needs a config unless it resumes a run")
    elif not overwrite:
        _refuse_existing_run(run_dir)
    with contextlib.ExitStack() as held:
        state: dict[str, Any] | None = None
        if resume:
            held.enter_context(run_lock(run_dir))
            remove_stale_temporaries(run_dir)
            state = read_checkpoint(run_dir)

        # Everything that can fail on bad input happens before the run directory is touched.
        pyro.clear_param_store()
        support = likelihood_support(config.likelihood)
        splits = load_data(config, support)
        pyro.set_rng_seed(config.seed)
        vae = build_vae(config, splits.data_dim)
        if state is None:
            vae.init_from_data(splits.train)
            _make_run_dir(run_dir)
            held.enter_context(run_lock(run_dir))
            _prepare_run_dir(run_dir, overwrite)
            remove_stale_temporaries(run_dir)
        elif state["data_dim"] != splits.data_dim:
            raise InputError(
                f"the data of {run_dir} no longer have {state['data_dim']} values per "
                "datapoint: point --data-dir at the data the run was trained on"
            )

        trainer = _Trainer(config, vae, splits, run_dir, verbose)
        if state is not None:
            trainer.restore(state)
        else:  # model and checkpoint first: a directory with a config.json is always loadable
            trainer.save()
            write_config(run_dir, config, DataInfo(splits.data_dim, splits.image_shape))
        show_bar = sys.stderr.isatty() if progress is None else progress
        with _interrupt_flag() as interrupted:
            trainer.run(interrupted, show_bar)
        result = trainer.finish()
        if figures and not result.interrupted:
            _write_figures(result, config)
    return result


def make_optimizer(parameters: list[torch.Tensor], learning_rate: float) -> torch.optim.Adam:
    """The trainer's optimizer: one ``torch.optim.Adam`` over all parameters, fused if possible.

    Pyro's ``pyro.optim.Adam`` keeps one torch Adam per parameter tensor, and torch's default
    Adam on the CPU updates tensor by tensor in Python; the fused kernel applies the same rule
    (up to float rounding) in one call per step, several times faster for the default model
    (``bench/train_speed.py`` times both). Where the parameters' device has no fused kernel
    (or an older torch lacks it), the default implementation is used.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> make_optimizer([w], 1e-3).param_groups[0]["lr"]
        0.001
    """
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for this device or torch
        return torch.optim.Adam(parameters, lr=learning_rate)


def nonfinite_problem(loss: float, parameters: list[torch.Tensor]) -> str:
    """What is not finite about a step's loss or gradients ('' when nothing).

    Checked after the backward pass and before the optimizer uses the gradients. The sum of all
    gradient elements is NaN or infinite as soon as one element is (finite sums too large for
    float32 count as non-finite too; such gradients would wreck Adam anyway). One sum per tensor
    reads each gradient once, the least a full check can do.

    Example:
        >>> w = torch.ones(2, requires_grad=True); w.grad = torch.tensor([1.0, float("inf")])
        >>> nonfinite_problem(3.0, [w])
        'a gradient became non-finite'
    """
    if not math.isfinite(loss):
        return f"the training loss became {loss}"
    if not math.isfinite(sum(float(p.grad.sum()) for p in parameters if p.grad is not None)):
        return "a gradient became non-finite"
    return ""


def compile_objective(objective: Any, model: Any, guide: Any, batch: torch.Tensor) -> None:
    """Compile a JIT objective (``jit=True``) on ``batch`` without touching the random stream.

    Pyro's JIT runs the programs several times when it first sees them (to find the parameters,
    then to trace); done inside a forked random state and with the gradients cleared after, the
    compiled objective then draws exactly the noise the plain objective would, so a ``jit`` run
    follows the same path as a plain one up to float rounding. ``model`` and ``guide`` must be
    the objects passed at every later step (the compiled function is keyed by their identity).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> from pyro_vae.objectives import build_objective
        >>> pyro.clear_param_store()  # JIT objectives find their parameters in the param store
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> model, guide = vae.model, vae.guide
        >>> compile_objective(build_objective("elbo", 1, jit=True), model, guide, torch.ones(3, 4))
    """
    with torch.random.fork_rng(), quiet_jit_warnings():
        objective.loss_and_grads(model, guide, batch)
    for param in pyro.get_param_store().values():
        param.grad = None


def _write_figures(result: TrainResult, config: Config) -> None:
    from pyro_vae.figures import FigureSource, write_standard_figures  # matplotlib: on demand

    splits = result.data
    run = Run(result.run_dir, config, DataInfo(splits.data_dim, splits.image_shape), result.vae)
    written = write_standard_figures(FigureSource(run, lambda: (splits.test, splits.y_test)))
    result.figures = written


# ---------------------------------------------------------------------------------------------


def _optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's state_dict with string keys (the checkpoint's skeleton is JSON)."""
    state = optimizer.state_dict()
    return {
        "state": {str(k): v for k, v in state["state"].items()},
        "param_groups": state["param_groups"],
    }


def _optimizer_state_back(saved: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`_optimizer_state`."""
    return {
        "state": {int(k): v for k, v in saved["state"].items()},
        "param_groups": saved["param_groups"],
    }


def _make_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir} exists and is not a directory: choose another --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the run directory {run_dir} ({exc.strerror}): choose a writable --out"
        ) from None


def _refuse_existing_run(run_dir: Path) -> None:
    if (run_dir / CONFIG_FILE).exists():
        raise InputError(
            f"run directory {run_dir} already holds a run: pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out"
        )


def _prepare_run_dir(run_dir: Path, overwrite: bool) -> None:
    """Clear the files of a run being replaced (called with the directory's lock held)."""
    if not overwrite:  # again: another process may have started a run since the first check
        _refuse_existing_run(run_dir)
    from pyro_vae.figures import FIGURES

    # Without a config.json the files are what a start killed before its first save left.
    # Figures of a replaced run go too: a manifold.png of an old 2-D run would mislead.
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    existing += [f"{k}.png" for k in FIGURES.names() if (run_dir / f"{k}.png").is_file()]
    try:
        for name in existing:
            (run_dir / name).unlink()
    except OSError as exc:
        raise InputError(
            f"cannot write the run directory {run_dir} ({exc.strerror}): choose a writable --out"
        ) from None


def _resumed_config(run_dir: Path, requested: Config | None) -> Config:
    stored, _ = read_config(run_dir)
    if requested is None:
        return stored
    before = stored.to_dict()
    changed = sorted(
        k for k, v in requested.to_dict().items() if k not in RESUMABLE and v != before[k]
    )
    if changed:
        raise InputError(
            f"cannot change {', '.join(changed)} when resuming {run_dir}: only "
            f"{RESUMABLE_OPTIONS} may differ; start a new run for other settings"
        )
    return requested


@contextmanager
def _interrupt_flag() -> Iterator[dict[str, int]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks after each step."""
    flag: dict[str, int] = {}
    handled = (signal.SIGINT, signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        flag["signal"] = signum
        signal.signal(signum, previous[signum])  # a second signal acts at once

    previous: dict[int, Any] = {}
    try:
        for sig in handled:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals cannot be caught here
        previous.clear()
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Trainer:
    """The state of one training run between steps (kept together for checkpoints)."""

    def __init__(
        self, config: Config, vae: VAE, splits: DataSplits, run_dir: Path, verbose: bool
    ) -> None:
        self.config, self.vae, self.splits, self.run_dir = config, vae, splits, run_dir
        self.verbose = verbose
        self.scale = LatentScale(kl_weight(config.beta, config.warmup_epochs, 0.0))
        # Pyro's ELBO computes the loss and the gradients; one fused torch Adam over all
        # parameters applies them: the update rule of pyro.optim.Adam, which would make a dozen
        # optimizer calls per step for the default model (one per parameter tensor).
        self.parameters = list(vae.parameters())
        self.optimizer = make_optimizer(self.parameters, config.learning_rate)
        self.objective = build_objective(config.objective, config.num_particles, config.use_jit)
        self.model, self.guide = self.scale(vae.model), self.scale(vae.guide)
        # A fixed share of the training set, as large as the validation set, scored like it
        # after every epoch: the training curves of metrics.csv.
        probe = splits.train[: splits.validation.shape[0]]
        self.train_probe = binarize_fixed(probe) if splits.binarize_train else probe
        self.steps_per_epoch = math.ceil(splits.train.shape[0] / config.batch_size)
        self.epoch, self.step = 0, 0
        self.loss_sum, self.loss_count, self.epoch_seconds = 0.0, 0, 0.0
        self.skipped = 0
        self.metrics: list[dict[str, float]] = []
        self.best_elbo, self.best_epoch = -math.inf, -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.interrupted = self.stopped_early = False
        self.signal = 0

    # -- checkpoint state -----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
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
            "optimizer": _optimizer_state(self.optimizer),
            "torch_rng": torch.get_rng_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
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
            self.optimizer.load_state_dict(_optimizer_state_back(state["optimizer"]))
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise InputError(
                f"{self.run_dir}/checkpoint.safetensors does not match this model "
                f"({type(exc).__name__}): it is damaged or from another version; train again"
            ) from None

    def save(self) -> None:
        """Checkpoint, model and metrics, each replaced atomically (the checkpoint rules)."""
        save_checkpoint(self.run_dir, self.state())
        write_model(self.run_dir, self.vae, {"epoch": str(self.epoch), "step": str(self.step)})
        write_metrics(self.run_dir, self.metrics)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, interrupted: dict[str, int], show_bar: bool) -> None:
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
        if cfg.use_jit:
            first = self.splits.train[: cfg.batch_size]
            if self.splits.binarize_train:  # any valid batch will do: values don't matter here
                first = (first > 0.5).to(first.dtype)
            compile_objective(self.objective, self.model, self.guide, first)
        try:
            while self.epoch < cfg.epochs and not self.stopped_early and not self.out_of_time():
                started = time.perf_counter()
                batches = epoch_batches(
                    self.splits.train,
                    cfg.batch_size,
                    seed=cfg.seed,
                    epoch=self.epoch,
                    binarize=self.splits.binarize_train,
                    start_step=self.step,
                )
                for batch in batches:
                    progress = self.epoch + self.step / self.steps_per_epoch
                    self.scale.scale = kl_weight(cfg.beta, cfg.warmup_epochs, progress)
                    loss = self._svi_step(batch)
                    if loss is None:
                        self.skipped += 1
                    else:
                        self.loss_sum += loss
                        self.loss_count += batch.shape[0]
                    self.step += 1
                    bar.update(1)
                    bar.set_description(f"epoch {self.epoch + 1}/{cfg.epochs}")
                    bar.set_postfix(objective=f"{-self.loss_sum / self.loss_count:.2f}")
                    if interrupted:
                        self.epoch_seconds += time.perf_counter() - started
                        self._stop(interrupted["signal"])
                        return
                self.epoch_seconds += time.perf_counter() - started
                self._end_epoch()
        finally:
            bar.close()

    def out_of_time(self) -> bool:
        """Whether the finished epochs have used up ``time_budget`` (never when it is 0)."""
        budget = self.config.time_budget
        return budget > 0 and sum(row["seconds"] for row in self.metrics) >= budget

    def _svi_step(self, batch: torch.Tensor) -> float | None:
        """One optimizer step; ``None`` when the step was skipped as non-finite."""
        self.optimizer.zero_grad(set_to_none=True)
        quiet = quiet_jit_warnings() if self.config.use_jit else contextlib.nullcontext()
        with quiet:  # the JIT's deprecation and tracer chatter come every step
            loss = float(self.objective.loss_and_grads(self.model, self.guide, batch))
        problem = nonfinite_problem(loss, self.parameters)
        if problem:
            if self.config.on_nonfinite == "skip":
                return None
            kept = (
                f"the checkpoint of epoch {self.epoch} in {self.run_dir} is kept"
                if self.epoch
                else f"{self.run_dir} keeps the untrained start"
            )
            raise FloatingPointError(
                f"{problem} at epoch {self.epoch + 1}, step {self.step + 1}: lower "
                f"--learning-rate, or pass --on-nonfinite skip to skip such batches; {kept}"
            )
        self.optimizer.step()
        return loss

    def _end_epoch(self) -> None:
        cfg = self.config
        started = time.perf_counter()
        self.vae.eval()
        val = evaluate_elbo(self.vae, self.splits.validation)
        fit = evaluate_elbo(self.vae, self.train_probe)
        self.vae.train()
        seconds = self.epoch_seconds + time.perf_counter() - started
        row = {
            "epoch": self.epoch + 1,
            "train_objective": -self.loss_sum / max(1, self.loss_count),
            "val_elbo": val["elbo"],
            "val_reconstruction": val["reconstruction"],
            "val_kl": val["kl"],
            "train_elbo": fit["elbo"],
            "train_reconstruction": fit["reconstruction"],
            "train_kl": fit["kl"],
            "kl_weight": self.scale.scale,
            "learning_rate": self._learning_rate(),
            "skipped_steps": self.skipped,
            "seconds": seconds,
        }
        self.metrics.append(row)
        for group in self.optimizer.param_groups:  # decay the learning rate for the next epoch
            group["lr"] = cfg.learning_rate * cfg.lr_decay ** (self.epoch + 1)
        if val["elbo"] > self.best_elbo:
            self.best_elbo, self.best_epoch = val["elbo"], self.epoch + 1
            if cfg.early_stopping:
                self.best_state = {k: v.clone() for k, v in self.vae.state_dict().items()}
        elif cfg.early_stopping and self.epoch + 1 - self.best_epoch >= cfg.early_stopping:
            self.stopped_early = True
        self.epoch, self.step = self.epoch + 1, 0
        self.loss_sum, self.loss_count, self.epoch_seconds = 0.0, 0, 0.0
        self.skipped = 0
        self.save()
        if self.verbose:
            tqdm.write(
                f"epoch {row['epoch']:>3}/{cfg.epochs}"
                f"  train objective {row['train_objective']:9.3f}"
                f"  val ELBO {row['val_elbo']:9.3f}  KL {row['val_kl']:7.3f}  {seconds:6.1f}s"
            )

    def _learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _stop(self, signum: int) -> None:
        self.interrupted, self.signal = True, signum
        self.save()
        name = signal.Signals(signum).name
        print(
            f"{name} received: saved epoch {self.epoch + 1} at step {self.step} in {self.run_dir};"
            f" continue with: pyro-vae train --resume {self.run_dir} (exit status {128 + signum})",
            file=sys.stderr,
        )

    def finish(self) -> TrainResult:
        result = TrainResult(
            self.run_dir, self.vae, self.splits, self.metrics, self.interrupted, self.stopped_early
        )
        if self.interrupted:
            result.signal = self.signal
            return result  # _stop saved the model with the checkpoint
        if self.best_state is not None:
            self.vae.load_state_dict(self.best_state)
        write_model(self.run_dir, self.vae, {"epoch": str(self.epoch)})
        self.vae.eval()
        result.test_elbo = evaluate_elbo(self.vae, self.splits.test)["elbo"]
        if self.verbose:
            last = self.metrics[-1] if self.metrics else {}
            stop = f" (early stop; best epoch {self.best_epoch})" if self.stopped_early else ""
            print(
                f"trained {len(self.metrics)} epochs{stop} in "
                f"{sum(r['seconds'] for r in self.metrics):.1f}s: "
                f"validation ELBO {last.get('val_elbo', math.nan):.3f}, "
                f"test ELBO {result.test_elbo:.3f} nats per datapoint; run saved in {self.run_dir}"
            )
        return result
