"""The run directory: what a training run leaves on disk, how each file is named, read and written.

A run directory holds

* ``config.json`` -- every setting of the run, the shape of its data and, for a run trained with
  a user's own VAE, the name of that model's class (:func:`write_config`);
* ``model.safetensors`` -- the VAE's weights (``state_dict``), all a user needs to load the model,
  and with ``--ema`` their average (:func:`read_weights`);
* ``checkpoint.safetensors`` -- everything needed to resume: weights, optimizer state and
  training progress (tensors in the file, the rest as JSON in its metadata; no random-number
  state: every step's noise is seeded by the run's seed, epoch and step). Resuming reads this
  one file, so it is always self-consistent;
* ``metrics.csv`` -- one row per epoch;
* ``evaluation.json`` and ``estimates.csv`` -- the summary and the per-point log P(X) estimates
  of the last evaluation (:mod:`pyro_vae.running.evaluation`); ``comparison.csv`` -- the estimators
  against K (``estimators.csv`` in run directories of version 0.1, still read);
* ``bdmc.csv`` -- the bidirectional Monte Carlo sandwich against the schedule length;
* ``KIND.png`` -- figures (:func:`figure_path`);
* ``.lock`` -- held by the training that writes the directory (:func:`locked`).

This module is the only one that knows those names; it also checks what a resumed run may change
(:func:`resumed_config`). Creating, clearing and locking a run directory is
:mod:`pyro_vae.storage.lifecycle`'s business; sharing one, :mod:`pyro_vae.storage.export`'s.
Every file is written atomically and read without pickle (:mod:`pyro_vae.storage.files`):
opening a stranger's run directory cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from pyro_vae._version import __version__
from pyro_vae.config import RESUMABLE, RESUMABLE_OPTIONS, Config
from pyro_vae.errors import InputError, spell
from pyro_vae.hardware.devices import resolve_device
from pyro_vae.models.vae import VAE, build_vae
from pyro_vae.registry import family
from pyro_vae.storage.datainfo import DataInfo, describe_model
from pyro_vae.storage.document import CONFIG_FILE, FORMAT, read_document
from pyro_vae.storage.files import (
    atomic_write_bytes,
    atomic_write_text,
    check_writable,
    flatten_state,
    read_rows,
    read_safetensors,
    unflatten_state,
    write_csv,
)
from pyro_vae.storage.rundata import DataSplits, run_data

__all__ = [
    "BDMC_FILE",
    "CHECKPOINT_FILE",
    "COMPARISON_FILE",
    "CONFIG_FILE",
    "ESTIMATES_FILE",
    "EVALUATION_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "RUN_FILES",
    "DataInfo",
    "Run",
    "as_run",
    "check_replaceable",
    "comparison_path",
    "custom_model_name",
    "describe_model",
    "evaluated_num_samples",
    "evaluation_path",
    "figure_files",
    "figure_path",
    "kept_proposals",
    "load_run",
    "load_weights",
    "read_bdmc",
    "read_checkpoint",
    "read_comparison",
    "read_config",
    "read_estimates",
    "read_evaluation",
    "read_metrics",
    "read_weights",
    "record_compile",
    "resumed_config",
    "save_checkpoint",
    "write_bdmc",
    "write_comparison",
    "write_config",
    "write_evaluation",
    "write_metrics",
    "write_model",
]

MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
METRICS_FILE = "metrics.csv"
EVALUATION_FILE = "evaluation.json"
ESTIMATES_FILE = "estimates.csv"
COMPARISON_FILE = "comparison.csv"
BDMC_FILE = "bdmc.csv"
_OLD_COMPARISON_FILE = "estimators.csv"  # its name in version 0.1: still read, and cleared
LOCK_FILE = ".lock"
RUN_FILES = (
    CONFIG_FILE,
    MODEL_FILE,
    CHECKPOINT_FILE,
    METRICS_FILE,
    EVALUATION_FILE,
    ESTIMATES_FILE,
    COMPARISON_FILE,
    _OLD_COMPARISON_FILE,
    BDMC_FILE,
)
_FIGURE_SUFFIX = ".png"


@dataclass
class Run:
    """A loaded run directory: its settings, data shape and model.

    Attributes:
        path: the run directory.
        config: its settings.
        data: the shape of its data.
        vae: the model, with the run's weights.
        custom: whether the model is a user's own VAE (not built from the registries).
        weights: which weights ``vae`` holds: ``"raw"`` (as trained) or ``"ema"`` (their
            moving average, ``--ema``).
    """

    path: Path
    config: Config
    data: DataInfo
    vae: VAE
    custom: bool = False
    weights: str = "raw"

    def load_data(self, **changes: str | None) -> DataSplits:
        """The run's data read again: its splits and labels, as ``train(...).data`` held them.

        ``changes``: ``dataset``, ``data_dir`` or ``data_file``, to read the data from where
        they live now or another data set of the same width (:func:`~pyro_vae.storage.rundata.
        run_data`, which checks that they fit the model).

        Example:
            >>> run = load_run("runs/digits")  # doctest: +SKIP
            >>> run.load_data().test.shape  # doctest: +SKIP
            torch.Size([180, 64])
        """
        return run_data(self.config, self.data, self.vae, **changes)


def figure_path(run_dir: str | Path, kind: str) -> Path:
    """Where the figure ``kind`` of a run goes: ``RUN_DIR/KIND.png``.

    Example:
        >>> figure_path("runs/digits", "samples").as_posix()
        'runs/digits/samples.png'
    """
    return Path(run_dir) / f"{kind}{_FIGURE_SUFFIX}"


def figure_files(run_dir: str | Path) -> list[str]:
    """The names of the figures in a run directory, sorted.

    Example:
        >>> figure_files("runs/digits")  # doctest: +SKIP
        ['curves.png', 'recon.png', 'samples.png']
    """
    return sorted(p.name for p in Path(run_dir).glob(f"*{_FIGURE_SUFFIX}") if p.is_file())


# ---------------------------------------------------------------------------------------------
# config.json


def write_config(
    run_dir: Path, config: Config, data: DataInfo, *, custom_vae: VAE | None = None
) -> None:
    """Write ``config.json``: every setting, the data shape and, if any, the custom model.

    Args:
        run_dir: the run directory.
        config: the run's settings.
        data: the shape of its data.
        custom_vae: a user's own VAE: its classes are recorded (:func:`describe_model`) so that
            loading the run without that model can say what to pass (nothing is ever imported).
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": __version__,
        "settings": config.to_dict(),
        "data": data.to_dict(),
    }
    if custom_vae is not None:
        doc["custom_model"] = describe_model(custom_vae)
    atomic_write_text(run_dir / CONFIG_FILE, json.dumps(doc, indent=2) + "\n")


