"""Data: the data sets by name, a run's checked splits, and the minibatches of an epoch.

Modules:
    datasets: the registry of data sets (digits, MNIST, Fashion-MNIST, npz) and their loaders.
    splits: data checked against the likelihood and split into training, validation and test.
    batches: seeded epochs of minibatches and binarization.

The names of version 0.1's ``pyro_vae.data`` module (``load_data``, ...) are still found here
for now, with a ``FutureWarning`` naming their module (:mod:`pyro_vae._moved`).
"""

from typing import Any

from pyro_vae._moved import forward

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return forward(__name__, name)
