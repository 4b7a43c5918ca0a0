"""Where the tensors live: the ``--device`` setting, resolved and checked once.

Every command and every entry point of the Python API takes ``device``: ``"auto"`` (CUDA when
torch sees a GPU, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``. The model is
moved there, and every tensor the library creates follows the model (or the data it is given):
a run directory's files do not depend on the device (weights are written from CPU copies), so
a run trained on a GPU evaluates on a CPU and the reverse.

Importing this module imports no torch (each function does): the light command line checks a
device's name without it (:func:`check_device_name`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyro_vae.errors import InputError, setting, where

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["DEVICES", "check_device_name", "device_of", "resolve_device"]

#: What ``--device`` accepts (``cuda:N`` for any N).
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
_NAME = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device that ``device`` names on this machine.

    Args:
        device: one of :data:`DEVICES`, or a ``torch.device``; ``None`` means ``"auto"``.

    Returns:
        The device (``cuda`` resolves to the current CUDA device index).

    Raises:
        InputError: for a name that is not a device, or a device this machine does not have
            (one line that names what is available).

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("auto").type in ("cpu", "cuda")
        True
    """
    import torch

    name = check_device_name("auto" if device is None else str(device))
    if name == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if _cuda() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(f"device 'mps' is not available on this machine: {_choices()}")
        return torch.device("mps")
    if not _cuda():
        raise InputError(f"device {name!r}: torch sees no CUDA GPU on this machine; {_choices()}")
    index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise InputError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
            f"numbered from 0; {_choices()}"
        )
    return torch.device("cuda", index)


def check_device_name(name: str) -> str:
    """``name`` if it spells a device (whether or not this machine has it), else an InputError.

    Example:
        >>> check_device_name("cuda:1")
        'cuda:1'
    """
    if not _NAME.match(name):
        raise InputError(
            f"unknown device {name!r} ({where('device')}): choose one of {', '.join(DEVICES)}"
        )
    return name


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU for a module with none).

    Example:
        >>> from torch import nn
        >>> device_of(nn.Linear(2, 3))
        device(type='cpu')
    """
    import torch

    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def _choices() -> str:
    import torch

    available = ["cpu"]
    if _cuda():
        available += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        available.append("mps")
    return f"use {setting('device', 'auto')} or one of {', '.join(available)}"