def record_compile(run_dir: Path, done: dict[str, Any]) -> None:
    """Add to ``config.json`` how training compiled its step (mode, reason, seconds)."""
    path = run_dir / CONFIG_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["compile"] = done
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")


_DOCUMENT_KEYS = frozenset({"format", "version", "settings", "data", "custom_model", "compile"})


def _without_unread_data_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Drop a data folder or file that the run's data set never read.

    Version 0.1 accepted them (and ignored them); they are refused now, but a run directory that
    holds one must still load.
    """
    datasets = family("dataset")
    name = settings.get("dataset", "digits")
    if not isinstance(name, str) or name not in datasets:
        return settings  # Config.from_dict names the problem
    reads = datasets.trait(name, "reads")
    return {k: v for k, v in settings.items() if k in reads or k not in ("data_dir", "data_file")}


def custom_model_name(run_dir: str | Path) -> str | None:
    """The class of the user's own VAE a run was trained with, or ``None`` for a registered one."""
    name = read_document(Path(run_dir)).get("custom_model")
    return str(name) if name is not None else None


def read_config(run_dir: Path) -> tuple[Config, DataInfo]:
    """Read and validate ``config.json`` of a run directory."""
    config, data, _ = _read_stored(run_dir)
    return config, data


def _read_stored(run_dir: Path) -> tuple[Config, DataInfo, str | None]:
    """``config.json`` read once: the settings, the data shape and the custom model, if any."""
    path = run_dir / CONFIG_FILE
    doc = read_document(run_dir)
    unknown = sorted(set(doc) - _DOCUMENT_KEYS)
    if unknown:
        raise InputError(
            f"{path} has entries that pyro-vae does not write ({', '.join(map(str, unknown))}): "
            "restore the file or train again"
        )
    settings, data = doc.get("settings"), doc.get("data")
    if not isinstance(settings, dict) or not isinstance(data, dict):
        raise InputError(f"{path} lacks its settings or data sections: restore it or train again")
    try:
        # runs written before dequantization existed trained on the levels themselves
        settings = {"dequantize": "off", **settings}
        config = Config.from_dict(_without_unread_data_settings(settings))
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    info = DataInfo.from_dict(data, path)
    custom = doc.get("custom_model")
    return config, info, None if custom is None else str(custom)


# ---------------------------------------------------------------------------------------------
# weights, checkpoint, metrics


