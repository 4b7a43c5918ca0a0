"""Figures: drawn from a model and tensors, or from what a run directory holds.

Modules:
    figures: matplotlib figures from a model, tensors and tables.
    classes: figures of a model with a class (M2).
    conditional: figures of a conditional model (CVAE).
    kinds: the registry of ``pyro-vae plot`` kinds, each drawn from a run directory.

The names of version 0.1's ``pyro_vae.plots`` module are still found here for now, with a
``FutureWarning`` naming their module (:mod:`pyro_vae._moved`).
"""

from typing import Any

from pyro_vae._moved import forward

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return forward(__name__, name)
