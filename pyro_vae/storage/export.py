"""Sharing a run: a compact copy of a run directory, with one set of weights and no training state.

A run directory keeps what training needs to go on -- the checkpoint, with the optimizer's
moments -- and, with ``--ema``, two sets of weights. A model to share (the repository's
``pretrained/`` folder is made this way) needs neither: :func:`export_run` copies the run's
settings, training log, evaluation, tables and figures, and writes the weights that evaluation
uses as the model, named in its metadata. The copy loads with
:func:`~pyro_vae.storage.rundir.load_run` and works with every command that reads a run
(``evaluate``, ``sample``, ``plot``, ...); resuming it says that it was exported.

The copy is built in a hidden folder beside the destination and moved into place when complete:
an export that fails leaves no half-written model behind, and never touches the source.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import safetensors.torch

from pyro_vae.errors import InputError, spell
from pyro_vae.storage.document import read_document
from pyro_vae.storage.files import atomic_write_bytes, read_safetensors
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    ESTIMATES_FILE,
    EVALUATION_FILE,
    MODEL_FILE,
    RUN_FILES,
    figure_files,
    read_evaluation,
    read_weights,
)

__all__ = ["Export", "export_run"]

#: The files of a run that training alone needs; an export leaves them out.
_TRAINING_STATE = (CHECKPOINT_FILE,)
#: The files of an evaluation, copied only with the weights that evaluation used.
_EVALUATION = (EVALUATION_FILE, ESTIMATES_FILE)


@dataclass
class Export:
    """What :func:`export_run` wrote.

    Attributes:
        path: the exported run directory.
        weights: which weights its model holds: ``"ema"`` (the average, ``--ema``) or ``"raw"``.
        files: the names of the files written, in the order written.
        size: their size in bytes, all together.
        left_out: files of the source that were not copied, each with the reason.
    """

    path: Path
    weights: str
    files: list[str] = field(default_factory=list)
    size: int = 0
    left_out: list[str] = field(default_factory=list)


def export_run(run_dir: str | Path, destination: str | Path, *, weights: str = "auto") -> Export:
    """Copy a run directory into ``destination`` with one set of weights and no training state.

    Args:
        run_dir: a run directory written by :func:`pyro_vae.train`.
        destination: a new folder (or an empty one) for the copy.
        weights: the weights the copy keeps: ``"auto"`` (their average when the run kept one,
            ``--ema``; else the trained ones), ``"ema"`` or ``"raw"``.

    Returns:
        What was written: the copy's path, its weights, files and size, and what was left out
        (the checkpoint; an evaluation of the other set of weights).

    Raises:
        InputError: if the run cannot be read, the weights asked for are not there, or the
            destination is not a new or empty folder.

    Example:
        >>> done = export_run("runs/digits", "shared/digits")  # doctest: +SKIP
        >>> done.weights, done.size < 5_000_000  # doctest: +SKIP
        ('ema', True)
    """
    source, target = Path(run_dir), Path(destination)
    read_document(source)  # a run directory at all (else: which file is missing)
    chosen, tensors = read_weights(source, weights)  # checks the run and the weights first
    _check_destination(source, target)
    _, metadata = read_safetensors(source / MODEL_FILE, "model")
    done = Export(target, chosen)
    evaluated = (read_evaluation(source) or {}).get("weights", "raw")
    building = target.parent / f".{target.name}.{os.getpid()}.export"
    try:
        shutil.rmtree(building, ignore_errors=True)  # left by an export killed half-way
        building.mkdir()
        kept = {k: v.contiguous() for k, v in tensors.items()}
        data = safetensors.torch.save(kept, {**metadata, "weights": chosen})
        atomic_write_bytes(building / MODEL_FILE, data)
        done.files.append(MODEL_FILE)
        for name in [n for n in RUN_FILES if n != MODEL_FILE] + figure_files(source):
            if not (source / name).is_file():
                continue
            if name in _TRAINING_STATE:
                done.left_out.append(f"{name} (the training state: an export cannot resume)")
            elif name in _EVALUATION and evaluated != chosen:
                done.left_out.append(f"{name} (an evaluation of the {evaluated} weights)")
            else:
                shutil.copyfile(source / name, building / name)
                done.files.append(name)
        done.size = sum((building / name).stat().st_size for name in done.files)
        os.replace(building, target)  # onto a new or empty folder: atomic
    except OSError as exc:
        raise InputError(
            f"cannot write the export {target} ({exc.strerror}): choose a writable folder"
        ) from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return done


def _check_destination(source: Path, target: Path) -> None:
    """Refuse a destination that is not a new or empty folder, or that cannot be made."""
    fix = f"choose a new folder for the copy ({spell('DEST', 'destination=')})"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "is the run itself" if target.resolve() == source.resolve() else "is not empty"
        raise InputError(f"{target} {what}: {fix}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {target.parent} ({exc.strerror}): {fix}") from None