def write_model(
    run_dir: Path, vae: VAE, metadata: Mapping[str, str] | None = None, *, ema: VAE | None = None
) -> None:
    """Write the model weights to ``model.safetensors``, and their average (``ema.*``) if any."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in vae.state_dict().items()}
    if ema is not None:
        tensors |= {f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}
    atomic_write_bytes(run_dir / MODEL_FILE, safetensors.torch.save(tensors, dict(metadata or {})))


def save_checkpoint(run_dir: Path, state: Mapping[str, Any]) -> None:
    """Write ``checkpoint.safetensors`` holding ``state`` (nested tensors and JSON values)."""
    skeleton, tensors = flatten_state(state)
    data = safetensors.torch.save(tensors, {"format": FORMAT, "state": json.dumps(skeleton)})
    atomic_write_bytes(run_dir / CHECKPOINT_FILE, data)


def write_metrics(run_dir: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``metrics.csv``, one row per epoch."""
    write_csv(run_dir / METRICS_FILE, rows)


# ---------------------------------------------------------------------------------------------
# reading


def read_checkpoint(run_dir: Path) -> dict[str, Any]:
    """Read ``checkpoint.safetensors`` back into the nested state that was saved."""
    if not (run_dir / CHECKPOINT_FILE).exists() and (run_dir / MODEL_FILE).is_file():
        _, model = read_safetensors(run_dir / MODEL_FILE, "model")
        if "weights" in model:  # written by storage.export, which leaves the checkpoint out
            raise InputError(
                f"{run_dir} is an exported model without its training state: it evaluates, "
                "samples and plots, but cannot resume; train a new run to go on"
            )
    tensors, metadata = read_safetensors(run_dir / CHECKPOINT_FILE, "checkpoint")
    try:
        skeleton = json.loads(metadata["state"])
        return unflatten_state(skeleton, tensors)
    except (KeyError, ValueError, TypeError):
        raise InputError(
            f"{run_dir / CHECKPOINT_FILE} has no readable training state: it is corrupted; "
            "train again"
        ) from None


def load_run(
    run_dir: str | Path,
    *,
    vae: VAE | None = None,
    device: torch.device | str | None = "cpu",
    weights: str = "auto",
) -> Run:
    """Load a run directory's settings and trained model, without executing any stored code.

    Args:
        run_dir: a directory written by :func:`pyro_vae.train`.
        vae: the model to load the weights into. Required for a run trained with a user's own
            VAE (``train(..., vae=...)``): pass a model built the same way. For a run of
            registered parts it is built from ``config.json`` when not given.
        device: where the model goes (``"auto"``: a GPU when there is one); the files are
            the same whatever device wrote them.
        weights: ``"auto"`` (the moving average of the weights when the run kept one,
            ``--ema``; else the trained weights), ``"ema"`` or ``"raw"`` (the trained ones).

    Returns:
        The :class:`Run` with its VAE in evaluation mode.

    Raises:
        InputError: if the directory, its config or its weights are missing, corrupted or do not
            match each other or ``vae``, or the run needs its own VAE and none was passed.

    Example:
        >>> run = load_run("runs/digits")  # doctest: +SKIP
        >>> run.vae.sample(16).shape  # doctest: +SKIP
        torch.Size([16, 64])
    """
    run_dir, target = Path(run_dir), resolve_device(device)
    config, data, custom = _read_stored(run_dir)
    if vae is None:
        if custom is not None:
            fix = spell(
                ", which the command line cannot build: in Python, pass it to "
                "pyro_vae.load_run(RUN_DIR, vae=model)",
                f": build the same model and pass it, load_run({str(run_dir)!r}, vae=model)",
            )
            raise InputError(f"{run_dir} was trained with a custom VAE ({custom}){fix}")
        with target:
            vae = build_vae(
                config,
                data.data_dim,
                data.num_classes,
                condition_dim=data.condition_dim,
                channels=data.channels,
            )
    chosen, kept = read_weights(run_dir, weights)
    load_weights(vae, kept, run_dir / MODEL_FILE)
    vae.to(target).eval()
    return Run(run_dir, config, data, vae, custom=custom is not None, weights=chosen)


