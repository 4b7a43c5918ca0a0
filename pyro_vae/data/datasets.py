"""The data sets by name: one registry of loaders, each returning flat vectors and labels.

Every data set arrives as flat float32 vectors in a fixed test split plus a training part
(:class:`RawData`); :func:`pyro_vae.data.splits.load_data` divides the training part into
training and validation sets and binarizes what needs it.

Data sets: ``digits`` (scikit-learn's bundled 8x8 digits, no download), ``mnist`` and
``fashion-mnist`` (the four standard IDX files from ``data_dir``, or torchvision's download when
online), ``npz`` (a user's own arrays), ``folder`` (a user's own image files,
:mod:`pyro_vae.data.folders`), ``cifar10`` (its binary version, :mod:`pyro_vae.data.cifar`) and
``photos`` (colour patches of scikit-learn's two photographs, :mod:`pyro_vae.data.photos`).
"""

from __future__ import annotations

import gzip
import math
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pyro_vae.config import Config
from pyro_vae.data.pixels import PixelRows, RowSource
from pyro_vae.errors import InputError, setting
from pyro_vae.registry import Registry

__all__ = ["DATASETS", "RawData", "load_raw"]

_DEFAULT_CACHE = Path.home() / ".cache" / "pyro_vae"


@dataclass(frozen=True)
class RawData:
    """A data set as loaded: flat float32 vectors, with labels where the data set has them.

    Attributes:
        name: the data set's name.
        x_train: training vectors ``[N, D]`` (validation is split off later): a tensor, or for
            uint8 images :class:`PixelRows` that convert a batch at a time.
        x_test: test vectors ``[M, D]``.
        y_train: training labels ``[N]`` or ``None``.
        y_test: test labels ``[M]`` or ``None``.
        image_shape: ``(height, width)`` when the vectors are grey images, ``(channels,
            height, width)`` for colour ones, else ``None``.
        c_train: condition arrays of the training rows ``[N, ...]`` (npz ``c_train``) or
            ``None``.
        c_test: condition arrays of the test rows or ``None``.
    """

    name: str
    x_train: RowSource
    x_test: torch.Tensor
    y_train: torch.Tensor | None
    y_test: torch.Tensor | None
    image_shape: tuple[int, ...] | None
    c_train: torch.Tensor | None = None
    c_test: torch.Tensor | None = None

    @property
    def data_dim(self) -> int:
        """Number of values per datapoint."""
        return int(self.x_train.shape[1])


Loader = Callable[..., RawData]
#: Loaders take the keyword arguments they name of ``data_dir`` (a folder of files) and
#: ``data_file`` (one file); :func:`load_raw` offers both.
#: The trait ``reads`` names the settings a loader uses; any other is refused as ignored.
DATASETS: Registry[Loader] = Registry("dataset", "--dataset", defaults={"reads": ()})


# --------------------------------------------------------------------------------------------
# loaders


@DATASETS.register("digits", "scikit-learn's bundled 8x8 handwritten digits (1,797 images)")
def _digits() -> RawData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    # A fixed, stratified 80/20 test split: the same test set for every run and seed.
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, bunch.target, test_size=0.2, random_state=0, stratify=bunch.target
    )
    return RawData(
        "digits",
        torch.from_numpy(x_tr),
        torch.from_numpy(x_te),
        torch.from_numpy(y_tr),
        torch.from_numpy(y_te),
        (8, 8),
    )


_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _idx_loader(name: str, torchvision_class: str) -> Loader:
    def load(data_dir: str | None) -> RawData:
        if data_dir is not None:
            arrays = {
                key: _read_idx(_find_idx(Path(data_dir), stem, name))
                for key, stem in _IDX_FILES.items()
            }
        else:
            arrays = _download(name, torchvision_class)
        for split in ("train", "test"):
            if arrays[f"x_{split}"].shape[0] != arrays[f"y_{split}"].shape[0]:
                raise InputError(
                    f"{name}: the {split} images and labels differ in number; "
                    "replace the IDX files with the standard ones"
                )
        h, w = arrays["x_train"].shape[1:]
        flat = {k: v.reshape(v.shape[0], -1) for k, v in arrays.items() if k.startswith("x")}
        return RawData(
            name,
            torch.from_numpy(flat["x_train"].astype(np.float32) / 255.0),
            torch.from_numpy(flat["x_test"].astype(np.float32) / 255.0),
            torch.from_numpy(arrays["y_train"].astype(np.int64)),
            torch.from_numpy(arrays["y_test"].astype(np.int64)),
            (int(h), int(w)),
        )

    return load


