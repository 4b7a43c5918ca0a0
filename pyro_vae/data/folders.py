"""Your own images: a folder of PNG, JPEG or BMP files, decoded once into a cache.

Layout: ``DIR/*.png`` (no labels), or ``DIR/<class>/*.png`` (a label per sub-folder, the
classes numbered in sorted order). A sub-folder ``DIR/test/`` (laid out the same way) is the
test split; without one, a share of the images chosen by the seed is.

Decoding is Pillow's, through torchvision's transforms: each file is converted to greyscale or
RGB (``channels``, by default what the files are), its shorter side resized to ``image_size``
and the centre cropped square (by default the files' own size, when they all share one). The
decoded uint8 images go to a cache, ``<cache>/folders/<key>/``, where ``<cache>`` is
``$PYRO_VAE_CACHE`` or ``~/.cache/pyro_vae``; the key hashes every file's path, size and
modification time with the settings, so a changed folder is decoded afresh and an unchanged one
never twice. The cache is read memory-mapped, so a folder larger than memory streams from
it (:class:`pyro_vae.data.pixels.PixelRows`).

Example:
    >>> from PIL import Image
    >>> import numpy as np, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for i in range(12):
    ...     Image.fromarray(np.full((6, 6), 20 * i, np.uint8)).save(root / f"{i}.png")
    >>> images = read_folder(root, test_share=0.25, seed=0)
    >>> images.x_train.shape, images.x_test.shape, images.image_shape
    ((9, 1, 6, 6), (3, 1, 6, 6), (1, 6, 6))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pyro_vae.errors import InputError, setting

__all__ = ["IMAGE_SUFFIXES", "FolderImages", "cache_root", "list_images", "read_folder"]

#: The files a folder's images may be, by suffix (any case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_TEST = "test"
_MODES = {1: "L", 3: "RGB"}


def cache_root() -> Path:
    """Where decoded folders are kept: ``$PYRO_VAE_CACHE/folders`` or ``~/.cache/pyro_vae``."""
    base = os.environ.get("PYRO_VAE_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "pyro_vae") / "folders"


@dataclass(frozen=True)
class FolderImages:
    """A folder's images as decoded: uint8 pixels ``[N, C, S, S]``, the splits and labels.

    Attributes:
        pixels: every file's pixels, memory-mapped from the cache (an unreadable file's are 0).
        train_rows: the positions in ``pixels`` of the training images.
        test_rows: those of the test images.
        y_train: the training labels, or ``None`` for a folder without class sub-folders.
        y_test: the test labels, or ``None``.
        classes: the class names, in label order (empty without labels).
        image_shape: ``(channels, size, size)``.
        skipped: the files left out as unreadable (with ``skip_bad=True``).
        cache: the cache folder the pixels live in.
    """

    pixels: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    skipped: tuple[str, ...]
    cache: Path

    @property
    def x_train(self) -> np.ndarray:
        """The training images, ``[N, C, S, S]`` (read into memory)."""
        return self.pixels[self.train_rows]

    @property
    def x_test(self) -> np.ndarray:
        """The test images (read into memory)."""
        return self.pixels[self.test_rows]


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def list_images(root: Path) -> tuple[list[Path], list[Path], tuple[str, ...]]:
    """The training files, the test files (from ``test/``) and the class names of a folder.

    Files are relative to ``root``, sorted. With class sub-folders, images lying loose beside
    them are refused (their class would be unknown).

    Example:
        >>> list_images(Path("no-such-folder"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: image folder no-such-folder does not exist: ...
    """
    if not root.is_dir():
        raise InputError(
            f"image folder {root} does not exist: pass {setting('data_dir', 'DIR')} with your "
            "images (DIR/*.png, or DIR/<class>/*.png)"
        )
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != _TEST))

    def files(top: Path) -> list[Path]:
        if not top.is_dir():
            return []
        folders = [top / c for c in classes] if classes else [top]
        loose = [p for p in top.iterdir() if _is_image(p)] if classes else []
        if loose:
            raise InputError(
                f"{top} holds both class sub-folders and {len(loose)} images beside them (e.g. "
                f"{loose[0].name}): move each image into its class's folder"
            )
        return sorted(
            p.relative_to(root)
            for folder in folders
            if folder.is_dir()
            for p in folder.iterdir()
            if _is_image(p)
        )

    train, test = files(root), files(root / _TEST)
    if not train:
        others = sum(1 for p in root.rglob("*") if p.is_file())
        raise InputError(
            f"no images in {root} (looked for {', '.join(IMAGE_SUFFIXES)}"
            + (f"; found {others} other files" if others else "; it is empty")
            + "): put your images there, or in one sub-folder per class"
        )
    return train, test, classes


def _probe(root: Path, files: Sequence[Path]) -> tuple[list[str | None], list[tuple[int, int]]]:
    """Each file's Pillow mode and size from its header (``None`` where it cannot be opened)."""
    from PIL import Image

    modes: list[str | None] = []
    sizes: list[tuple[int, int]] = []
    for rel in files:
        try:
            with Image.open(root / rel) as image:
                modes.append(image.mode)
                sizes.append(image.size)
        except (OSError, ValueError, SyntaxError):
            modes.append(None)
            sizes.append((0, 0))
    return modes, sizes


def _channels_of(modes: Sequence[str | None], channels: int | None) -> int:
    """The channels asked for, or those the files have (refusing a mix)."""
    if channels is not None:
        if channels not in _MODES:
            raise InputError(f"channels must be 1 or 3, got {channels}: pass 1 or 3")
        return channels
    grey = sum(1 for m in modes if m in ("1", "L", "LA", "I", "I;16", "F"))
    colour = sum(1 for m in modes if m is not None) - grey
    if grey and colour:
        raise InputError(
            f"the folder mixes {grey} greyscale and {colour} colour images: pass "
            f"{setting('channels', 3)} to read all as colour, or {setting('channels', 1)} as grey"
        )
    return 3 if colour else 1


def _size_of(sizes: Sequence[tuple[int, int]], image_size: int | None) -> int:
    """The side asked for, or the files' own when they are all one square size."""
    if image_size is not None:
        if image_size < 4:
            raise InputError(f"image_size must be at least 4, got {image_size}: pass e.g. 32")
        return image_size
    known = {s for s in sizes if s != (0, 0)}
    if len(known) == 1 and len({*next(iter(known))}) == 1:
        return next(iter(known))[0]
    examples = " and ".join(f"{w}x{h}" for w, h in sorted(known)[:2])
    raise InputError(
        f"the images are not all one square size ({examples}"
        + (", ..." if len(known) > 2 else "")
        + f"): pass {setting('image_size', 32)} to resize the shorter side and crop the centre"
    )


def _cache_key(root: Path, files: Sequence[Path], channels: int, size: int) -> str:
    digest = hashlib.sha256(f"v1 {channels} {size}\n".encode())
    for rel in files:
        stat = (root / rel).stat()
        digest.update(f"{rel.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _decode_all(
    root: Path, files: Sequence[Path], channels: int, size: int, target: Path, progress: bool
) -> list[int]:
    """Decode every file into ``target`` (a new uint8 .npy); return the unreadable ones' rows."""
    from PIL import Image
    from torchvision import transforms

    shape = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size)])
    out = np.lib.format.open_memmap(
        target, mode="w+", dtype=np.uint8, shape=(len(files), channels, size, size)
    )
    bad = []
    for i, rel in enumerate(tqdm(files, desc="decoding images", disable=not progress)):
        try:
            with Image.open(root / rel) as image:
                pixels = np.asarray(shape(image.convert(_MODES[channels])), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError):
            bad.append(i)
            continue
        out[i] = pixels.reshape(size, size, channels).transpose(2, 0, 1)
    out.flush()
    del out
    return bad


