import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_idx

from pyro_vae import Config, InputError, load_data
from pyro_vae.data import binarize_fixed, check_data, epoch_batches, load_raw


def test_digits_split_is_fixed_and_validation_follows_the_seed():
    a = load_data(Config(seed=0), "binary")
    b = load_data(Config(seed=0), "binary")
    c = load_data(Config(seed=1), "binary")
    assert torch.equal(a.test, b.test) and torch.equal(a.test, c.test)
    assert torch.equal(a.validation, b.validation)
    assert not torch.equal(a.validation, c.validation)
    assert a.train.shape == (1293, 64) and a.validation.shape == (144, 64)
    assert a.image_shape == (8, 8) and a.binarize_train


def test_bernoulli_data_binarize_train_dynamically_and_eval_once():
    splits = load_data(Config(), "binary")
    assert set(splits.test.unique().tolist()) == {0.0, 1.0}
    assert set(splits.validation.unique().tolist()) == {0.0, 1.0}
    assert len(splits.train.unique()) > 2  # grey levels, binarized per batch
    first = next(epoch_batches(splits.train, 50, seed=0, epoch=0, binarize=True))
    again = next(epoch_batches(splits.train, 50, seed=0, epoch=0, binarize=True))
    other = next(epoch_batches(splits.train, 50, seed=0, epoch=1, binarize=True))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert set(first.unique().tolist()) <= {0.0, 1.0}


def test_gaussian_data_keep_grey_levels():
    splits = load_data(Config(likelihood="gaussian"), "real")
    assert not splits.binarize_train and len(splits.test.unique()) > 2


def test_epoch_can_restart_mid_way():
    x = torch.rand(23, 5)
    full = list(epoch_batches(x, 4, seed=3, epoch=2, binarize=True))
    tail = list(epoch_batches(x, 4, seed=3, epoch=2, binarize=True, start_step=4))
    assert len(full) == 6 and all(torch.equal(a, b) for a, b in zip(full[4:], tail, strict=True))
    assert torch.equal(
        torch.cat([b for b in epoch_batches(x, 4, seed=3, epoch=2, binarize=False)]).sort(0).values,
        x.sort(0).values,
    )


def test_fixed_binarization_has_the_right_mean():
    x = torch.full((200, 100), 0.3)
    assert float(binarize_fixed(x).mean()) == pytest.approx(0.3, abs=4 * (0.21 / 20000) ** 0.5)


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


@pytest.mark.parametrize(
    ("x", "support", "binarize", "needle"),
    [
        (torch.tensor([[0.0, float("nan")]]), "real", False, "NaN or infinite"),
        (torch.tensor([[0.0, float("inf")]]), "binary", True, "NaN or infinite"),
        (torch.tensor([[0.0, 2.0]]), "binary", True, "binarization needs [0, 1]"),
        (torch.tensor([[0.0, 0.5]]), "binary", False, "use binarize='dynamic'"),
    ],
    ids=["nan", "inf", "out-of-range", "grey-for-bernoulli"],
)
def test_data_that_do_not_fit_the_likelihood(x, support, binarize, needle):
    with pytest.raises(InputError) as info:
        check_data(x, support, binarize, "x")
    assert needle in str(info.value)


def test_binary_data_pass_unbinarized():
    check_data(torch.tensor([[0.0, 1.0]]), "binary", False, "x")
    check_data(torch.tensor([[-3.0, 7.5]]), "real", False, "x")


def test_out_of_range_npz_with_bernoulli_is_refused(tmp_path):
    path = tmp_path / "big.npz"
    np.savez(path, x_train=np.full((20, 4), 3.0))
    with pytest.raises(InputError, match="rescale"):
        load_data(Config(dataset="npz", data_file=str(path)), "binary")
    assert (
        load_data(
            Config(dataset="npz", data_file=str(path), likelihood="gaussian"), "real"
        ).train.shape[1]
        == 4
    )


def test_find_files_in_torchvision_layout(tmp_path, idx_dir):
    layout = tmp_path / "tv" / "MNIST" / "raw"
    layout.mkdir(parents=True)
    for f in Path(idx_dir).iterdir():
        (layout / f.name).write_bytes(f.read_bytes())
    assert load_raw(Config(dataset="mnist", data_dir=str(tmp_path / "tv"))).x_test.shape == (
        30,
        784,
    )
