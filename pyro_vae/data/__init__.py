"""Data: the data sets by name, a run's checked splits, and the minibatches of an epoch.

Modules:
    datasets: the registry of data sets (digits, MNIST, Fashion-MNIST, npz, folder, CIFAR-10,
        photos) and their loaders.
    folders: a user's folder of image files, decoded once into a memory-mapped cache.
    cifar: CIFAR-10 parsed from the bytes of its binary version.
    photos: colour patches of scikit-learn's two photographs, an offline colour data set.
    pixels: uint8 images read as float rows a batch at a time (data larger than memory).
    conditions: the condition X a conditional model reads beside each image.
    splits: data checked against the likelihood and split into training, validation and test.
    batches: seeded epochs of minibatches, binarization and dequantization.

The names of version 0.1's ``pyro_vae.data`` module (``load_data``, ...) are still found here
for now, with a ``FutureWarning`` naming their module (:mod:`pyro_vae._moved`).
"""

from typing import Any

from pyro_vae._moved import forward

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return forward(__name__, name)
