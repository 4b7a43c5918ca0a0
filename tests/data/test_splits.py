"""A run's data: checked against the likelihood, split, and binarized once for evaluation."""

import numpy as np
import pytest
import torch

from pyro_vae import Config, InputError, load_data
from pyro_vae.data.batches import epoch_batches
from pyro_vae.data.splits import check_data


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
