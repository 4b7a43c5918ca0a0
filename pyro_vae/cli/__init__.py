"""The ``pyro-vae`` command line: parse, call the Python API, print.

Modules:
    launch: the entry -- ``--help``, ``--version`` and usage errors without torch; :func:`main`.
    top: the program's own parser, its commands and their one-line help (no heavy import).
    arguments: the command line's grammar -- its parser and the checks of its options.
    commands: what each command does.
    processes: ``--processes N``, the command in N processes through torchrun's launcher.

Names of version 0.1's ``pyro_vae.cli`` module other than ``main`` are still found here for
now, with a ``FutureWarning`` naming their module (:mod:`pyro_vae._moved`).
"""

from typing import Any

from pyro_vae._moved import forward
from pyro_vae.cli.launch import main

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    return forward(__name__, name)
