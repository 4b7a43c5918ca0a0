"""Atomic, pickle-free files: the storage layer under the run directory.

* :func:`atomic_write_bytes` / :func:`atomic_write_text` write to a temporary file in the same
  directory, flush, fsync and move it into place with ``os.replace``: a crash leaves either the
  old or the new file, never half of one (a killed process may leave a hidden ``.NAME.*.tmp``
  file, which nothing reads and :func:`remove_stale_temporaries` deletes), and a write that fails
  (disk full, read-only directory) raises :class:`InputError` with the old file intact.
* :func:`flatten_state` / :func:`unflatten_state` split nested state into JSON and a table of
  tensors, which safetensors stores (:func:`read_safetensors` reads one back); nothing is ever
  read with pickle.
* :func:`write_csv` / :func:`read_rows` are the CSV tables of a run.

What the files of a run are called and hold is :mod:`pyro_vae.storage.rundir`'s business.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import safetensors
import torch

from pyro_vae.errors import InputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "flatten_state",
    "read_rows",
    "read_safetensors",
    "remove_stale_temporaries",
    "unflatten_state",
    "write_csv",
]


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
            # mkstemp makes the file private (0600); a run's files get the mode of a new file.
            os.fchmod(handle.fileno(), _NEW_FILE_MODE & ~_umask())
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


_NEW_FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


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


def check_writable(folder: Path) -> None:
    """Refuse, before any work, a folder that a result could not be written into.

    A file is created and removed there: the only check that holds for every user (root
    included) and every kind of mount.

    Example:
        >>> import tempfile, pathlib
        >>> check_writable(pathlib.Path(tempfile.mkdtemp()))
    """
    try:
        fd, name = tempfile.mkstemp(prefix=".pyro-vae-check.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(
            f"cannot write into {folder} ({exc.strerror or exc}): make it writable or work on a "
            "copy; nothing was computed"
        ) from None
    os.close(fd)
    os.unlink(name)


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
            tensors[key] = obj.detach().cpu().contiguous().clone()  # files hold CPU tensors
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


def read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a safetensors file, or one clear error if it cannot be read.

    Args:
        path: the file.
        what: what it should hold, for the message (``"model"``, ``"checkpoint"``).

    Raises:
        InputError: if the file is missing, truncated, or not a safetensors file.

    Example:
        >>> import tempfile, pathlib, safetensors.torch
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.safetensors"
        >>> safetensors.torch.save_file({"w": torch.ones(2)}, p, {"epoch": "3"})
        >>> tensors, metadata = read_safetensors(p, "model"); tensors["w"], metadata
        (tensor([1., 1.]), {'epoch': '3'})
    """
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


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    r"""Write ``rows`` as a CSV file with a header, atomically (a key a row lacks: empty).

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
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_rows(path: Path, made_by: str) -> list[dict[str, Any]]:
    """Read a CSV file of the run as dicts, numbers as floats and other fields as strings.

    Raises:
        InputError: if the file is missing (naming the command that writes it) or unreadable.

    Example:
        >>> read_rows(Path("runs/none/table.csv"), "pyro-vae evaluate")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: runs/none/table.csv is missing: run pyro-vae evaluate ...
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
