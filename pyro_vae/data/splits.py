"""A run's data: checked against the likelihood, split into training, validation and test sets.

For a Bernoulli likelihood the training batches are binarized afresh each epoch (dynamic
binarization, :func:`pyro_vae.data.batches.epoch_batches`) while the validation and test sets are
binarized once here with a fixed seed, so that numbers are comparable between runs. The
validation set is a seeded share of the training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pyro_vae.config import Config
from pyro_vae.data.batches import binarize_fixed, permutation
from pyro_vae.data.datasets import load_raw
from pyro_vae.errors import InputError, setting

__all__ = ["DataSplits", "check_data", "load_data"]


@dataclass(frozen=True)
class DataSplits:
    """Training, validation and test sets ready for a run.

    Attributes:
        train: training vectors (grey levels when ``binarize_train`` is set).
        validation: validation vectors, binarized once if the run binarizes.
        test: test vectors, binarized once if the run binarizes.
        y_validation: validation labels or ``None``.
        y_test: test labels or ``None``.
        binarize_train: whether training batches are binarized afresh each epoch.
        image_shape: ``(height, width)`` or ``None``.
        y_train: training labels (one per row of ``train``) or ``None``.
    """

    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor
    y_validation: torch.Tensor | None
    y_test: torch.Tensor | None
    binarize_train: bool
    image_shape: tuple[int, int] | None
    y_train: torch.Tensor | None = None

    @property
    def data_dim(self) -> int:
        """Number of values per datapoint."""
        return int(self.train.shape[1])

    @property
    def num_classes(self) -> int | None:
        """How many classes the labels name (largest label + 1); ``None`` without labels."""
        labelled = [y for y in (self.y_train, self.y_validation, self.y_test) if y is not None]
        if not labelled or not any(y.numel() for y in labelled):
            return None
        return int(max(int(y.max()) for y in labelled if y.numel())) + 1


def check_data(x: torch.Tensor, support: str, binarize: bool, what: str) -> None:
    """Check that data fit the likelihood; raise :class:`InputError` saying what to do if not.

    Args:
        x: the data, ``[N, D]``.
        support: the likelihood's ``support`` (``"binary"``, ``"unit"`` or ``"real"``).
        binarize: whether the data will be binarized (then values must lie in [0, 1]).
        what: how to name the data in the message.

    Example:
        >>> check_data(torch.tensor([[0.0, 0.5]]), "binary", binarize=False, what="x")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: x has values other than 0 and 1, ...
    """
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise InputError(f"{what} contains {bad} NaN or infinite values: remove or impute them")
    if binarize:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"{what} has values in [{lo:g}, {hi:g}] but binarization needs [0, 1]: rescale "
                f"the data, or use {setting('likelihood', 'gaussian')} "
                f"{setting('binarize', 'none')}"
            )
    elif support == "unit" and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise InputError(
            f"{what} has values in [{float(x.min()):g}, {float(x.max()):g}] but the continuous "
            "Bernoulli likelihood needs [0, 1]: rescale the data, or use "
            f"{setting('likelihood', 'gaussian')}"
        )
    elif support == "binary" and bool(((x != 0) & (x != 1)).any()):
        raise InputError(
            f"{what} has values other than 0 and 1, which a Bernoulli likelihood cannot model: "
            f"use {setting('binarize', 'dynamic')}, or {setting('likelihood', 'gaussian')}"
        )


def load_data(config: Config, support: str) -> DataSplits:
    """Load, check and split the data of a run.

    Args:
        config: data set, binarization, validation share and seed.
        support: the likelihood's ``support``, used to check the data and pick binarization.

    Returns:
        The training, validation and test sets.

    Example:
        >>> splits = load_data(Config(dataset="digits"), support="binary")
        >>> splits.train.shape[0] + splits.validation.shape[0], splits.binarize_train
        (1437, True)
    """
    raw = load_raw(config)
    binarize = config.binarize == "dynamic" or (config.binarize == "auto" and support == "binary")
    check_data(raw.x_train, support, binarize, f"{raw.name} training data")
    check_data(raw.x_test, support, binarize, f"{raw.name} test data")
    n = raw.x_train.shape[0]
    n_val = max(1, round(config.validation_fraction * n))
    if n - n_val < 1:
        raise InputError(
            f"{raw.name} has too few rows ({n}) to hold out a validation set: "
            f"add data or lower {setting('validation_fraction')}"
        )
    order = permutation(n, config.seed)
    train_idx, val_idx = order[n_val:], order[:n_val]
    validation, test = raw.x_train[val_idx], raw.x_test
    if binarize:
        validation, test = binarize_fixed(validation), binarize_fixed(test)
    return DataSplits(
        train=raw.x_train[train_idx],
        validation=validation,
        test=test,
        y_validation=None if raw.y_train is None else raw.y_train[val_idx],
        y_test=raw.y_test,
        binarize_train=binarize,
        image_shape=raw.image_shape,
        y_train=None if raw.y_train is None else raw.y_train[train_idx],
    )
