"""Throughput of the image-folder loader against torchvision's ImageFolder and DataLoader.

A folder of ``--images`` generated 32x32 colour PNG files (10 class sub-folders, smooth random
colour fields, so PNG compresses them as it would photographs, not as noise) is read three ways,
each serving float32 minibatches of 100 flat images in [0, 1] for ``--epochs`` epochs:

* ``--dataset folder``'s path: :func:`pyro_vae.data.splits.load_data` (the first call decodes
  every file into the cache; later calls map the cache) and the training loop's own
  :func:`pyro_vae.data.batches.epoch_batches`;
* torchvision's ``ImageFolder`` with ``ToTensor`` and a ``DataLoader`` (shuffled, batch 100) in
  the main process, decoding every file every epoch;
* the same with ``num_workers=2`` worker processes (this machine has two cores).

Reported: images per second for the first epoch (our first includes decoding into the cache)
and for the later ones. The cache lives in a temporary folder, removed afterwards.

Usage:
    python bench/folder_speed.py --images 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save_result

SIDE, CLASSES, BATCH = 32, 10, 100


def _write_folder(root: Path, count: int) -> None:
    """``count`` smooth random colour images as PNG files in ``CLASSES`` sub-folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
        folder = root / f"class{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:06d}.png")


def _ours(root: Path, epochs: int) -> list[float]:
    """Seconds per epoch of the folder data set, loading included in the first."""
    from pyro_vae import Config
    from pyro_vae.data.batches import epoch_batches
    from pyro_vae.data.splits import load_data

    config = Config(dataset="folder", data_dir=str(root), likelihood="dmol")
    seconds = []
    started = time.perf_counter()
    splits = load_data(config, "discrete")
    for epoch in range(epochs):
        for batch in epoch_batches(splits.train, BATCH, seed=0, epoch=epoch, binarize=False):
            batch.sum()  # touch every value, as a training step would
        seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
    return seconds


def _torchvision(root: Path, epochs: int, workers: int) -> list[float]:
    """Seconds per epoch of ImageFolder + DataLoader over the same files (the training share)."""
    from torchvision import datasets, transforms

    folder = datasets.ImageFolder(str(root), transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(
        folder, batch_size=BATCH, shuffle=True, num_workers=workers
    )
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        for images, _labels in loader:
            images.reshape(images.shape[0], -1).sum()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000, help="PNG files generated")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per loader")
    args = parser.parse_args()
    measured = machine()
    with tempfile.TemporaryDirectory() as work:
        root, cache = Path(work) / "images", Path(work) / "cache"
        os.environ["PYRO_VAE_CACHE"] = str(cache)
        started = time.perf_counter()
        _write_folder(root, args.images)
        print(f"wrote {args.images} PNG files in {time.perf_counter() - started:.1f} s")
        ours = _ours(root, args.epochs)
        train_images = round(args.images * 0.8 * 0.9)  # test share, then validation share
        rows = {"pyro_vae folder (cached after the first)": (ours, train_images)}
        for workers in (0, 2):
            name = f"ImageFolder + DataLoader, {workers} workers"
            rows[name] = (_torchvision(root, args.epochs, workers), args.images)
    result = []
    for name, (seconds, served) in rows.items():
        later = seconds[1:] or seconds
        result.append(
            {
                "loader": name,
                "images_per_epoch": served,
                "first_epoch_images_per_s": served / seconds[0],
                "later_epoch_images_per_s": served * len(later) / sum(later),
                "seconds": seconds,
            }
        )
        print(
            f"{name}: {result[-1]['first_epoch_images_per_s']:.0f} images/s first epoch, "
            f"{result[-1]['later_epoch_images_per_s']:.0f} later"
        )
    save_result(
        "folder_speed",
        {"images": args.images, "side": SIDE, "batch": BATCH, "rows": result},
        measured_on=measured,
    )


if __name__ == "__main__":
    main()
