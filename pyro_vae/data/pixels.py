"""Images kept as their uint8 pixels and read as float rows k / 255 a batch at a time.

A folder of images or CIFAR-10 is held as uint8 pixels, a quarter of the size of the float32
rows a network reads; a folder's pixels are memory-mapped from its decoding cache
(:mod:`pyro_vae.data.folders`), so a data set larger than memory streams from the disk, the
operating system keeping in memory what it has room for. :class:`PixelRows` converts only the
rows asked for: training draws its minibatches through it, and a subset (the training split)
is an index into the same pixels, not a copy.

Example:
    >>> pixels = np.arange(24, dtype=np.uint8).reshape(4, 2, 3)
    >>> rows = PixelRows(pixels)
    >>> rows.shape
    torch.Size([4, 6])
    >>> rows[1:3].mul(255).round().tolist()
    [[6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0, 16.0, 17.0]]
    >>> rows.select(torch.tensor([3, 0]))[0].mul(255).round().tolist()
    [18.0, 19.0, 20.0, 21.0, 22.0, 23.0]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["PixelRows", "RowSource", "in_memory", "parts", "take"]

#: Values converted at a time when a whole set is scanned (checks): 16 MiB of float32.
_CHUNK_VALUES = 2**22


class PixelRows:
    """The rows ``pixels[rows] / 255`` of uint8 images, flattened, converted when read.

    Indexing (an int, a slice, a list, a numpy array or a tensor of positions or a boolean mask)
    returns a float32 tensor like indexing a tensor of the rows would, bit for bit.

    Args:
        pixels: uint8 images ``[N, ...]`` (an array or a read-only memory map).
        rows: the positions in ``pixels`` these rows are, in order; ``None`` for all of them.
    """

    def __init__(self, pixels: np.ndarray, rows: np.ndarray | None = None) -> None:
        if pixels.dtype != np.uint8:
            raise TypeError(f"PixelRows holds uint8 pixels, got {pixels.dtype}")
        self.pixels = pixels
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.pixels) if self.rows is None else len(self.rows)

    @property
    def shape(self) -> torch.Size:
        """``(rows, values per row)``, as a tensor of the rows would have."""
        return torch.Size((len(self), int(np.prod(self.pixels.shape[1:]))))

    @property
    def dtype(self) -> torch.dtype:
        """The rows' type once read: float32."""
        return torch.float32

    def _positions(self, index: object) -> np.ndarray:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        if isinstance(index, slice):
            position = np.arange(*index.indices(len(self)))
        else:
            position = np.asarray(index)
            if position.dtype == np.bool_:
                position = np.flatnonzero(position)
        return position if self.rows is None else self.rows[position]

    def __getitem__(self, index: object) -> torch.Tensor:
        positions = self._positions(index)
        block = np.asarray(self.pixels[positions], dtype=np.float32)
        if np.ndim(positions) == 0:
            return torch.from_numpy(block.reshape(-1) / 255.0)
        return torch.from_numpy(block.reshape(len(block), -1) / 255.0)

    def select(self, index: object) -> PixelRows:
        """The rows at ``index`` as another :class:`PixelRows` over the same pixels (no copy)."""
        positions = self._positions(index)
        return PixelRows(self.pixels, np.atleast_1d(positions))

    def chunks(self, size: int | None = None) -> Iterator[torch.Tensor]:
        """The rows in order, ``size`` at a time (by default 16 MiB), as float32 tensors."""
        size = size or max(1, _CHUNK_VALUES // max(1, self.shape[1]))
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def to_tensor(self) -> torch.Tensor:
        """All the rows at once, ``[N, D]`` float32 (as large as the data set in float32)."""
        return self[:]


#: Rows a run reads: a tensor in memory, or uint8 pixels converted as they are read.
RowSource = torch.Tensor | PixelRows


def parts(x: RowSource) -> Iterator[torch.Tensor]:
    """The rows of ``x`` as tensors: the tensor itself, or a :class:`PixelRows` chunk by chunk.

    Example:
        >>> [p.shape[0] for p in parts(PixelRows(np.zeros((3, 2**21), np.uint8)))]
        [2, 1]
    """
    if isinstance(x, PixelRows):
        yield from x.chunks()
    else:
        yield x


def take(x: RowSource, index: torch.Tensor) -> RowSource:
    """The rows of ``x`` at ``index``: a tensor copies them, :class:`PixelRows` only indexes.

    Example:
        >>> take(torch.arange(6.0).reshape(3, 2), torch.tensor([2])).tolist()
        [[4.0, 5.0]]
    """
    return x.select(index) if isinstance(x, PixelRows) else x[index]


def in_memory(x: RowSource) -> torch.Tensor:
    """``x`` as one tensor: itself, or all the rows of a :class:`PixelRows` read at once.

    Example:
        >>> in_memory(PixelRows(np.full((2, 1), 255, np.uint8))).tolist()
        [[1.0], [1.0]]
    """
    return x.to_tensor() if isinstance(x, PixelRows) else x
