"""CIFAR-10 from its official binary version, parsed from bytes (never unpickled).

The binary version (``cifar-10-binary.tar.gz``) holds ``data_batch_1.bin`` to
``data_batch_5.bin`` and ``test_batch.bin``: records of 3073 bytes, a label (0 to 9) and a
32 x 32 image as three 1024-byte planes, red, green, blue. The Python version's pickles are not
read: unpickling a downloaded file can run any code in it.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> record = bytes([3]) + bytes(range(256)) * 12
    >>> for name in [*TRAIN_FILES, TEST_FILE]:
    ...     _ = (folder / name).write_bytes(record * 2)
    >>> x_train, y_train, x_test, y_test = read_cifar10(folder)
    >>> x_train.shape, y_train[:2].tolist(), x_test.shape
    ((10, 3, 32, 32), [3, 3], (2, 3, 32, 32))
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from pyro_vae.errors import InputError, setting

__all__ = ["ARCHIVE", "CLASSES", "TEST_FILE", "TRAIN_FILES", "read_cifar10"]

ARCHIVE = "cifar-10-binary.tar.gz"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_RECORD = 1 + 3 * 32 * 32


def _parse(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 3, 32, 32]`` and labels ``[N]`` of one batch file's bytes."""
    if not raw or len(raw) % _RECORD:
        raise InputError(
            f"{name} has {len(raw)} bytes, not a whole number of {_RECORD}-byte records: "
            "replace it with the file of the official binary version"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    if int(labels.max()) >= len(CLASSES):
        raise InputError(f"{name} has labels above 9: it is not a CIFAR-10 batch file")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _batches(data_dir: Path) -> dict[str, bytes]:
    """The bytes of the six batch files, from the archive or from the extracted files."""
    names = [*TRAIN_FILES, TEST_FILE]
    for folder in (data_dir, data_dir / "cifar-10-batches-bin"):
        if all((folder / n).is_file() for n in names):
            return {n: (folder / n).read_bytes() for n in names}
    archive = data_dir / ARCHIVE
    if archive.is_file():
        try:
            with tarfile.open(archive, "r:gz") as tar:
                found = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                missing = [n for n in names if n not in found]
                if missing:
                    raise InputError(
                        f"{archive} lacks {', '.join(missing)}: replace it with the official "
                        "binary version"
                    )
                out = {}
                for n in names:
                    handle = tar.extractfile(found[n])
                    assert handle is not None
                    out[n] = handle.read()
                return out
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InputError(
                f"{archive} cannot be read ({exc}): replace it with an intact copy"
            ) from None
    raise InputError(
        f"no CIFAR-10 in {data_dir}: put {ARCHIVE} (the binary version, not the Python one) "
        f"or its extracted .bin files there and pass {setting('data_dir', 'DIR')}"
    )


def read_cifar10(
    data_dir: str | Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 50,000 training and 10,000 test images (uint8, ``[N, 3, 32, 32]``) and labels.

    Args:
        data_dir: a folder with ``cifar-10-binary.tar.gz`` or the extracted ``.bin`` files
            (directly or in ``cifar-10-batches-bin/``).

    Returns:
        ``x_train, y_train, x_test, y_test``.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(
            f"data directory {folder} does not exist: pass {setting('data_dir')} with "
            f"{ARCHIVE} in it"
        )
    raw = _batches(folder)
    train = [_parse(raw[n], n) for n in TRAIN_FILES]
    x_test, y_test = _parse(raw[TEST_FILE], TEST_FILE)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test
