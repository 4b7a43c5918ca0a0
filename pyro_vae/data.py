"""Data sets, splits, binarization and minibatches.

Every data set arrives as flat float32 vectors in a fixed test split plus a training part that a
seeded split divides into training and validation sets. For a Bernoulli likelihood the training
batches are binarized afresh each epoch (dynamic binarization) while the validation and test sets
are binarized once with a fixed seed, so that numbers are comparable between runs.

Data sets: ``digits`` (scikit-learn's bundled 8x8 digits, no download), ``mnist`` and
``fashion-mnist`` (the four standard IDX files from ``data_dir``, or torchvision's download when
online) and ``npz`` (a user's own arrays).
"""

from __future__ import annotations

import gzip
import math
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pyro_vae.config import Config
from pyro_vae.errors import InputError, setting
from pyro_vae.registry import Registry

__all__ = [
    "DATASETS",
    "DataSplits",
    "RawData",
    "batch_seed",
    "binarize_fixed",
    "check_data",
    "epoch_batches",
    "load_data",
    "load_raw",
]

# Seed of the one-off binarization of validation and test sets: the same in every run.
EVAL_BINARIZATION_SEED = 20_151_031
_DEFAULT_CACHE = Path.home() / ".cache" / "pyro_vae"


@dataclass(frozen=True)
class RawData:
    """A data set as loaded: flat float32 vectors, with labels where the data set has them.

    Attributes:
        name: the data set's name.
        x_train: training vectors ``[N, D]`` (validation is split off later).
        x_test: test vectors ``[M, D]``.
        y_train: training labels ``[N]`` or ``None``.
        y_test: test labels ``[M]`` or ``None``.
        image_shape: ``(height, width)`` when the vectors are images, else ``None``.
    """

    name: str
    x_train: torch.Tensor
    x_test: torch.Tensor
    y_train: torch.Tensor | None
    y_test: torch.Tensor | None
    image_shape: tuple[int, int] | None

    @property
    def data_dim(self) -> int:
        """Number of values per datapoint."""
        return int(self.x_train.shape[1])


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
    """

    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor
    y_validation: torch.Tensor | None
    y_test: torch.Tensor | None
    binarize_train: bool
    image_shape: tuple[int, int] | None

    @property
    def data_dim(self) -> int:
        """Number of values per datapoint."""
        return int(self.train.shape[1])


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
    "your own arrays: --data-file FILE.npz with x_train (and x_test, y_*)",
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
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"{path} is not a readable .npz file ({exc}): save it with numpy.savez"
        ) from None
    if "x_train" not in arrays:
        raise InputError(
            f"{path} has no array x_train (found: {', '.join(arrays) or 'none'}): "
            "save your training data as x_train"
        )
    x_train, image_shape = _as_vectors(arrays["x_train"], path, "x_train")
    y_train = _labels(arrays, "y_train", x_train.shape[0], path)
    if "x_test" in arrays:
        x_test, _ = _as_vectors(arrays["x_test"], path, "x_test")
        if x_test.shape[1] != x_train.shape[1]:
            raise InputError(
                f"{path}: x_test has {x_test.shape[1]} values per row, x_train "
                f"{x_train.shape[1]}; save both with the same shape"
            )
        y_test = _labels(arrays, "y_test", x_test.shape[0], path)
    else:
        from sklearn.model_selection import train_test_split

        if "y_test" in arrays:
            raise InputError(
                f"{path} has y_test but no x_test: save the test images as x_test, or drop y_test"
            )
        if x_train.shape[0] < 10:
            raise InputError(f"{path}: x_train has only {x_train.shape[0]} rows; give at least 10")
        parts = train_test_split(
            x_train, *([y_train] if y_train is not None else []), test_size=0.2, random_state=0
        )
        x_train, x_test = parts[0], parts[1]
        y_train, y_test = (parts[2], parts[3]) if y_train is not None else (None, None)
    return RawData(
        path.stem,
        torch.from_numpy(x_train),
        torch.from_numpy(x_test),
        None if y_train is None else torch.from_numpy(y_train),
        None if y_test is None else torch.from_numpy(y_test),
        image_shape,
    )


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


# --------------------------------------------------------------------------------------------
# checks, splits and batches


def load_raw(config: Config) -> RawData:
    """Load the data set named by ``config.dataset`` (no split, no binarization).

    Example:
        >>> raw = load_raw(Config(dataset="digits"))
        >>> raw.x_train.shape, raw.x_test.shape, raw.image_shape
        (torch.Size([1437, 64]), torch.Size([360, 64]), (8, 8))
    """
    return DATASETS.build(config.dataset, data_dir=config.data_dir, data_file=config.data_file)


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


def binarize_fixed(x: torch.Tensor, seed: int = EVAL_BINARIZATION_SEED) -> torch.Tensor:
    """Binarize grey levels once, reproducibly: each value becomes 1 with its own probability.

    Example:
        >>> x = torch.full((2, 3), 0.5)
        >>> torch.equal(binarize_fixed(x), binarize_fixed(x))
        True
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.bernoulli(x, generator=generator)


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
    order = _permutation(n, config.seed)
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
    )


def batch_seed(seed: int, epoch: int, step: int = -1) -> int:
    """A 63-bit seed derived from (run seed, epoch, step), independent across its inputs."""
    entropy = [seed, epoch] if step < 0 else [seed, epoch, step]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


def epoch_batches(
    x: torch.Tensor,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    binarize: bool,
    start_step: int = 0,
) -> Iterator[torch.Tensor]:
    """Shuffle ``x`` for ``epoch`` and yield its minibatches, binarized afresh if asked.

    The order and the binarization of batch ``s`` depend only on ``(seed, epoch, s)``, so an
    epoch can restart at ``start_step`` and yield exactly what it would have.

    Example:
        >>> x = torch.rand(10, 4)
        >>> [b.shape[0] for b in epoch_batches(x, 4, seed=0, epoch=0, binarize=True)]
        [4, 4, 2]
    """
    order = _permutation(x.shape[0], batch_seed(seed, epoch))
    num_batches = math.ceil(x.shape[0] / batch_size)
    for step in range(start_step, num_batches):
        batch = x[order[step * batch_size : (step + 1) * batch_size]]
        if binarize:
            batch = binarize_fixed(batch, batch_seed(seed, epoch, step))
        yield batch


def _permutation(n: int, seed: int) -> torch.Tensor:
    """A seeded permutation of ``range(n)`` on the CPU, where the data live."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randperm(n, generator=generator, device="cpu")
