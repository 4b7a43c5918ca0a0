"""The one exception type for bad user input.

Everything a user can get wrong (a name, a number, a path, a data file, a run directory) is
checked where it enters and raised as :class:`InputError`, whose message is one line that names
the problem and the fix. The command line prints that line and exits with status 2.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from a user: a one-line message naming the problem and how to fix it.

    Example:
        >>> raise InputError("epochs must be a positive integer, got 0: pass --epochs 10")
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: epochs must be a positive integer, got 0: pass --epochs 10
    """
