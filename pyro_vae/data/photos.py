"""A small real colour data set without downloads: patches of scikit-learn's two photographs.

scikit-learn ships two colour photographs (``china.jpg``, a temple, and ``flower.jpg``), 427 x
640 pixels each. Square patches cut from them on a regular grid make a colour data set of two
classes (which photograph) that every installation has: ``--dataset photos`` reads it directly,
and :func:`write_patch_folder` (``python -m pyro_vae.data.photos DIR``) writes it as a folder of
PNG files in the layout ``--dataset folder`` reads, class sub-folders and ``test/`` included.
The test patches are those of a band of rows of each photograph, so no test patch overlaps a
training one.

Example:
    >>> x_train, y_train, x_test, y_test = photo_patches(size=32, stride=32)
    >>> x_train.shape[1:], x_train.dtype, sorted(set(y_train.tolist()))
    ((3, 32, 32), dtype('uint8'), [0, 1])
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pyro_vae.errors import InputError

__all__ = ["CLASSES", "photo_patches", "write_patch_folder"]

#: The two photographs, in label order.
CLASSES = ("china", "flower")
_TEST_ROWS = 0.2  # the share of each photograph's rows (a band at the bottom) kept for testing


def _patches(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every ``size`` x ``size`` patch at steps of ``stride``, ``[N, 3, size, size]``."""
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size), axis=(0, 1))
    grid = windows[::stride, ::stride]  # [rows, cols, 3, size, size]
    return np.ascontiguousarray(grid.reshape(-1, 3, size, size))


def photo_patches(
    size: int = 32, stride: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test patches (uint8 ``[N, 3, size, size]``) and labels (0 china, 1 flower).

    Args:
        size: the side of a patch.
        stride: the step between patches (smaller: more, overlapping, patches).

    Returns:
        ``x_train, y_train, x_test, y_test``.
    """
    from sklearn.datasets import load_sample_images

    if not 4 <= size <= 400 or stride < 1:
        raise InputError(f"patches of {size} pixels at steps of {stride}: use 4 to 400, step >= 1")
    parts: dict[str, list[np.ndarray]] = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for label, image in enumerate(load_sample_images().images):
        cut = int(image.shape[0] * (1 - _TEST_ROWS))
        for split, rows in (("train", image[:cut]), ("test", image[cut:])):
            patches = _patches(rows, size, stride)
            parts[f"x_{split}"].append(patches)
            parts[f"y_{split}"].append(np.full(len(patches), label, dtype=np.int64))
    x_train, y_train, x_test, y_test = (np.concatenate(parts[k]) for k in parts)
    return x_train, y_train, x_test, y_test


def write_patch_folder(out: str | Path, *, size: int = 32, stride: int = 16) -> Path:
    """Write the patches as PNG files: ``out/<class>/*.png`` and ``out/test/<class>/*.png``.

    Returns:
        ``out``, ready for ``pyro-vae train --dataset folder --data-dir out``.
    """
    from PIL import Image

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty: name a new folder for the patches")
    x_train, y_train, x_test, y_test = photo_patches(size, stride)
    for top, x, y in ((out, x_train, y_train), (out / "test", x_test, y_test)):
        for i, (patch, label) in enumerate(zip(x, y, strict=True)):
            folder = top / CLASSES[int(label)]
            folder.mkdir(parents=True, exist_ok=True)
            name = (folder / f"{i:05d}").with_suffix(".png")
            Image.fromarray(patch.transpose(1, 2, 0)).save(name)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m pyro_vae.data.photos DIR``: write the patch folder."""
    parser = argparse.ArgumentParser(description="Write scikit-learn's photographs as patches.")
    parser.add_argument("out", help="a new folder")
    parser.add_argument("--size", type=int, default=32, help="patch side in pixels")
    parser.add_argument("--stride", type=int, default=16, help="step between patches")
    args = parser.parse_args(argv)
    try:
        out = write_patch_folder(args.out, size=args.size, stride=args.stride)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    count = sum(1 for _ in out.rglob("*.png"))
    print(f"wrote {count} patches of {args.size}x{args.size} pixels to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