DATASETS.register("mnist", "MNIST handwritten digits, 28x28 (LeCun et al.)", reads=("data_dir",))(
    _idx_loader("mnist", "MNIST")
)
DATASETS.register(
    "fashion-mnist", "Fashion-MNIST clothing images, 28x28 (Xiao et al.)", reads=("data_dir",)
)(_idx_loader("fashion-mnist", "FashionMNIST"))


def _find_idx(data_dir: Path, stem: str, name: str) -> Path:
    if not data_dir.is_dir():
        raise InputError(
            f"data directory {data_dir} does not exist: pass {setting('data_dir')} with the "
            f"folder holding the four {name} IDX files"
        )
    # The files as distributed, uncompressed, or in torchvision's folder layout.
    for folder in (data_dir, data_dir / "raw", *data_dir.glob("*/raw")):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
    raise InputError(
        f"{stem}.gz is missing from {data_dir}: put the four {name} IDX files "
        f"({', '.join(s + '.gz' for s in _IDX_FILES.values())}) there"
    )


def _read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped) of unsigned bytes.

    torchvision's reader takes only uncompressed files at a path of its own layout, and the
    data folder may be read-only, so the few lines of the format are read here directly.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path} cannot be read ({exc}): replace it with an intact copy") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise InputError(f"{path} is not an IDX file of bytes: replace it with the standard file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != math.prod(dims):
        raise InputError(f"{path} is truncated or padded: replace it with an intact copy")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _download(name: str, torchvision_class: str) -> dict[str, np.ndarray]:
    import torchvision.datasets

    cls = getattr(torchvision.datasets, torchvision_class)
    root = _DEFAULT_CACHE / "datasets"
    try:
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    except Exception as exc:  # network errors come in many types
        raise InputError(
            f"could not download {name} ({type(exc).__name__}): without network access, "
            f"pass {setting('data_dir', 'DIR')} with the four {name} IDX files"
        ) from None
    return {
        "x_train": train.data.numpy(),
        "y_train": train.targets.numpy(),
        "x_test": test.data.numpy(),
        "y_test": test.targets.numpy(),
    }


