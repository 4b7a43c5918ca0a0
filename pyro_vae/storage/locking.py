"""One writer per run directory: an advisory lock held while a command writes into it.

Training (``pyro_vae.train``, ``pyro-vae train``) holds an exclusive ``flock`` on the run
directory's lock file (:func:`pyro_vae.storage.lifecycle.locked`) for as long as it runs. A second
training pointed at the same directory is refused at once with a message naming the holder, instead
of interleaving its checkpoints with the first one's. Reading a run (evaluate, sample, plot) takes
no lock: every file is replaced atomically, so a reader sees the last complete version. The
operating system drops the lock when its holder exits, however it exits (SIGKILL included), so a
killed run never leaves a stale lock behind; the lock file itself stays and is harmless.

On platforms without ``fcntl`` (Windows) the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from pyro_vae.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["run_lock"]


@contextlib.contextmanager
def run_lock(path: str | Path) -> Iterator[None]:
    """Hold the lock file ``path`` of a run directory for the duration of the ``with`` block.

    Args:
        path: the lock file, in an existing directory (created if missing).

    Raises:
        InputError: if another process holds the lock, or the lock file cannot be created.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with run_lock(Path(folder) / "lock"):
        ...     pass
    """
    path = Path(path)
    run_dir = path.parent
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(
            f"cannot write the run directory {run_dir} ({exc.strerror}): choose a writable one"
        ) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                raise InputError(
                    f"run directory {run_dir} is in use by another pyro-vae process (pid "
                    f"{holder}): wait for it to finish, or choose another run directory"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
