"""The one exception type for bad user input, and how its advice names a setting.

Everything a user can get wrong (a name, a number, a path, a data file, a run directory) is
checked where it enters and raised as :class:`InputError`, whose message is one line that names
the problem and the fix. The command line prints that line and exits with status 2.

The fix is spelled the way the user gave the input: ``--overwrite`` on the command line,
``overwrite=True`` in Python. :func:`spell` picks the spelling; the command line runs inside
:func:`command_line`, everything else is Python.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["InputError", "command_line", "setting", "spell", "where"]

_COMMAND_LINE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pyro_vae_command_line", default=False
)


class InputError(ValueError):
    """Bad input from a user: a one-line message naming the problem and how to fix it.

    Example:
        >>> raise InputError("epochs must be a positive integer, got 0: pass epochs=10")
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: epochs must be a positive integer, got 0: pass epochs=10
    """


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Inside this block, advice is spelled as command-line options (``pyro-vae`` runs in it)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def spell(cli: str, python: str) -> str:
    """``cli`` on the command line, ``python`` elsewhere.

    Example:
        >>> spell("--overwrite", "overwrite=True")
        'overwrite=True'
        >>> with command_line():
        ...     spell("--overwrite", "overwrite=True")
        '--overwrite'
    """
    return cli if _COMMAND_LINE.get() else python


def setting(name: str, value: object | None = None) -> str:
    """A setting as the user writes it: ``--latent-dim 2`` or ``latent_dim=2`` (no value: name).

    Example:
        >>> setting("latent_dim", 2), setting("latent_dim")
        ('latent_dim=2', 'latent_dim')
        >>> with command_line():
        ...     setting("latent_dim", 2)
        '--latent-dim 2'
    """
    option = "--" + name.replace("_", "-")
    if value is None:
        return spell(option, name)
    return spell(f"{option} {value}", f"{name}={value!r}")


def where(name: str) -> str:
    """Where a setting is given, for "(...)" after a list of choices.

    Example:
        >>> where("on_nonfinite")
        'setting on_nonfinite'
        >>> with command_line():
        ...     where("on_nonfinite")
        'option --on-nonfinite'
    """
    return spell(f"option --{name.replace('_', '-')}", f"setting {name}")
