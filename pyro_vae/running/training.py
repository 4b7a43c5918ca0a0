"""Training: stochastic variational inference with a Pyro ELBO, checkpointed every epoch.

Each step is what ``pyro.infer.SVI.step`` does -- the objective's ``loss_and_grads`` on one
minibatch, then an Adam step -- with one fused ``torch.optim.Adam`` over all parameters in place
of Pyro's per-tensor optimizer wrapper (:mod:`pyro_vae.running.objectives`). Minibatches go to the
programs directly (no plate subsampling: IWAE stays a valid bound). Every epoch the validation ELBO
is measured and the run directory checkpointed atomically; SIGINT or SIGTERM saves the position
in the epoch, and ``resume=True`` continues to the same weights as an uninterrupted run.

A run's config is written last when it starts, so a run directory with one always loads and
resumes; training holds the directory's lock; a failed write keeps the old file. A non-finite loss
or gradient stops training before the optimizer applies it (``on_nonfinite="skip"``: skips the
batch). ``train`` clears Pyro's global param store when it starts. This module sets a run up;
the loop itself is :class:`pyro_vae.running.trainer.Trainer`.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Any

import pyro
import torch

from pyro_vae.config import Config
from pyro_vae.data.splits import load_data
from pyro_vae.errors import InputError, setting
from pyro_vae.hardware.devices import resolve_device
from pyro_vae.hardware.parallel import start_workers, stop_workers
from pyro_vae.models.vae import VAE, build_vae, check_settings_used
from pyro_vae.parts.contracts import support_of
from pyro_vae.parts.likelihoods import likelihood_support
from pyro_vae.running.baseline import fit_run_baseline
from pyro_vae.running.interrupts import FiguresInterrupted, interrupt_flag
from pyro_vae.running.outcome import TrainResult
from pyro_vae.running.semisupervised import check_labels
from pyro_vae.running.trainer import Trainer
from pyro_vae.storage.lifecycle import clear_run_files, locked, make_run_dir, refuse_existing_run
from pyro_vae.storage.rundir import DataInfo, Run, read_checkpoint, resumed_config, write_config

__all__ = ["TrainResult", "train"]


def train(
    config: Config | None,
    run_dir: str | Path,
    *,
    vae: VAE | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    verbose: bool = False,
    figures: bool = False,
    device: torch.device | str | None = "auto",
    tensorboard: bool = False,
) -> TrainResult:
    """Train a VAE as ``config`` says and leave everything in ``run_dir``.

    Args:
        config: the run's settings. When resuming, ``None`` takes the stored settings; a config
            may differ from them only in ``epochs``, ``early_stopping``, ``time_budget``,
            ``on_nonfinite`` and ``compile``.
        run_dir: where the run directory goes.
        vae: your own model (e.g. ``VAE(MyPrior(), encoder, likelihood)``) in place of the
            config's parts; the config still sets data, objective and training. The run
            directory records that the model is custom: resume it or load it with a model built
            the same way (``vae=``). It is compiled only when ``compile`` asks (not ``auto``).
        resume: continue the run stored in ``run_dir``.
        overwrite: replace the run files in an existing ``run_dir``.
        progress: show a progress bar (default: when stderr is a terminal).
        verbose: print one line per epoch and a final summary (off a terminal, also a line
            a minute within an epoch). Otherwise the same lines go to the ``pyro_vae`` logger at
            level INFO: ``logging.basicConfig(level="INFO")`` shows them.
        figures: write the standard figures (:func:`pyro_vae.plots.kinds.standard_kinds`) into
            ``run_dir`` when training ends.
        device: where to train (:func:`pyro_vae.hardware.devices.resolve_device`: ``"auto"`` is a
            CUDA GPU when torch sees one, else the CPU). The run directory does not record it:
            a run resumes and evaluates on any device.
        tensorboard: log to TensorBoard in ``run_dir/tensorboard`` (:mod:`~pyro_vae.running.board`;
            needs the ``tensorboard`` extra). A resumed run with such a log goes on logging.

    Returns:
        A :class:`TrainResult`.

    Raises:
        InputError: for an existing run directory without ``resume``/``overwrite``, bad data,
            a damaged checkpoint, a directory another process is training in, a custom run
            resumed without its model (or the reverse), or a file that cannot be written (the
            previous version of the file is kept).
        FloatingPointError: for a non-finite loss or gradient with ``on_nonfinite="stop"``.

    Example:
        >>> result = train(Config(epochs=2), "runs/example", verbose=False)  # doctest: +SKIP
        >>> result.metrics[-1]["val_elbo"]  # doctest: +SKIP
        -32.1
    """
    run_dir, target = Path(run_dir), resolve_device(device)
    if vae is not None and not isinstance(vae, VAE):
        raise TypeError(f"vae must be a pyro_vae.VAE, got {type(vae).__name__}")
    if config is not None and not isinstance(config, Config):
        raise TypeError(f"config must be a pyro_vae.Config, got {type(config).__name__}")
    if config is not None:  # one built directly is checked (and coerced) as from_dict does
        config = config.replace()
    if resume:  # settings are checked before the directory is locked or touched
        config = resumed_config(run_dir, config, vae)
    elif config is None:
        raise ValueError("train() needs a config unless it resumes a run")
    else:
        if vae is None:  # a setting no part reads would be ignored silently
            check_settings_used(config)
        if not overwrite:
            refuse_existing_run(run_dir)
    if tensorboard or (resume and (run_dir / "tensorboard").is_dir()):
        from pyro_vae.running.board import check_tensorboard  # (imports matplotlib)

        tensorboard = check_tensorboard()  # refused in one line without the package
    custom = vae is not None
    with contextlib.ExitStack() as held:
        workers, target = start_workers(target)  # under torchrun: this process's rank and GPU
        held.callback(stop_workers)
        state: dict[str, Any] | None = None
        if resume:
            if workers.main:  # rank 0 alone holds the lock and writes
                held.enter_context(locked(run_dir))
            state = read_checkpoint(run_dir)
            if state["epoch"] > config.epochs:  # fewer epochs than done: nothing would happen
                raise InputError(
                    f"{run_dir} has trained {state['epoch']} epochs, more than "
                    f"{setting('epochs', config.epochs)}: pass more to go on"
                )

        # Everything that can fail on bad input happens before the run directory is touched.
        pyro.clear_param_store()
        support = support_of(vae.likelihood) if custom else likelihood_support(config.likelihood)
        splits = load_data(config, support)
        classes = check_labels(config, splits)
        pyro.set_rng_seed(config.seed)
        if vae is None:
            with target:  # built where it will train
                vae = build_vae(
                    config,
                    splits.data_dim,
                    classes,
                    condition_dim=splits.condition_dim,
                    channels=splits.channels,
                )
        workers.barrier()  # every process has checked its input before rank 0 writes
        if state is None:
            vae.init_from_data(splits.marginal_rows())
            fit_run_baseline(vae, config, splits, verbose=verbose and workers.main)
            if workers.main:
                make_run_dir(run_dir)
                held.enter_context(locked(run_dir))
                clear_run_files(run_dir, overwrite, _figure_kinds())
                if not tensorboard:  # a replaced run's log would pass for this one's
                    shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)
        elif state["data_dim"] != splits.data_dim:
            raise InputError(
                f"the data of {run_dir} no longer have {state['data_dim']} values per "
                f"datapoint: point {setting('data_dir')} at the data the run was trained on"
            )

        vae.to(target)  # before the optimizer is made: it holds the parameters where they are
        workers.broadcast(vae.state_dict().values())  # the same start on every rank
        trainer = Trainer(config, vae, splits, run_dir, verbose and workers.main, custom, workers)
        if state is not None:
            trainer.restore(state)
        data = DataInfo.of(splits, classes)
        if state is None and workers.main:  # model and checkpoint first: a run with a
            trainer.save()  # config.json always loads
            write_config(run_dir, config, data, custom_vae=vae if custom else None)
        if tensorboard and workers.main:
            trainer.watch(Run(run_dir, config, data, trainer.used, custom=custom))
        show_bar = workers.main and (sys.stderr.isatty() if progress is None else progress)
        with interrupt_flag(absorb_repeats=workers.many) as interrupted:
            trainer.run(interrupted, show_bar)
        result = trainer.finish()
        if figures and not result.interrupted and workers.main:
            from pyro_vae.plots.kinds import write_training_figures

            run = Run(run_dir, config, data, result.vae, custom=custom)
            try:
                result.figures = write_training_figures(run, splits)
            except KeyboardInterrupt:  # the run is saved: say so, not "nothing to resume"
                raise FiguresInterrupted(run_dir) from None
    return result


def _figure_kinds() -> tuple[str, ...]:
    from pyro_vae.plots.kinds import PLOT_KINDS  # (plots import matplotlib: only when needed)

    return PLOT_KINDS.names()
