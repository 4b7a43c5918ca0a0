"""Run ``pyro-vae`` with a fault injected at an exact point (used by test_training_faults.py).

    python tests/fault_runner.py HOOK:NAME:N ACTION -- pyro-vae arguments...

HOOK says where to act, on its N-th call (1-based) whose file name is NAME (``*``: any):

* ``step``     -- an optimizer step of the trainer (NAME is ignored);
* ``validate`` -- the per-epoch ELBO evaluation (NAME is ignored);
* ``write``    -- writing the temporary file of an atomic write: half the bytes go out first;
* ``fsync``    -- the temporary file is complete but not yet moved into place;
* ``replace``  -- just after ``os.replace`` put the new file in place.

ACTION is ``kill`` (SIGKILL: no handler, no cleanup), ``term`` (SIGTERM), ``int`` (SIGINT) or
``sleep`` (hang for a minute, holding whatever the process holds).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyro_vae.running.trainer as trainer
from pyro_vae.cli.commands import main

ACTIONS = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}


def _act(action: str) -> None:
    if action == "sleep":
        print("fault_runner: sleeping", file=sys.stderr, flush=True)
        time.sleep(60)
    else:
        os.kill(os.getpid(), ACTIONS[action])


def install(point: str, action: str) -> None:
    """Patch the hook named by ``point`` so that ``action`` happens on its N-th call."""
    hook, name, nth = point.split(":")
    target = int(nth)
    calls: Counter[str] = Counter()

    def due(file_name: str) -> bool:
        if name not in ("*", file_name):
            return False
        calls[hook] += 1
        return calls[hook] == target

    if hook == "step":
        real_step = trainer.Trainer._svi_step

        def step(self: Any, batch: Any, *args: Any) -> Any:
            if due("*"):
                _act(action)
            return real_step(self, batch, *args)

        trainer.Trainer._svi_step = step  # type: ignore[method-assign]
    elif hook == "validate":
        real_eval = trainer.evaluate_elbo

        def evaluate(*args: Any, **kwargs: Any) -> Any:
            if due("*"):
                _act(action)
            return real_eval(*args, **kwargs)

        trainer.evaluate_elbo = evaluate  # type: ignore[assignment]
    elif hook in ("write", "fsync"):
        real_mkstemp, real_fdopen, real_fsync = tempfile.mkstemp, os.fdopen, os.fsync
        temp_names: dict[int, str] = {}

        def mkstemp(*args: Any, **kwargs: Any) -> Any:
            fd, path = real_mkstemp(*args, **kwargs)
            temp_names[fd] = Path(path).name[1:].rsplit(".", 2)[0]  # .NAME.random.tmp -> NAME
            return fd, path

        class HalfWriter:
            def __init__(self, handle: Any) -> None:
                self.handle = handle

            def __enter__(self) -> Any:
                return self

            def __exit__(self, *exc: Any) -> None:
                self.handle.close()

            def write(self, data: bytes) -> int:
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                _act(action)
                return self.handle.write(data[len(data) // 2 :])

            def __getattr__(self, attr: str) -> Any:
                return getattr(self.handle, attr)

        def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
            handle = real_fdopen(fd, *args, **kwargs)
            file_name = temp_names.pop(fd, None)
            if file_name is None:
                return handle
            if hook == "write" and due(file_name):
                return HalfWriter(handle)
            if hook == "fsync":
                fsync_names[handle.fileno()] = file_name
            return handle

        fsync_names: dict[int, str] = {}

        def fsync(fd: int) -> None:
            real_fsync(fd)
            file_name = fsync_names.pop(fd, None)
            if file_name is not None and due(file_name):
                _act(action)

        tempfile.mkstemp = mkstemp  # type: ignore[assignment]
        os.fdopen = fdopen  # type: ignore[assignment]
        os.fsync = fsync  # type: ignore[assignment]
    elif hook == "replace":
        real_replace = os.replace

        def replace(src: Any, dst: Any, **kwargs: Any) -> None:
            real_replace(src, dst, **kwargs)
            if due(Path(dst).name):
                _act(action)

        os.replace = replace  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown hook {hook!r}")


if __name__ == "__main__":
    point, action, dash, *argv = sys.argv[1:]
    assert dash == "--", "usage: fault_runner.py HOOK:NAME:N ACTION -- ARGS"
    install(point, action)
    sys.exit(main(argv))