def _decoded(
    root: Path, files: list[Path], channels: int, size: int, progress: bool
) -> tuple[np.ndarray, list[int], Path]:
    """The cached decoding of ``files`` (made now if absent), and the unreadable rows."""
    folder = cache_root() / _cache_key(root, files, channels, size)
    if not (folder / "meta.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".decoding-"))
        try:
            bad = _decode_all(root, files, channels, size, work / "images.npy", progress)
            meta = {"root": str(root), "files": len(files), "bad": bad}
            (work / "meta.json").write_text(json.dumps(meta))
            with contextlib.suppress(OSError):  # another process may have won the race
                work.rename(folder)  # whole or not at all
        finally:
            shutil.rmtree(work, ignore_errors=True)
    meta = json.loads((folder / "meta.json").read_text())
    return np.load(folder / "images.npy", mmap_mode="r"), list(meta["bad"]), folder


def read_folder(
    root: str | Path,
    *,
    channels: int | None = None,
    image_size: int | None = None,
    skip_bad: bool = False,
    test_share: float = 0.2,
    seed: int = 0,
    progress: bool = False,
) -> FolderImages:
    """Read a folder of images (decoding it the first time; see the module's description).

    Args:
        root: the folder.
        channels: 1 or 3; ``None`` takes the files' own (refusing a mix of grey and colour).
        image_size: the side S of the square images; ``None`` takes the files' own.
        skip_bad: leave out files that cannot be read as images (else refuse them).
        test_share: without ``test/``, the share of images held out as the test split.
        seed: the seed of that choice.
        progress: show a progress bar while decoding.

    Returns:
        A :class:`FolderImages`.

    Raises:
        InputError: for a missing or empty folder, no images, mixed channel counts without
            ``channels``, several sizes without ``image_size``, or unreadable files without
            ``skip_bad`` (naming one of them and how many there are).
    """
    root = Path(root)
    train, test, classes = list_images(root)
    files = train + test
    if channels is not None and image_size is not None:  # nothing to learn from the headers
        c, s = _channels_of((), channels), _size_of((), image_size)
    else:
        modes, sizes = _probe(root, files)
        c, s = _channels_of(modes, channels), _size_of(sizes, image_size)
    images, bad, cache = _decoded(root, files, c, s, progress)
    if bad and not skip_bad:
        raise InputError(
            f"{len(bad)} of the {len(files)} files in {root} cannot be read as images (e.g. "
            f"{files[bad[0]].as_posix()}): replace or remove them, or pass "
            f"{setting('skip_bad_images', True)} to leave them out"
        )
    keep = np.setdiff1d(np.arange(len(files)), np.asarray(bad, dtype=np.int64))
    labels = (
        np.array([classes.index(f.parts[-2]) for f in files], dtype=np.int64) if classes else None
    )
    in_test = np.zeros(len(files), dtype=bool)
    if test:
        in_test[len(train) :] = True
    else:
        order = np.random.default_rng(seed).permutation(len(files))
        in_test[order[: max(1, round(test_share * len(files)))]] = True
    train_rows, test_rows = keep[~in_test[keep]], keep[in_test[keep]]
    if not len(train_rows) or not len(test_rows):
        raise InputError(
            f"{root} leaves {len(train_rows)} training and {len(test_rows)} test images: add "
            "images (at least two that can be read)"
        )
    return FolderImages(
        pixels=images,
        train_rows=train_rows,
        test_rows=test_rows,
        y_train=None if labels is None else labels[train_rows],
        y_test=None if labels is None else labels[test_rows],
        classes=classes,
        image_shape=(c, s, s),
        skipped=tuple(files[i].as_posix() for i in bad),
        cache=cache,
    )
