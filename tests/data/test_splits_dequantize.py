"""When a run dequantizes: a density on pixel levels, unless told otherwise; refusals."""

import numpy as np
import pytest
import torch

from pyro_vae import Config
from pyro_vae.data.splits import load_data
from pyro_vae.errors import InputError


@pytest.fixture
def eight_bit(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "grey.npz"
    np.savez(path, x_train=rng.integers(0, 256, (60, 16), dtype=np.uint8))
    return str(path)


def test_a_density_on_pixel_levels_is_dequantized_by_default(eight_bit):
    splits = load_data(Config(dataset="npz", data_file=eight_bit, likelihood="gaussian"), "real")
    assert splits.dequantize_bits == 8
    for fixed in (splits.validation, splits.test):
        assert not torch.equal(fixed * 255, torch.round(fixed * 255))  # off the levels
        assert float(fixed.max()) < 1.0


def test_off_the_levels_probabilities_and_binary_data_are_left_alone(eight_bit):
    cases = [
        (Config(dataset="npz", data_file=eight_bit, dequantize="off"), "real"),
        (Config(dataset="npz", data_file=eight_bit, likelihood="dmol"), "discrete"),
        (Config(dataset="digits", likelihood="gaussian"), "real"),  # 17 levels: no bit depth
        (Config(dataset="digits"), "binary"),
    ]
    for config, support in cases:
        assert load_data(config, support).dequantize_bits == 0


def test_asking_for_it_where_it_cannot_apply_is_refused(eight_bit):
    with pytest.raises(InputError, match="needs pixels on the 256 levels"):
        load_data(Config(dataset="digits", likelihood="gaussian", dequantize="on"), "real")
    with pytest.raises(InputError, match="is for a continuous likelihood"):
        load_data(Config(dataset="npz", data_file=eight_bit, dequantize="on"), "discrete")
