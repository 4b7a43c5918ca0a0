"""A run directory's lifecycle: created, refused or cleared, and locked while a run writes it.

Training refuses a directory that holds a run unless told to resume or replace it
(:func:`refuse_existing_run`), creates it (:func:`make_run_dir`), takes its lock
(:func:`locked`) and only then clears what a replaced run left (:func:`clear_run_files`). What
the files are called is :mod:`pyro_vae.storage.rundir`'s business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pyro_vae.errors import InputError, spell
from pyro_vae.storage.files import remove_stale_temporaries
from pyro_vae.storage.locking import run_lock
from pyro_vae.storage.rundir import CONFIG_FILE, LOCK_FILE, RUN_FILES, figure_path

__all__ = ["clear_run_files", "holds_run", "locked", "make_run_dir", "refuse_existing_run"]


def _out_setting() -> str:
    return spell("--out", "run_dir")


def make_run_dir(run_dir: Path) -> None:
    """Create the run directory (and its parents), or say why it cannot be."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(
            f"{run_dir} exists and is not a directory: choose another {_out_setting()}"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the run directory {run_dir} ({exc.strerror}): choose a writable "
            f"{_out_setting()}"
        ) from None


def holds_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a run that loads and resumes (its config is written last)."""
    return (Path(run_dir) / CONFIG_FILE).is_file()


def refuse_existing_run(run_dir: Path) -> None:
    """Refuse a directory that already holds a run (one with a ``config.json``)."""
    if holds_run(run_dir):
        raise InputError(
            f"run directory {run_dir} already holds a run: pass "
            f"{spell('--resume', 'resume=True')} to continue it, "
            f"{spell('--overwrite', 'overwrite=True')} to replace it, or choose another "
            f"{_out_setting()}"
        )


def clear_run_files(run_dir: Path, overwrite: bool, figure_kinds: Iterable[str]) -> None:
    """Clear the files of a run being replaced; call it with the directory's lock held.

    Without ``overwrite`` an existing run is refused again (another process may have started
    one since the first check). Without a ``config.json`` the files are what a start killed
    before its first save left. Figures of a replaced run go too (a manifold of an old 2-D run
    would mislead); the caller names the figure kinds there are.
    """
    if not overwrite:
        refuse_existing_run(run_dir)
    existing = [run_dir / name for name in RUN_FILES if (run_dir / name).exists()]
    existing += [p for kind in figure_kinds if (p := figure_path(run_dir, kind)).is_file()]
    try:
        for path in existing:
            path.unlink()
    except OSError as exc:
        raise InputError(
            f"cannot write the run directory {run_dir} ({exc.strerror}): choose a writable "
            f"{_out_setting()}"
        ) from None


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock (:func:`pyro_vae.storage.locking.run_lock`) inside the block.

    Once the lock is held, no other process writes there: the hidden temporary files that
    writes killed half-way left behind are removed.
    """
    with run_lock(run_dir / LOCK_FILE):
        remove_stale_temporaries(run_dir)
        yield
