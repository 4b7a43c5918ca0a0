"""The data sets by name: digits, IDX files (MNIST layouts), npz arrays, and their errors."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_idx

from pyro_vae import Config, InputError
from pyro_vae.data.datasets import load_raw


def test_mnist_from_idx_files(idx_dir):
    raw = load_raw(Config(dataset="mnist", data_dir=str(idx_dir)))
    assert raw.x_train.shape == (120, 784) and raw.x_test.shape == (30, 784)
    assert raw.image_shape == (28, 28) and float(raw.x_train.max()) <= 1.0
    fashion = load_raw(Config(dataset="fashion-mnist", data_dir=str(idx_dir)))
    assert torch.equal(fashion.x_test, raw.x_test)


@pytest.mark.skipif(
    "PYRO_VAE_MNIST_DIR" not in os.environ, reason="set PYRO_VAE_MNIST_DIR to test real MNIST"
)
def test_real_mnist():
    raw = load_raw(Config(dataset="mnist", data_dir=os.environ["PYRO_VAE_MNIST_DIR"]))
    assert raw.x_train.shape == (60000, 784) and raw.x_test.shape == (10000, 784)
    assert np.bincount(raw.y_test.numpy()).tolist()[0] == 980


def test_idx_problems_are_reported(idx_dir, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_raw(Config(dataset="mnist", data_dir=str(tmp_path / "nowhere")))
    (idx_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte.gz is missing"):
        load_raw(Config(dataset="mnist", data_dir=str(idx_dir)))
    data = (idx_dir / "t10k-images-idx3-ubyte.gz").read_bytes()
    (idx_dir / "t10k-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    write_idx(idx_dir / "t10k-labels-idx1-ubyte.gz", np.zeros(30))
    with pytest.raises(InputError, match="cannot be read|truncated"):
        load_raw(Config(dataset="mnist", data_dir=str(idx_dir)))


def test_npz_arrays(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=rng.integers(0, 256, (50, 6, 6)).astype(np.uint8), y_train=np.arange(50))
    raw = load_raw(Config(dataset="npz", data_file=str(path)))
    assert raw.x_train.shape == (40, 36) and raw.x_test.shape == (10, 36)
    assert raw.image_shape == (6, 6) and raw.y_test.shape == (10,)


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"images": np.zeros((20, 4))}, "has no array x_train"),
        ({"x_train": np.zeros((20, 2, 2, 2, 2))}, "save it as [N, D] or [N, H, W]"),
        ({"x_train": np.zeros((20, 4)), "x_test": np.zeros((5, 3))}, "same shape"),
        ({"x_train": np.array([["a"] * 4] * 20)}, "save numbers"),
    ],
    ids=["no-x_train", "bad-shape", "width-mismatch", "strings"],
)
def test_bad_npz_files(tmp_path, arrays, needle):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_raw(Config(dataset="npz", data_file=str(path)))


def test_npz_needs_a_file(tmp_path):
    with pytest.raises(InputError, match="data_file='FILE.npz'"):
        load_raw(Config(dataset="npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable .npz"):
        load_raw(Config(dataset="npz", data_file=str(tmp_path / "junk.npz")))


def test_find_files_in_torchvision_layout(tmp_path, idx_dir):
    layout = tmp_path / "tv" / "MNIST" / "raw"
    layout.mkdir(parents=True)
    for f in Path(idx_dir).iterdir():
        (layout / f.name).write_bytes(f.read_bytes())
    assert load_raw(Config(dataset="mnist", data_dir=str(tmp_path / "tv"))).x_test.shape == (
        30,
        784,
    )
