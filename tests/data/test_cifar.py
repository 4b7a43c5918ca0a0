"""CIFAR-10's binary version: records parsed from bytes, from the archive or the files."""

import io
import tarfile

import numpy as np
import pytest

from pyro_vae import Config
from pyro_vae.data.cifar import ARCHIVE, TEST_FILE, TRAIN_FILES, read_cifar10
from pyro_vae.data.datasets import load_raw
from pyro_vae.errors import InputError


def _batch(seed, n=3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = b"".join(bytes([y]) + x.tobytes() for y, x in zip(labels, images, strict=True))
    return raw, images, labels


def _files():
    return {name: _batch(i) for i, name in enumerate([*TRAIN_FILES, TEST_FILE])}


def test_the_extracted_files_are_parsed_record_by_record(tmp_path):
    files = _files()
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, (raw, _, _) in files.items():
        (folder / name).write_bytes(raw)
    x_train, y_train, x_test, y_test = read_cifar10(tmp_path)
    assert x_train.shape == (15, 3, 32, 32) and x_test.shape == (3, 3, 32, 32)
    assert np.array_equal(x_train[:3], files["data_batch_1.bin"][1])
    assert np.array_equal(y_train[3:6], files["data_batch_2.bin"][2])
    assert np.array_equal(y_test, files[TEST_FILE][2])


def test_the_archive_is_read_without_extracting_it(tmp_path):
    files = _files()
    with tarfile.open(tmp_path / ARCHIVE, "w:gz") as tar:
        for name, (raw, _, _) in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    raw = load_raw(Config(dataset="cifar10", data_dir=str(tmp_path)))
    assert raw.image_shape == (3, 32, 32) and raw.x_train.shape == (15, 3072)
    expected = files["data_batch_2.bin"][1][0].reshape(-1) / 255
    assert np.allclose(raw.x_train[3].numpy(), expected)


def test_a_truncated_batch_and_a_missing_folder_are_refused(tmp_path):
    for name, (raw, _, _) in _files().items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / TEST_FILE).write_bytes(b"\x01" * 100)
    with pytest.raises(InputError, match="not a whole number of 3073-byte records"):
        read_cifar10(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        read_cifar10(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no CIFAR-10 in .*binary version"):
        read_cifar10(tmp_path / "empty")