def read_weights(run_dir: str | Path, weights: str = "auto") -> tuple[str, dict[str, torch.Tensor]]:
    """Which of a run's sets of weights ``weights`` picks (``"raw"`` or ``"ema"``), and its tensors.

    A trained run keeps its weights and, with ``--ema``, their average (``ema.*``); an exported
    run keeps one of them, named in its metadata (:mod:`pyro_vae.storage.export`).

    Example:
        >>> chosen, tensors = read_weights("runs/digits")  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    tensors, metadata = read_safetensors(run_dir / MODEL_FILE, "model")
    sets = {"ema": {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}}
    sets["raw"] = {k: v for k, v in tensors.items() if not k.startswith("ema.")}
    if metadata.get("weights") == "ema":  # exported: the average alone, under the plain names
        sets = {"ema": sets["raw"], "raw": {}}
    chosen = weights if weights != "auto" else "ema" if sets["ema"] else "raw"
    if not sets.get(chosen):
        why = {
            "ema": "it holds no average of its weights (train with --ema): pass raw",
            "raw": "it was exported with the average of its weights alone: pass ema",
        }.get(chosen, "choose auto, ema or raw")
        raise InputError(
            f"cannot load the {weights!r} weights of {run_dir}: {why} "
            f"({spell('--weights', 'weights=')})"
        )
    return chosen, sets[chosen]


def as_run(run: Run | str | Path) -> Run:
    """``run`` itself when it is loaded already, else the run directory it names, loaded."""
    return run if isinstance(run, Run) else load_run(run)


def load_weights(vae: VAE, tensors: Mapping[str, torch.Tensor], source: Path) -> None:
    """Copy ``tensors`` into ``vae``, checking names and shapes first."""
    expected = vae.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or extra or wrong:
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unexpected {extra[:3]}"
            if extra
            else f"shape of {wrong[0]} is {tuple(tensors[wrong[0]].shape)}, expected "
            f"{tuple(expected[wrong[0]].shape)}"
        )
        raise InputError(
            f"{source} does not fit the model ({detail}): the files come from different runs or "
            "models; restore the matching pair, pass the model the run was trained with, or "
            "train again"
        )
    vae.load_state_dict(dict(tensors), strict=True)


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """Read ``metrics.csv`` as a list of rows of floats."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise InputError(f"{path} is missing: the run has not finished an epoch yet")
    return read_rows(path, "pyro-vae train --resume")


# ---------------------------------------------------------------------------------------------
# evaluation files


def check_replaceable(path: Path, overwrite: bool, what: str) -> None:
    """Refuse to replace an earlier result at ``path`` unless ``overwrite``.

    Called before the work that would replace it, so that nothing is computed in vain; the
    folder must be writable too.

    Args:
        path: the file a result would be written to.
        overwrite: the user asked to replace it.
        what: what the file holds, for the message (``"evaluation"``, ``"comparison"``).
    """
    check_writable(path.parent)
    if overwrite or not path.exists():
        return
    detail = ""
    if path.name == EVALUATION_FILE:
        summary = read_evaluation(path.parent) or {}
        if {"num_samples", "num_points"} <= set(summary):
            detail = f" (K = {summary['num_samples']}, {summary['num_points']} points)"
    elsewhere = ""
    if what == "comparison":
        elsewhere = spell(", or -o FILE.csv to write elsewhere", ", or output= to write elsewhere")
    raise InputError(
        f"{path} holds an earlier {what}{detail}: pass {spell('--overwrite', 'overwrite=True')} "
        f"to replace it{elsewhere}"
    )


def evaluation_path(run_dir: str | Path) -> Path:
    """Where the summary of a run's evaluation goes (its per-point rows go beside it)."""
    return Path(run_dir) / EVALUATION_FILE


def comparison_path(path: str | Path) -> Path:
    """Where a comparison goes: ``path`` itself, or the run directory's own file for a folder."""
    path = Path(path)
    return path / COMPARISON_FILE if path.is_dir() else path


def kept_proposals(
    run_dir: Path, same: Mapping[str, Any], proposals: Sequence[str], overwrite: bool
) -> tuple[str, ...]:
    """The proposals of the stored evaluation that an evaluation of ``proposals`` keeps.

    Evaluations of the same points (``same``: their digest, the seed and the weights, as the
    summary records them) accumulate: AIS added later keeps the importance-sampling estimates.
    Called before the work: replacing a proposal's estimates, or an evaluation of other points,
    is refused without ``overwrite``.
    """
    path = evaluation_path(run_dir)
    stored = read_evaluation(run_dir) or {}
    earlier = stored.get("proposals", {})
    if not stored or any(stored.get(k) != v for k, v in same.items()):
        check_replaceable(path, overwrite, "evaluation")
        return ()
    check_writable(run_dir)
    replaced = [p for p in proposals if p in earlier]
    if replaced and not overwrite:
        raise InputError(
            f"{path} holds {', '.join(replaced)} estimates of these points: pass "
            f"{spell('--overwrite', 'overwrite=True')} to replace them (the others are kept)"
        )
    return tuple(p for p in earlier if p not in proposals)


