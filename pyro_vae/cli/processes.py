"""``--processes N``: the command run in N processes on this machine, through torchrun's launcher.

``pyro-vae train --processes 2 ...`` is ``torchrun --standalone --nproc-per-node 2 -m pyro_vae
train ...`` (:mod:`torch.distributed.run`, called in this process) with three differences that a
user notices:

- the options are checked before any process starts (:mod:`pyro_vae.cli.launch`): a bad one is
  one line and exit status 2, as without ``--processes``;
- each process gets its share of the cores (``OMP_NUM_THREADS``, unless it is set);
- when the processes fail, the exit status is theirs and the report is theirs: rank 0's one
  line (a bad input found by the processes, exit status 2; a Ctrl-C, 130), not the launcher's
  page of traceback. A process that dies otherwise is named in one line, with its exit status.

Several machines still take torchrun itself (README, "Several machines").
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence

from pyro_vae.running.interrupts import PROCESSES_VARIABLE

__all__ = ["run_processes", "without_processes"]

#: The launcher's own loggers: their warnings and the failure report are replaced by one line.
_LAUNCHER_LOGGERS = ("torch.distributed.run", "torch.distributed.elastic", "torch.distributed")


def without_processes(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--processes N`` (or ``--processes=N``): what each process runs.

    Example:
        >>> without_processes(["train", "--processes", "2", "--epochs", "3"])
        ['train', '--epochs', '3']
    """
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            kept.append(arg)
    return kept


def run_processes(argv: Sequence[str], processes: int) -> int:
    """Run ``pyro-vae ARGV`` in ``processes`` processes on this machine; their exit status.

    Args:
        argv: the command and its options, without ``--processes``.
        processes: how many processes (each takes ``cores // processes`` threads unless
            ``OMP_NUM_THREADS`` is set).

    Returns:
        0 when every process succeeded; else the exit status of the first that failed (2 for a
        bad input, 130 after a Ctrl-C), or 128 + the signal that stopped the launcher.

    Example:
        >>> run_processes(["evaluate", "runs/digits", "--limit", "100"], 2)  # doctest: +SKIP
        0
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    os.environ[PROCESSES_VARIABLE] = str(processes)  # a stopped run says how to resume
    launch = parse_args(["--standalone", f"--nproc-per-node={processes}", "-m", "pyro_vae", *argv])
    levels = {name: logging.getLogger(name).level for name in _LAUNCHER_LOGGERS}
    for name in _LAUNCHER_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(launch)
    except ChildFailedError as failed:
        rank, failure = failed.get_first_failure()
        code = failure.exitcode
        if code < 0:  # killed by a signal
            print(
                f"pyro-vae {argv[0]}: the process of rank {rank} was killed by "
                f"{_signal_name(-code)}; "
                "the others were stopped",
                file=sys.stderr,
            )
            return 128 - code
        if code not in (2, 128 + signal.SIGINT, 128 + signal.SIGTERM):  # said by the process
            print(
                f"pyro-vae {argv[0]}: the process of rank {rank} failed with exit status "
                f"{code}; the others were stopped",
                file=sys.stderr,
            )
        return code
    except SignalException as stopped:  # Ctrl-C or SIGTERM to this process: passed on to them
        return 128 + int(stopped.sigval)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return 0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
