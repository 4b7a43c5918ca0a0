"""A run's data: checked against the likelihood, split into training, validation and test sets.

For a Bernoulli likelihood the training batches are binarized afresh each epoch (dynamic
binarization, :func:`pyro_vae.data.batches.epoch_batches`) while the validation and test sets are
binarized once here with a fixed seed, so that numbers are comparable between runs. The
validation set is a seeded share of the training part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pyro_vae.config import Condition, Config
from pyro_vae.data.batches import binarize_fixed, dequantize_fixed, permutation
from pyro_vae.data.conditions import attach_condition
from pyro_vae.data.datasets import RawData, load_raw
from pyro_vae.data.pixels import PixelRows, RowSource, in_memory, parts, take
from pyro_vae.errors import InputError, setting

__all__ = ["DataSplits", "check_data", "load_data"]

#: How many rows of streamed pixels :meth:`DataSplits.marginal_rows` reads.
_MARGINAL_ROWS = 20_000


@dataclass(frozen=True)
class DataSplits:
    """Training, validation and test sets ready for a run.

    Attributes:
        train: training vectors (grey levels when ``binarize_train`` is set): a tensor, or
            uint8 images' :class:`PixelRows` read a batch at a time.
        validation: validation vectors, binarized once if the run binarizes.
        test: test vectors, binarized once if the run binarizes.
        y_validation: validation labels or ``None``.
        y_test: test labels or ``None``.
        binarize_train: whether training batches are binarized afresh each epoch.
        image_shape: ``(height, width)``, ``(channels, height, width)`` for colour, or
            ``None``.
        y_train: training labels (one per row of ``train``) or ``None``.
        condition_dim: for a conditional model, the width of the condition X that ends each
            row (:mod:`pyro_vae.data.conditions`); 0 otherwise.
        dequantize_bits: for dequantized data, the depth of their pixels: training batches are
            dequantized afresh each epoch, validation and test once (0: not dequantized).
    """

    train: RowSource
    validation: torch.Tensor
    test: torch.Tensor
    y_validation: torch.Tensor | None
    y_test: torch.Tensor | None
    binarize_train: bool
    image_shape: tuple[int, ...] | None
    y_train: torch.Tensor | None = None
    condition_dim: int = 0
    dequantize_bits: int = 0

    @property
    def data_dim(self) -> int:
        """Number of values per datapoint (target and condition of a conditional model)."""
        return int(self.train.shape[1])

    @property
    def target_dim(self) -> int:
        """Number of values per datapoint that the likelihood models (all but the condition)."""
        return self.data_dim - self.condition_dim

    @property
    def channels(self) -> int:
        """Colour channels of the images: 3 for ``(C, H, W)`` shapes, else 1."""
        return self.image_shape[0] if self.image_shape and len(self.image_shape) == 3 else 1

    def probe(self) -> torch.Tensor:
        """A fixed share of the training set, as large as the validation set, binarized like it.

        Training scores it after every epoch beside the validation set: the training curves.
        """
        probe = self.train[: self.validation.shape[0]]
        if self.dequantize_bits:
            return dequantize_fixed(probe, self.dequantize_bits, columns=self.target_dim)
        return binarize_fixed(probe, columns=self.target_dim) if self.binarize_train else probe

    def marginal_rows(self) -> torch.Tensor:
        """The training rows that start the likelihood at the data's marginals.

        All of them; of streamed pixels (:class:`PixelRows`) the first 20,000, a random sample
        since the training rows are in the seeded order of the split.
        """
        if isinstance(self.train, PixelRows):
            return self.train[:_MARGINAL_ROWS]
        return self.train

    @property
    def num_classes(self) -> int | None:
        """How many classes the labels name (largest label + 1); ``None`` without labels."""
        labelled = [y for y in (self.y_train, self.y_validation, self.y_test) if y is not None]
        if not labelled or not any(y.numel() for y in labelled):
            return None
        return int(max(int(y.max()) for y in labelled if y.numel())) + 1


def check_data(x: RowSource, support: str, binarize: bool, what: str, *, bits: int = 8) -> None:
    """Check that data fit the likelihood; raise :class:`InputError` saying what to do if not.

    Args:
        x: the data, ``[N, D]`` (a tensor, or :class:`PixelRows` checked chunk by chunk).
        support: the likelihood's ``support`` (``"binary"``, ``"unit"``, ``"discrete"`` or
            ``"real"``).
        binarize: whether the data will be binarized (then values must lie in [0, 1]).
        what: how to name the data in the message.
        bits: for ``"discrete"``, the depth the values must have: k / (2**bits - 1).

    Example:
        >>> check_data(torch.tensor([[0.0, 0.5]]), "binary", binarize=False, what="x")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: x has values other than 0 and 1, ...
    """
    bad = sum(int((~torch.isfinite(p)).sum()) for p in parts(x))
    if bad:
        raise InputError(f"{what} contains {bad} NaN or infinite values: remove or impute them")
    if binarize and support == "discrete" and bits != 1:
        raise InputError(
            f"binarized data have two levels, but the likelihood models {2**bits}: pass "
            f"{setting('binarize', 'none')} (or {setting('data_bits', 1)} for binary data)"
        )
    lo, hi = _extent(x)
    if binarize:
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"{what} has values in [{lo:g}, {hi:g}] but binarization needs [0, 1]: rescale "
                f"the data, or use {setting('likelihood', 'gaussian')} "
                f"{setting('binarize', 'none')}"
            )
    elif support == "unit" and (lo < 0.0 or hi > 1.0):
        raise InputError(
            f"{what} has values in [{lo:g}, {hi:g}] but the continuous "
            "Bernoulli likelihood needs [0, 1]: rescale the data, or use "
            f"{setting('likelihood', 'gaussian')}"
        )
    elif support == "discrete":
        _check_levels(x, bits, what, (lo, hi))
    elif support == "binary" and any(bool(((p != 0) & (p != 1)).any()) for p in parts(x)):
        raise InputError(
            f"{what} has values other than 0 and 1, which a Bernoulli likelihood cannot model: "
            f"use {setting('binarize', 'dynamic')}, or {setting('likelihood', 'gaussian')}"
        )


def _extent(x: RowSource) -> tuple[float, float]:
    """The smallest and the largest value of ``x`` (``inf, -inf`` when it has none)."""
    lo, hi = math.inf, -math.inf
    for p in parts(x):
        if p.numel():
            lo, hi = min(lo, float(p.min())), max(hi, float(p.max()))
    return lo, hi


def _check_levels(x: RowSource, bits: int, what: str, extent: tuple[float, float]) -> None:
    """Refuse values that are not on the levels k / (2**bits - 1) of [0, 1]."""
    levels = 2**bits - 1
    lo, hi = extent
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"{what} has values in [{lo:g}, {hi:g}] but a discretized likelihood models "
            f"pixels in [0, 1]: rescale the data to k / {levels}, or use "
            f"{setting('likelihood', 'gaussian')}"
        )
    for p in parts(x):
        off = _level_offsets(p, bits)
        if bool((off > 1e-3).any()):
            example = float(p.flatten()[int(off.flatten().argmax())])
            raise InputError(
                f"{what} has values off the {levels + 1} levels k / {levels} of {bits}-bit "
                f"pixels (e.g. {example:.6g}): pass the data's depth with "
                f"{setting('data_bits')}, or use {setting('likelihood', 'gaussian')}"
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
    bits = config.data_bits
    check_data(raw.x_train, support, binarize, f"{raw.name} training data", bits=bits)
    check_data(raw.x_test, support, binarize, f"{raw.name} test data", bits=bits)
    dequantize = _dequantized(config, raw, support, binarize)
    x_train, x_test, width = _with_condition(config, raw)
    n = x_train.shape[0]
    n_val = max(1, round(config.validation_fraction * n))
    if n - n_val < 1:
        raise InputError(
            f"{raw.name} has too few rows ({n}) to hold out a validation set: "
            f"add data or lower {setting('validation_fraction')}"
        )
    order = permutation(n, config.seed)
    train_idx, val_idx = order[n_val:], order[:n_val]
    validation, test = x_train[val_idx], x_test
    columns = x_train.shape[1] - width
    if binarize:
        validation, test = (binarize_fixed(v, columns=columns) for v in (validation, test))
    elif dequantize:
        validation, test = (dequantize_fixed(v, bits, columns=columns) for v in (validation, test))
    return DataSplits(
        train=take(x_train, train_idx),
        validation=validation,
        test=test,
        y_validation=None if raw.y_train is None else raw.y_train[val_idx],
        y_test=raw.y_test,
        binarize_train=binarize,
        image_shape=raw.image_shape,
        y_train=None if raw.y_train is None else raw.y_train[train_idx],
        condition_dim=width,
        dequantize_bits=bits if dequantize else 0,
    )


def _level_offsets(x: torch.Tensor, bits: int) -> torch.Tensor:
    """How far each value of ``x`` lies from the nearest level k / (2**bits - 1), in levels."""
    scaled = x * (2**bits - 1)
    return (scaled - torch.round(scaled)).abs()


def _on_levels(x: RowSource, bits: int) -> bool:
    """Whether every value of ``x`` is one of the levels k / (2**bits - 1) of [0, 1]."""
    lo, hi = _extent(x)
    if math.isinf(lo) or lo < 0 or hi > 1:
        return False
    return all(bool((_level_offsets(p, bits) <= 1e-3).all()) for p in parts(x))


def _dequantized(config: Config, raw: RawData, support: str, binarize: bool) -> bool:
    """Whether a run dequantizes its data: ``on``, or ``auto`` for a density on pixel levels."""
    if config.dequantize == "off" or binarize or support not in ("real", "unit"):
        if config.dequantize == "on":
            raise InputError(
                f"{setting('dequantize', 'on')} is for a continuous likelihood on pixels that "
                f"are not binarized: use {setting('likelihood', 'gaussian')} with "
                f"{setting('binarize', 'none')}, or drop {setting('dequantize')}"
            )
        return False
    bits = config.data_bits
    on_levels = _on_levels(raw.x_train, bits) and _on_levels(raw.x_test, bits)
    if config.dequantize == "on" and not on_levels:
        raise InputError(
            f"{setting('dequantize', 'on')} needs pixels on the {2**bits} levels of "
            f"{setting('data_bits', bits)}, and {raw.name} has others: pass its depth, or drop "
            f"{setting('dequantize')}"
        )
    return on_levels


def _with_condition(config: Config, raw: RawData) -> tuple[RowSource, torch.Tensor, int]:
    """Training and test rows with the run's condition attached, and its width (0: none)."""
    condition = Condition.parse(config.condition)
    if condition.kind == "none":
        return raw.x_train, raw.x_test, 0
    labelled = [y for y in (raw.y_train, raw.y_test) if y is not None and y.numel()]
    num_classes = max(int(y.max()) for y in labelled) + 1 if labelled else None
    rows = []
    for x, y, c, part in (  # the condition is attached in memory: streamed pixels are read
        (in_memory(raw.x_train), raw.y_train, raw.c_train, "training"),
        (raw.x_test, raw.y_test, raw.c_test, "test"),
    ):
        what = f"the {part} data of {raw.name}"
        rows.append(
            attach_condition(
                condition,
                x,
                labels=y,
                arrays=c,
                image_shape=raw.image_shape,
                num_classes=num_classes,
                what=what,
            )
        )
    (train, width), (test, _) = rows
    return train, test, width
