"""Minibatches of an epoch and binarization, each drawn from a stream keyed by its seed.

The order of an epoch and the binarization of each batch depend only on (run seed, epoch, step),
so an interrupted epoch restarts exactly where it stopped, and the validation and test sets are
binarized the same way in every run (:data:`EVAL_BINARIZATION_SEED`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from pyro_vae.data.pixels import RowSource

__all__ = [
    "EVAL_BINARIZATION_SEED",
    "batch_seed",
    "binarize_fixed",
    "dequantize_fixed",
    "epoch_batches",
    "permutation",
]

#: Seed of the one-off binarization of validation and test sets: the same in every run.
EVAL_BINARIZATION_SEED = 20_151_031


def binarize_fixed(
    x: torch.Tensor, seed: int = EVAL_BINARIZATION_SEED, *, columns: int | None = None
) -> torch.Tensor:
    """Binarize grey levels once, reproducibly: each value becomes 1 with its own probability.

    ``columns``: binarize only the first this many values of each row (the target of a
    conditional model, whose condition follows it), all when ``None``.

    Example:
        >>> x = torch.full((2, 3), 0.5)
        >>> torch.equal(binarize_fixed(x), binarize_fixed(x))
        True
        >>> binarize_fixed(x, columns=2)[:, 2].tolist()
        [0.5, 0.5]
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    if columns is None or columns >= x.shape[-1]:
        return torch.bernoulli(x, generator=generator)
    target = torch.bernoulli(x[..., :columns], generator=generator)
    return torch.cat([target, x[..., columns:]], -1)


def dequantize_fixed(
    x: torch.Tensor, bits: int, seed: int = EVAL_BINARIZATION_SEED, *, columns: int | None = None
) -> torch.Tensor:
    """Uniform dequantization: level k of 2**bits becomes (k + u) / 2**bits, u ~ U[0, 1).

    The values k / (2**bits - 1) of discrete pixels spread evenly over the bins of width
    1 / 2**bits that tile [0, 1), so a density p on [0, 1]^D bounds the discrete images'
    probability: log P(k) >= E_u[log p((k + u) / L)] - D log L, L = 2**bits. ``columns`` as in
    :func:`binarize_fixed`.

    Example:
        >>> y = dequantize_fixed(torch.tensor([[0.0, 1.0]]), bits=1)
        >>> bool(((0 <= y[0, 0]) & (y[0, 0] < 0.5)).item()), bool((y[0, 1] >= 0.5).item())
        (True, True)
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    width = x.shape[-1] if columns is None else min(columns, x.shape[-1])
    levels = 2**bits
    target = x[..., :width]
    noise = torch.rand(target.shape, generator=generator, dtype=target.dtype)
    shifted = (torch.round(target * (levels - 1)) + noise) / levels
    return torch.cat([shifted, x[..., width:]], -1)


def batch_seed(seed: int, epoch: int, step: int = -1) -> int:
    """A 63-bit seed derived from (run seed, epoch, step), independent across its inputs."""
    entropy = [seed, epoch] if step < 0 else [seed, epoch, step]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


def epoch_batches(
    x: RowSource,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    binarize: bool,
    start_step: int = 0,
    columns: int | None = None,
    dequantize: int = 0,
) -> Iterator[torch.Tensor]:
    """Shuffle ``x`` for ``epoch`` and yield its minibatches, binarized afresh if asked.

    ``x`` may be a tensor or uint8 pixels (:class:`pyro_vae.data.pixels.PixelRows`), which
    are converted a batch at a time.

    ``columns`` limits the binarization to the first values of each row (:func:`binarize_fixed`).
    ``dequantize`` > 0 dequantizes pixels of that many bits afresh instead
    (:func:`dequantize_fixed`).

    The order and the binarization of batch ``s`` depend only on ``(seed, epoch, s)``, so an
    epoch can restart at ``start_step`` and yield exactly what it would have.

    Example:
        >>> x = torch.rand(10, 4)
        >>> [b.shape[0] for b in epoch_batches(x, 4, seed=0, epoch=0, binarize=True)]
        [4, 4, 2]
    """
    order = permutation(x.shape[0], batch_seed(seed, epoch))
    num_batches = math.ceil(x.shape[0] / batch_size)
    for step in range(start_step, num_batches):
        batch = x[order[step * batch_size : (step + 1) * batch_size]]
        if binarize:
            batch = binarize_fixed(batch, batch_seed(seed, epoch, step), columns=columns)
        elif dequantize:
            noise = batch_seed(seed, epoch, step)
            batch = dequantize_fixed(batch, dequantize, noise, columns=columns)
        yield batch


def permutation(n: int, seed: int) -> torch.Tensor:
    """A seeded permutation of ``range(n)`` on the CPU, where the data live."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randperm(n, generator=generator, device="cpu")
