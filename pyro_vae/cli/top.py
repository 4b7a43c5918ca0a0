"""The top of the ``pyro-vae`` grammar: the program, its commands and their one-line help.

Light on purpose (no torch, no Pyro): :mod:`pyro_vae.cli.launch` answers ``--help``,
``--version`` and a mistyped command with this parser alone, and
:func:`pyro_vae.cli.arguments.build_parser` adds every command's options to the same parser.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn

__all__ = ["COMMANDS", "EXIT_INPUT_ERROR", "CommandParser", "reports", "top_parser"]

EXIT_INPUT_ERROR = 2

#: Every command and its one-line help, in the order ``pyro-vae --help`` lists them.
COMMANDS = {
    "train": "train a VAE and write a run directory",
    "evaluate": "estimate the test-set log P(X) of a trained run (importance sampling / naive)",
    "compare-estimators": "the log P(X) estimators against K (and AIS), as a table and a CSV",
    "bdmc": "bound log P(X) of simulated data from both sides with AIS (BDMC)",
    "sample": "draw images from a trained model into a PNG grid",
    "export": "copy a run into a compact folder to share: one set of weights, no training state",
    "presets": "list the documented configurations that train --preset takes",
    "plot": "draw one figure of a run into a PNG file",
}


class CommandParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, with exit status 2.

    It takes no abbreviated options: ``--latent`` must not silently mean ``--latent-dim``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 and one line: the problem, and where help is."""
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def top_parser() -> tuple[CommandParser, Any]:
    """The parser of ``pyro-vae`` itself and its (still empty) group of subcommands.

    Example:
        >>> parser, commands = top_parser()
        >>> parser.prog
        'pyro-vae'
    """
    from pyro_vae._version import __version__

    description = "Variational autoencoders as Pyro programs."
    parser = CommandParser(prog="pyro-vae", description=description)
    parser.add_argument("--version", action="version", version=f"pyro-vae {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    return parser, commands


def reports() -> bool:
    """Whether this process prints results and errors: always alone, rank 0 under torchrun.

    Under torchrun every process finds the same bad input; one line is enough.

    Example:
        >>> reports()
        True
    """
    return os.environ.get("RANK", "0") == "0"
