"""Run directories: what a training run leaves on disk, written atomically, read without pickle.

A run directory holds

* ``config.json`` -- every setting of the run, plus the shape of its data;
* ``model.safetensors`` -- the VAE's weights (``state_dict``), all a user needs to load the model;
* ``checkpoint.safetensors`` -- everything needed to resume: weights, optimizer state, random
  number generator state and training progress (tensors in the file, the rest as JSON in its
  metadata). Resuming reads this one file, so it is always self-consistent;
* ``metrics.csv`` -- one row per epoch;
* ``evaluation.json`` and ``estimates.csv`` (log P(X) per test point) from ``pyro-vae evaluate``,
  ``estimators.csv`` from ``pyro-vae compare-estimators``, and figures.

Every file is written to a temporary file in the same directory, flushed, fsync'ed and moved
into place with ``os.replace``: a crash leaves either the old or the new file, never half of
one (a killed process may leave a hidden ``.NAME.*.tmp`` file, which nothing reads), and a write
that fails (disk full, read-only directory) raises :class:`InputError` with the old file intact.
Nothing is ever read with pickle; opening a stranger's run directory cannot run code.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from pyro_vae.config import Config
from pyro_vae.errors import InputError
from pyro_vae.vae import VAE, build_vae

__all__ = [
    "CHECKPOINT_FILE",
    "COMPARISON_FILE",
    "CONFIG_FILE",
    "ESTIMATES_FILE",
    "EVALUATION_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "RUN_FILES",
    "DataInfo",
    "Run",
    "atomic_write_bytes",
    "atomic_write_text",
    "flatten_state",
    "load_run",
    "load_weights",
    "read_checkpoint",
    "read_config",
    "read_metrics",
    "read_rows",
    "remove_stale_temporaries",
    "save_checkpoint",
    "unflatten_state",
    "write_config",
    "write_csv",
    "write_metrics",
    "write_model",
]

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
METRICS_FILE = "metrics.csv"
EVALUATION_FILE = "evaluation.json"
ESTIMATES_FILE = "estimates.csv"
COMPARISON_FILE = "estimators.csv"
RUN_FILES = (
    CONFIG_FILE,
    MODEL_FILE,
    CHECKPOINT_FILE,
    METRICS_FILE,
    EVALUATION_FILE,
    ESTIMATES_FILE,
    COMPARISON_FILE,
)
FORMAT = "pyro-vae-run/1"


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know of its data: the width of a datapoint and its image shape."""

    data_dim: int
    image_shape: tuple[int, int] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"data_dim": self.data_dim, "image_shape": list(self.image_shape or []) or None}


@dataclass
class Run:
    """A loaded run directory: its settings, data shape and model."""

    path: Path
    config: Config
    data: DataInfo
    vae: VAE