def write_evaluation(
    run_dir: Path,
    summary: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    keep: Sequence[str] = (),
) -> Path:
    """Write ``evaluation.json`` (data-set summaries) and ``estimates.csv`` (one row per point).

    ``keep``: proposals of the stored evaluation kept beside the new ones
    (:func:`kept_proposals`), their summaries, warnings and rows included.

    Returns:
        The path of ``evaluation.json``.
    """
    if keep:
        earlier = (read_evaluation(run_dir) or {})["proposals"]
        proposals = {**{p: earlier[p] for p in keep}, **summary["proposals"]}
        warnings = [w for part in proposals.values() for w in part.get("warnings", [])]
        summary = {**summary, "proposals": proposals, "warnings": warnings}
        rows = [r for r in read_estimates(run_dir) if r["proposal"] in keep] + list(rows)
    write_csv(run_dir / ESTIMATES_FILE, rows)
    atomic_write_text(run_dir / EVALUATION_FILE, json.dumps(summary, indent=2) + "\n")
    return run_dir / EVALUATION_FILE


def read_evaluation(run_dir: str | Path) -> dict[str, Any] | None:
    """The summary in ``evaluation.json``, or ``None`` when there is none or it is unreadable."""
    path = Path(run_dir) / EVALUATION_FILE
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return summary if isinstance(summary, dict) else None


def evaluated_num_samples(run_dir: str | Path) -> int | None:
    """K of the last evaluation (from ``evaluation.json``), or ``None`` when it is not known."""
    summary = read_evaluation(run_dir) or {}
    try:
        return int(summary["num_samples"])
    except (KeyError, TypeError, ValueError):
        return None


def read_estimates(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of ``estimates.csv``: one per test point and proposal."""
    return read_rows(Path(run_dir) / ESTIMATES_FILE, "pyro-vae evaluate")


def write_comparison(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write the estimators-against-K table into ``path``: a run directory or a ``.csv`` file.

    Returns:
        The file written.
    """
    target = comparison_path(path)
    write_csv(target, rows)
    return target


def read_comparison(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of ``comparison.csv`` (or of ``estimators.csv`` in an older run directory)."""
    run_dir = Path(run_dir)
    old = run_dir / _OLD_COMPARISON_FILE
    path = old if old.is_file() and not (run_dir / COMPARISON_FILE).is_file() else None
    return read_rows(path or run_dir / COMPARISON_FILE, "pyro-vae compare-estimators")


def write_bdmc(run_dir: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write the BDMC table (one row per schedule length) into the run directory."""
    write_csv(run_dir / BDMC_FILE, rows)
    return run_dir / BDMC_FILE


def read_bdmc(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of the BDMC table."""
    return read_rows(Path(run_dir) / BDMC_FILE, "pyro-vae bdmc")


# ---------------------------------------------------------------------------------------------
# resuming


def resumed_config(run_dir: Path, requested: Config | None, vae: VAE | None = None) -> Config:
    """The settings a resumed run continues with, after checking it may be resumed so.

    Args:
        run_dir: the run directory.
        requested: ``None`` for the stored settings, or settings that may differ from them only
            in what :data:`pyro_vae.config.RESUMABLE` names.
        vae: the user's own model of a custom run (``None`` for a run of registered parts).

    Raises:
        InputError: for another change of settings, a custom run without its model, or a model
            passed for a run of registered parts.
    """
    stored, _, custom = _read_stored(run_dir)
    if custom is not None and vae is None:
        raise InputError(
            f"{run_dir} was trained with a custom VAE ({custom}): build the same model and "
            "pass it again, train(None, run_dir, resume=True, vae=model)"
        )
    if custom is None and vae is not None:
        raise InputError(
            f"{run_dir} was trained with the registered parts its {CONFIG_FILE} names: resume "
            "it without vae="
        )
    if requested is None:
        return stored
    legacy = "dequantize" not in read_document(run_dir).get("settings", {})
    if legacy and requested.dequantize == "auto":
        # a run from before dequantization trained on the levels: "auto" asks nothing else
        requested = requested.replace(dequantize=stored.dequantize)
    before = stored.to_dict()
    changed = sorted(
        k for k, v in requested.to_dict().items() if k not in RESUMABLE and v != before[k]
    )
    if changed:
        raise InputError(
            f"cannot change {', '.join(changed)} when resuming {run_dir}: only "
            f"{spell(RESUMABLE_OPTIONS, ', '.join(RESUMABLE))} may differ; start a new run for "
            "other settings"
        )
    return requested
