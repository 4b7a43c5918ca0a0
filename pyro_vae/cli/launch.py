"""The entry of the ``pyro-vae`` command: the answers that need no torch, then the commands.

``pyro-vae --help``, ``--version``, a mistyped command name and a missing one are answered by
the top-level parser alone, and a command's unknown or missing options by its light parser
(:func:`pyro_vae.cli.arguments.build_parser` with ``light=True``), without importing torch or
Pyro (which takes seconds); anything else goes to :func:`pyro_vae.cli.commands.main`. The
top-level parser (:func:`pyro_vae.cli.top.top_parser`) is the one that ``build_parser``
extends, so both print the same help and errors. A Ctrl-C while the heavy modules import ends
the command in one line.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from pyro_vae.cli.top import COMMANDS, top_parser

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
    elif not {"-h", "--help"} & set(args):  # a usage error in a command's options: here too
        code = _usage_error(args)
        if code is not None:
            return code
    try:
        from pyro_vae.cli.commands import main as run
    except KeyboardInterrupt:
        print("pyro-vae: interrupted while starting; nothing was done", file=sys.stderr)
        return 128 + signal.SIGINT
    return run(args)


def _usage_error(args: list[str]) -> int | None:
    """Parse ``args`` with the light parser: the exit status of a usage error, else ``None``."""
    from pyro_vae.cli.arguments import build_parser, unrecognized

    parser = build_parser(light=True)
    try:
        _, extras = parser.parse_known_args(args)
        if extras:
            unrecognized(parser, args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return None
