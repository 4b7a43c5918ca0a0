"""The conditions of a conditional VAE: quadrants, labels and a user's arrays, attached to rows."""

import numpy as np
import pytest
import torch

from pyro_vae import Config, InputError, load_data
from pyro_vae.config import Condition
from pyro_vae.data.conditions import attach_condition, given_pixels, join_image


@pytest.mark.parametrize("text", ["quadrants:0", "quadrants:4", "quadrants", "quadrants:x"])
def test_a_quadrant_count_outside_one_to_three_is_refused(text):
    with pytest.raises(InputError, match="give 1, 2 or 3"):
        Condition.parse(text)


def test_an_unknown_condition_names_the_kinds():
    with pytest.raises(InputError, match="choose one of none, quadrants:K, label, arrays"):
        Condition.parse("pixels")


def test_the_quadrants_are_given_bottom_left_then_top_left_then_top_right():
    def grid(k):
        return given_pixels(Condition("quadrants", k), (4, 4)).view(4, 4).int().tolist()

    assert grid(1) == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]
    assert grid(2) == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]
    assert grid(3) == [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rows_of_quadrants_put_the_target_first_and_join_back_into_the_image(k):
    images = torch.rand(3, 64)
    condition = Condition("quadrants", k)
    rows, width = attach_condition(
        condition, images, labels=None, arrays=None, image_shape=(8, 8), num_classes=None,
        what="toy",
    )  # fmt: skip
    assert width == 16 * k and rows.shape == (3, 64)
    target, given = rows[:, :-width], rows[:, -width:]
    assert torch.equal(join_image(condition, target, given, (8, 8)), images)
    # several completions of one condition join too
    many = join_image(condition, target.expand(5, 3, -1), given, (8, 8))
    assert many.shape == (5, 3, 64)


def test_a_label_condition_is_the_one_hot_class_after_the_image(tmp_path):
    splits = load_data(Config(model="cvae", condition="label"), "binary")
    assert splits.condition_dim == 10 and splits.target_dim == 64
    onehot = splits.validation[:, 64:]
    assert torch.equal(onehot.argmax(1), splits.y_validation)
    assert torch.equal(onehot.sum(1), torch.ones(len(onehot)))


def test_only_the_target_is_binarized():
    splits = load_data(Config(model="cvae", condition="quadrants:2"), "binary")
    assert splits.binarize_train and splits.condition_dim == 32
    target, given = splits.test[:, :32], splits.test[:, 32:]
    assert set(target.unique().tolist()) <= {0.0, 1.0}
    assert len(given.unique()) > 2  # grey levels, as given
    probe = splits.probe()
    assert set(probe[:, :32].unique().tolist()) <= {0.0, 1.0}
    assert len(probe[:, 32:].unique()) > 2


def _npz(path, **arrays):
    rng = np.random.default_rng(0)
    base = {"x_train": (rng.random((40, 6)) > 0.5).astype(np.float32)}
    np.savez(path, **{**base, **arrays})
    return str(path)


def test_condition_arrays_of_an_npz_file_are_flattened_and_split_with_their_rows(tmp_path):
    c = np.arange(40 * 2 * 3, dtype=np.float32).reshape(40, 2, 3)
    config = Config(model="cvae", condition="arrays", dataset="npz", data_file=_npz(
        tmp_path / "c.npz", c_train=c))  # fmt: skip
    splits = load_data(config, "binary")
    assert splits.condition_dim == 6
    # every row keeps its own condition: the first value is 6 times the row's number
    rows = torch.cat([splits.train, splits.validation, splits.test])
    assert sorted((rows[:, 6] / 6).long().tolist()) == list(range(40))


@pytest.mark.parametrize(
    ("arrays", "condition", "message"),
    [
        ({}, "arrays", "needs the arrays c_train and c_test"),
        ({"c_train": np.zeros((39, 2))}, "arrays", r"c_train has shape \(39, 2\).*shape \(40, \.\.\.\)"),
        ({}, "label", "needs labels"),
        ({}, "quadrants:1", "needs images"),
        ({"c_train": np.full((40, 2), np.nan)}, "arrays", "not finite"),
    ],
)  # fmt: skip
def test_data_that_cannot_give_the_condition_are_refused(tmp_path, arrays, condition, message):
    config = Config(
        model="cvae", condition=condition, dataset="npz", data_file=_npz(tmp_path / "d.npz", **arrays)
    )  # fmt: skip
    with pytest.raises(InputError, match=message) as error:
        load_data(config, "binary")
    assert "\n" not in str(error.value)


def test_condition_is_for_the_cvae_and_the_cvae_needs_one():
    with pytest.raises(InputError, match="is for the conditional VAE"):
        Config(condition="label").validate()
    with pytest.raises(InputError, match="needs something to condition on"):
        Config(model="cvae").validate()
    with pytest.raises(InputError, match="unknown prior network 'wide'"):
        Config(model="cvae", condition="label", prior_network="wide").validate()
