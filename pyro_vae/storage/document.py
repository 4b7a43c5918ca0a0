"""A run directory's ``config.json``: its name, its format and how it is read.

Kept apart from :mod:`pyro_vae.storage.rundir` because it needs no torch: the command line
checks that a run directory it is given exists and is one before importing anything heavy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyro_vae.errors import InputError

__all__ = ["CONFIG_FILE", "FORMAT", "read_document"]

#: The settings, the data's description and the version of a run, as JSON.
CONFIG_FILE = "config.json"
#: The format written into every ``config.json`` (a run of another format is refused).
FORMAT = "pyro-vae-run/1"


def read_document(run_dir: str | Path) -> dict[str, Any]:
    """The JSON document of the run in ``run_dir``, checked to be one.

    Raises:
        InputError: one line, if the folder is missing, is not a run directory, or its
            ``config.json`` cannot be read or is of another format.

    Example:
        >>> read_document("no/such/run")
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: run directory no/such/run does not exist: check the path
    """
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise InputError(f"run directory {run_dir} does not exist: check the path")
    if not path.is_file():
        raise InputError(
            f"{run_dir} has no {CONFIG_FILE}: it is not a pyro-vae run directory; pass the "
            "folder that pyro-vae train wrote"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc}): restore it or train again") from None
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror}): check its permissions") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} config: not a run directory of this version")
    return doc