@DATASETS.register(
    "npz",
    "your own arrays: --data-file FILE.npz with x_train (and x_test, y_*, c_*)",
    reads=("data_file",),
)
def _npz(data_file: str | None) -> RawData:
    if data_file is None:
        raise InputError(
            f"{setting('dataset', 'npz')} needs {setting('data_file', 'FILE.npz')} holding an "
            "array x_train"
        )
    path = Path(data_file)
    if not path.is_file():
        raise InputError(f"data file {path} does not exist: check {setting('data_file')}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.ndarray):  # an ndarray: a .npy file (below)
            with loaded as npz:
                arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"{path} is not a readable .npz file ({exc}): save it with numpy.savez"
        ) from None
    if isinstance(loaded, np.ndarray):
        raise InputError(
            f"{path} holds one unnamed array (a .npy file): save it as "
            "numpy.savez('FILE.npz', x_train=array) and pass the .npz file"
        )
    if "x_train" not in arrays:
        raise InputError(
            f"{path} has no array x_train (found: {', '.join(arrays) or 'none'}): "
            "save your training data as x_train"
        )
    x_train, image_shape = _as_vectors(arrays["x_train"], path, "x_train")
    y_train = _labels(arrays, "y_train", x_train.shape[0], path)
    c_train = _conditions(arrays, "c_train", x_train.shape[0], path)
    if "x_test" in arrays:
        x_test, _ = _as_vectors(arrays["x_test"], path, "x_test")
        if x_test.shape[1] != x_train.shape[1]:
            raise InputError(
                f"{path}: x_test has {x_test.shape[1]} values per row, x_train "
                f"{x_train.shape[1]}; save both with the same shape"
            )
        y_test = _labels(arrays, "y_test", x_test.shape[0], path)
        c_test = _conditions(arrays, "c_test", x_test.shape[0], path)
        if (c_train is None) != (c_test is None) or (
            c_train is not None and c_test is not None and c_train.shape[1:] != c_test.shape[1:]
        ):
            raise InputError(
                f"{path}: c_train and c_test must come together, with rows of one shape; save "
                "both or neither"
            )
    else:
        from sklearn.model_selection import train_test_split

        for key in ("y_test", "c_test"):
            if key in arrays:
                raise InputError(
                    f"{path} has {key} but no x_test: save the test images as x_test, or drop {key}"
                )
        if x_train.shape[0] < 10:
            raise InputError(f"{path}: x_train has only {x_train.shape[0]} rows; give at least 10")
        given = [a for a in (y_train, c_train) if a is not None]
        parts = iter(train_test_split(x_train, *given, test_size=0.2, random_state=0))
        x_train, x_test = next(parts), next(parts)
        y_train, y_test = (next(parts), next(parts)) if y_train is not None else (None, None)
        c_train, c_test = (next(parts), next(parts)) if c_train is not None else (None, None)
    return RawData(
        path.stem,
        torch.from_numpy(x_train),
        torch.from_numpy(x_test),
        None if y_train is None else torch.from_numpy(y_train),
        None if y_test is None else torch.from_numpy(y_test),
        image_shape,
        None if c_train is None else torch.from_numpy(c_train),
        None if c_test is None else torch.from_numpy(c_test),
    )


@DATASETS.register(
    "folder",
    "your own images: --data-dir DIR of PNG/JPEG/BMP files, class sub-folders optional",
    reads=("data_dir", "channels", "image_size", "skip_bad_images"),
)
def _folder(
    data_dir: str | None, channels: int, image_size: int, skip_bad_images: bool, seed: int = 0
) -> RawData:
    from pyro_vae.data.folders import read_folder

    if data_dir is None:
        raise InputError(
            f"{setting('dataset', 'folder')} needs {setting('data_dir', 'DIR')}, a folder of "
            "your images"
        )
    images = read_folder(
        data_dir,
        channels=channels or None,
        image_size=image_size or None,
        skip_bad=skip_bad_images,
        seed=seed,
        progress=True,
    )
    if images.skipped:  # asked for with skip_bad_images: said, not raised
        print(
            f"left out {len(images.skipped)} files of {data_dir} that cannot be read as images "
            f"(e.g. {images.skipped[0]})",
            file=sys.stderr,
        )
    pixels = images.pixels
    return _from_uint8(
        Path(data_dir).name,
        PixelRows(pixels, images.train_rows),
        PixelRows(pixels, images.test_rows),
        images.y_train,
        images.y_test,
    )


@DATASETS.register(
    "cifar10",
    "CIFAR-10, 32x32 colour, from --data-dir with cifar-10-binary.tar.gz",
    reads=("data_dir",),
)
def _cifar10(data_dir: str | None) -> RawData:
    from pyro_vae.data.cifar import ARCHIVE, read_cifar10

    if data_dir is None:
        raise InputError(
            f"{setting('dataset', 'cifar10')} is not downloaded here: pass "
            f"{setting('data_dir', 'DIR')} with {ARCHIVE} (the binary version) in it"
        )
    x_train, y_train, x_test, y_test = read_cifar10(data_dir)
    return _from_uint8("cifar10", PixelRows(x_train), PixelRows(x_test), y_train, y_test)


@DATASETS.register(
    "photos",
    "32x32 colour patches of scikit-learn's two photographs (no download)",
)
def _photos() -> RawData:
    from pyro_vae.data.photos import photo_patches

    x_train, y_train, x_test, y_test = photo_patches()
    return _from_uint8("photos", PixelRows(x_train), PixelRows(x_test), y_train, y_test)


