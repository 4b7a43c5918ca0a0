"""The entry of the ``pyro-vae`` command: the answers that need no torch, then the commands.

Importing torch and Pyro takes seconds, so the command line first answers what it can without
them: ``pyro-vae --help``, ``--version`` and a mistyped or missing command (the top-level
parser, :func:`pyro_vae.cli.top.top_parser`), then a command's ``--help``, its unknown or
missing options and the values its options' text alone shows wrong
(:func:`pyro_vae.cli.arguments.check_values`) -- all with the full parser, built from the
committed catalogue of the registries (:func:`pyro_vae.registry.from_catalogue`), so the
answers are the ones the commands would give. Anything else goes to
:func:`pyro_vae.cli.commands.main`, or with ``--processes N`` to N processes
(:mod:`pyro_vae.cli.processes`). A Ctrl-C while the heavy modules import ends the command in
one line.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from pyro_vae.cli.top import COMMANDS, EXIT_INPUT_ERROR, reports, top_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyro-vae`` command line; return the exit status.

    Example:
        >>> main(["--version"])
        pyro-vae 0.1.0
        0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:  # help, version or a usage error: answered here
        parser, commands = top_parser()
        for name, summary in COMMANDS.items():
            commands.add_parser(name, help=summary)
        try:
            parser.parse_args(args[:1])
        except SystemExit as exc:
            return int(exc.code or 0)
    answer = _answered(args)
    if isinstance(answer, int):
        return answer
    processes = getattr(answer, "processes", None)  # (checked: a positive integer)
    if processes is not None:
        from pyro_vae.cli.processes import run_processes, without_processes

        return run_processes(without_processes(args), int(processes))
    try:
        from pyro_vae.cli.commands import main as run
    except KeyboardInterrupt:
        print("pyro-vae: interrupted while starting; nothing was done", file=sys.stderr)
        return 128 + signal.SIGINT
    return run(args)


def _answered(args: list[str]) -> int | argparse.Namespace:
    """The exit status if ``args`` ask for help or hold a usage or value error, else the options.

    The registries answer from the catalogue (with the parts this process registered), so
    nothing heavy is imported.
    """
    from pyro_vae.cli.arguments import build_parser, check_values, unrecognized
    from pyro_vae.errors import InputError, command_line
    from pyro_vae.registry import from_catalogue

    with from_catalogue():
        parser = build_parser()
        try:
            parsed, extras = parser.parse_known_args(args)
            if extras:
                unrecognized(parser, args)
        except SystemExit as exc:  # help printed, or a usage error reported
            return int(exc.code or 0)
        assert isinstance(parsed, argparse.Namespace)
        parsed.given = {a.split("=")[0] for a in args}
        try:
            with command_line():
                check_values(parsed)
        except InputError as exc:
            if reports():
                print(f"pyro-vae {parsed.command}: error: {exc}", file=sys.stderr)
            return EXIT_INPUT_ERROR
    return parsed