# ---------------------------------------------------------------------------------------------
# atomic files


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, ``os.replace``).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write_bytes(p, b"hello"); p.read_bytes()
        b'hello'
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files that writes killed half-way left in ``folder``.

    Call it only while no other process writes there (training holds the directory's lock).
    """
    stale = [p for p in folder.glob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _write_error(path: Path, exc: OSError) -> InputError:
    kept = f"the previous {path.name} is kept" if path.exists() else "nothing was written"
    return InputError(
        f"cannot write {path} ({exc.strerror or exc}): free disk space or choose a writable "
        f"directory; {kept}"
    )


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# nested state <-> (JSON, tensors)


def flatten_state(state: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split nested dicts/lists holding tensors into a JSON-ready skeleton and a tensor table.

    Each tensor is replaced by ``{"__tensor__": key}`` and stored under ``key`` in the table.

    Example:
        >>> skeleton, tensors = flatten_state({"step": 3, "w": torch.ones(2)})
        >>> skeleton, list(tensors)
        ({'step': 3, 'w': {'__tensor__': 'w'}}, ['w'])
        >>> unflatten_state(skeleton, tensors)["w"]
        tensor([1., 1.])
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(obj: Any, key: str) -> Any:
        key = key.lstrip("/")
        if isinstance(obj, torch.Tensor):
            tensors[key] = obj.detach().contiguous().clone()
            return {"__tensor__": key}
        if isinstance(obj, Mapping):
            return {"__dict__": [[k, walk(v, f"{key}/{k}")] for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return [walk(v, f"{key}/{i}") for i, v in enumerate(obj)]
        return obj

    skeleton = walk(state, prefix)
    # Plain string-keyed dicts read better: collapse {"__dict__": [...]} where keys are str.
    return _collapse(skeleton), tensors


def _collapse(obj: Any) -> Any:
    if isinstance(obj, dict) and "__dict__" in obj:
        pairs = [(k, _collapse(v)) for k, v in obj["__dict__"]]
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in pairs):
            return dict(pairs)
        return {"__dict__": [[k, v] for k, v in pairs]}
    if isinstance(obj, list):
        return [_collapse(v) for v in obj]
    return obj


def unflatten_state(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__tensor__"}:
            return tensors[skeleton["__tensor__"]]
        if set(skeleton) == {"__dict__"}:
            return {k: unflatten_state(v, tensors) for k, v in skeleton["__dict__"]}
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


# ---------------------------------------------------------------------------------------------
# writing


def write_config(run_dir: Path, config: Config, data: DataInfo) -> None:
    """Write ``config.json``: every setting and the data shape."""
    from pyro_vae import __version__

    doc = {
        "format": FORMAT,
        "version": __version__,
        "settings": config.to_dict(),
        "data": data.to_dict(),
    }
    atomic_write_text(run_dir / CONFIG_FILE, json.dumps(doc, indent=2) + "\n")


def write_model(run_dir: Path, vae: VAE, metadata: Mapping[str, str] | None = None) -> None:
    """Write the model weights to ``model.safetensors``."""
    tensors = {k: v.detach().contiguous() for k, v in vae.state_dict().items()}
    atomic_write_bytes(run_dir / MODEL_FILE, safetensors.torch.save(tensors, dict(metadata or {})))


def save_checkpoint(run_dir: Path, state: Mapping[str, Any]) -> None:
    """Write ``checkpoint.safetensors`` holding ``state`` (nested tensors and JSON values)."""
    skeleton, tensors = flatten_state(state)
    data = safetensors.torch.save(tensors, {"format": FORMAT, "state": json.dumps(skeleton)})
    atomic_write_bytes(run_dir / CHECKPOINT_FILE, data)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    r"""Write ``rows`` (dicts with the same keys) as a CSV file with a header, atomically.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "t.csv"
        >>> write_csv(path, [{"k": 1, "v": 0.5}])
        >>> path.read_text()
        'k,v\n1,0.5\n'
    """
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def write_metrics(run_dir: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``metrics.csv``, one row per epoch."""
    write_csv(run_dir / METRICS_FILE, rows)


# ---------------------------------------------------------------------------------------------
# reading


def _read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise InputError(f"{path} is missing: the run directory is incomplete; train it again")
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for bad headers
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(
            f"{path} is not a valid safetensors {what} file ({reason}): it is corrupted or "
            "not from pyro-vae; train again or restore the file"
        ) from None
    return tensors, metadata


def read_checkpoint(run_dir: Path) -> dict[str, Any]:
    """Read ``checkpoint.safetensors`` back into the nested state that was saved."""
    tensors, metadata = _read_safetensors(run_dir / CHECKPOINT_FILE, "checkpoint")
    try:
        skeleton = json.loads(metadata["state"])
        return unflatten_state(skeleton, tensors)
    except (KeyError, ValueError, TypeError):
        raise InputError(
            f"{run_dir / CHECKPOINT_FILE} has no readable training state: it is corrupted; "
            "train again"
        ) from None


def read_config(run_dir: Path) -> tuple[Config, DataInfo]:
    """Read and validate ``config.json`` of a run directory."""
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise InputError(f"run directory {run_dir} does not exist: check the path")
    if not path.is_file():
        raise InputError(
            f"{run_dir} has no {CONFIG_FILE}: it is not a pyro-vae run directory; pass the "
            "folder that pyro-vae train wrote"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc}): restore it or train again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} config: not a run directory of this version")
    settings, data = doc.get("settings"), doc.get("data")
    if not isinstance(settings, dict) or not isinstance(data, dict):
        raise InputError(f"{path} lacks its settings or data sections: restore it or train again")
    try:
        config = Config.from_dict(settings)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    data_dim, shape = data.get("data_dim"), data.get("image_shape")
    valid_shape = shape is None or (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(s, int) and s > 0 for s in shape)
    )
    if not (isinstance(data_dim, int) and 0 < data_dim <= 1 << 24 and valid_shape):
        raise InputError(f"{path}: the data section is invalid; restore the file or train again")
    image_shape = (shape[0], shape[1]) if shape else None
    if image_shape and image_shape[0] * image_shape[1] != data_dim:
        raise InputError(f"{path}: image_shape {shape} does not match data_dim {data_dim}")
    return config, DataInfo(data_dim, image_shape)


def load_run(run_dir: str | Path) -> Run:
    """Load a run directory's settings and trained model, without executing any stored code.

    Args:
        run_dir: a directory written by :func:`pyro_vae.train`.

    Returns:
        The :class:`Run` with its VAE in evaluation mode.

    Raises:
        InputError: if the directory, its config or its weights are missing, corrupted or do not
            match each other.

    Example:
        >>> run = load_run("runs/digits")  # doctest: +SKIP
        >>> run.vae.sample(16).shape  # doctest: +SKIP
        torch.Size([16, 64])
    """
    run_dir = Path(run_dir)
    config, data = read_config(run_dir)
    vae = build_vae(config, data.data_dim)
    tensors, _ = _read_safetensors(run_dir / MODEL_FILE, "model")
    load_weights(vae, tensors, run_dir / MODEL_FILE)
    vae.eval()
    return Run(run_dir, config, data, vae)


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
            f"{source} does not fit the model in config.json ({detail}): the files come from "
            "different runs; restore the matching pair or train again"
        )
    vae.load_state_dict(dict(tensors), strict=True)


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """Read ``metrics.csv`` as a list of rows of floats."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise InputError(f"{path} is missing: the run has not finished an epoch yet")
    return read_rows(path, "pyro-vae train --resume")


def read_rows(path: Path, made_by: str) -> list[dict[str, Any]]:
    """Read a CSV file of the run as dicts, numbers as floats and other fields as strings.

    Raises:
        InputError: if the file is missing (naming the command that writes it) or unreadable.

    Example:
        >>> read_rows(Path("runs/none/estimates.csv"), "pyro-vae evaluate")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: runs/none/estimates.csv is missing: run pyro-vae evaluate ...
    """
    if not path.is_file():
        raise InputError(f"{path} is missing: run {made_by} {path.parent} first")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path} cannot be read ({exc}): run {made_by} again") from None


def _number(value: str | None) -> Any:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return value
