"""Turning Ctrl-C (SIGINT) and SIGTERM into a flag that a loop checks between steps.

A training step must not be cut in half: the first signal only raises a flag, the loop saves its
exact position at the next step boundary and returns (exit status 128 + the signal); a second
signal acts at once, as it would without the handler. Under torchrun a Ctrl-C reaches every
process and the launcher then sends SIGTERM as well: there the later signals are absorbed (the
processes agree on a step to stop at, and the launcher kills them if they do not stop).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyro_vae.errors import spell

__all__ = ["PROCESSES_VARIABLE", "FiguresInterrupted", "interrupt_flag", "stopped_message"]

#: Set by ``pyro-vae --processes N`` in its processes: a stopped run says to resume that way.
PROCESSES_VARIABLE = "PYRO_VAE_PROCESSES"


class FiguresInterrupted(KeyboardInterrupt):
    """Ctrl-C while a finished run's figures were drawn: the run itself is complete and saved.

    A :class:`KeyboardInterrupt`, so it stops a program as one does; its text says what is
    left and how to draw the figures.

    Example:
        >>> str(FiguresInterrupted(Path("runs/a"))).startswith("interrupted while drawing")
        True
    """

    def __init__(self, run_dir: Path) -> None:
        again = spell(
            f"pyro-vae plot {run_dir} --kind KIND draws any of them",
            "load it with pyro_vae.load_run and draw them with pyro_vae.plots",
        )
        super().__init__(
            f"interrupted while drawing the figures; the run in {run_dir} is complete and "
            f"saved: {again}"
        )


@contextmanager
def interrupt_flag(absorb_repeats: bool = False) -> Iterator[dict[str, int]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks after each step.

    With ``absorb_repeats`` a second signal changes nothing (one of many processes).

    The flag is a dict that holds ``"signal"`` (the signal's number) once one arrived. Outside
    the main thread, where signals cannot be caught, it stays empty.

    Example:
        >>> with interrupt_flag() as flag:
        ...     interrupted = bool(flag)
        >>> interrupted
        False
    """
    flag: dict[str, int] = {}
    handled = (signal.SIGINT, signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        flag.setdefault("signal", signum)
        if not absorb_repeats:
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


def stopped_message(signum: int, run_dir: Path, where: str, *, many: bool) -> str:
    """What a run stopped by ``signum`` says: where it saved and how to continue.

    Example:
        >>> message = stopped_message(2, Path("runs/a"), "epoch 3 at step 7", many=False)
        >>> message.startswith("SIGINT received: saved epoch 3 at step 7 in runs/a; continue")
        True
    """
    started = os.environ.get(PROCESSES_VARIABLE) if many else None  # by pyro-vae --processes N
    if started:
        command = f"pyro-vae train --resume {run_dir} --processes {started}"
    else:
        launch = "torchrun --nproc-per-node N -m pyro_vae" if many else "pyro-vae"
        command = f"{launch} train --resume {run_dir}"
    again = spell(
        f"{command} (exit status {128 + signum})",
        f"train(None, {str(run_dir)!r}, resume=True)",
    )
    name = signal.Signals(signum).name
    return f"{name} received: saved {where} in {run_dir}; continue with: {again}"