def _from_uint8(
    name: str,
    x_train: PixelRows,
    x_test: PixelRows,
    y_train: np.ndarray | None,
    y_test: np.ndarray | None,
) -> RawData:
    """A data set of uint8 images ``[N, C, H, W]``: rows k / 255, and the images' shape.

    The training rows stay uint8 pixels read a batch at a time (:class:`PixelRows`; a folder's
    are memory-mapped, so it may be larger than memory); the test rows are read into memory.
    One-channel images keep the shape ``(H, W)`` every grey data set has; colour ones
    ``(C, H, W)``.
    """
    c, h, w = (int(d) for d in x_train.pixels.shape[1:])
    shape: tuple[int, ...] = (h, w) if c == 1 else (c, h, w)
    return RawData(
        name,
        x_train,
        x_test.to_tensor(),
        None if y_train is None else torch.from_numpy(np.asarray(y_train, dtype=np.int64)),
        None if y_test is None else torch.from_numpy(np.asarray(y_test, dtype=np.int64)),
        shape,
    )


def _conditions(
    arrays: dict[str, np.ndarray], key: str, rows: int, path: Path
) -> np.ndarray | None:
    """The condition arrays ``key`` of an npz file as float32 rows; ``None`` if absent."""
    if key not in arrays:
        return None
    c = arrays[key]
    if c.dtype.kind not in "fiub" or c.ndim < 1 or c.shape[0] != rows:
        raise InputError(
            f"{path}: {key} has shape {c.shape} and dtype {c.dtype}; save one row of numbers "
            f"per image, shape ({rows}, ...)"
        )
    c = np.ascontiguousarray(c.reshape(rows, -1), dtype=np.float32)
    if c.shape[1] == 0 or not np.isfinite(c).all():
        raise InputError(f"{path}: {key} is empty or not finite; save finite numbers per row")
    return c


def _labels(arrays: dict[str, np.ndarray], key: str, rows: int, path: Path) -> np.ndarray | None:
    """The labels ``key`` of an npz file as int64, one per row of its images; ``None`` if absent."""
    if key not in arrays:
        return None
    y = arrays[key]
    whole = y.dtype.kind in "iub" or (
        y.dtype.kind == "f" and bool(np.isfinite(y).all()) and bool((y == np.round(y)).all())
    )
    if y.ndim != 1 or not whole:
        raise InputError(
            f"{path}: {key} has shape {y.shape} and dtype {y.dtype}; save one integer label per "
            f"row, shape ({rows},)"
        )
    if y.shape[0] != rows:
        images = "x_" + key.split("_", 1)[1]
        raise InputError(
            f"{path}: {key} has {y.shape[0]} labels for the {rows} rows of {images}; save one "
            "label per row"
        )
    return y.astype(np.int64)


def _as_vectors(
    array: np.ndarray, path: Path, key: str
) -> tuple[np.ndarray, tuple[int, int] | None]:
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif array.dtype.kind in "fiub":
        array = array.astype(np.float32)
    else:
        raise InputError(f"{path}: {key} has dtype {array.dtype}; save numbers (float or uint8)")
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 3:
        image_shape: tuple[int, int] | None = (int(array.shape[1]), int(array.shape[2]))
    elif array.ndim == 2:
        image_shape = None
    else:
        raise InputError(f"{path}: {key} has shape {array.shape}; save it as [N, D] or [N, H, W]")
    if array.shape[0] == 0:
        raise InputError(f"{path}: {key} is empty; save at least one row")
    return np.ascontiguousarray(array.reshape(array.shape[0], -1)), image_shape


def load_raw(config: Config) -> RawData:
    """Load the data set named by ``config.dataset`` (no split, no binarization).

    Example:
        >>> raw = load_raw(Config(dataset="digits"))
        >>> raw.x_train.shape, raw.x_test.shape, raw.image_shape
        (torch.Size([1437, 64]), torch.Size([360, 64]), (8, 8))
    """
    return DATASETS.build(
        config.dataset,
        data_dir=config.data_dir,
        data_file=config.data_file,
        channels=config.channels,
        image_size=config.image_size,
        skip_bad_images=config.skip_bad_images,
        seed=config.seed,
    )
