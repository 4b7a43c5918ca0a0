"""The offline colour data set: patches of scikit-learn's photographs, as arrays or a folder."""

import numpy as np
import pytest

from pyro_vae import Config
from pyro_vae.data.datasets import load_raw
from pyro_vae.data.folders import read_folder
from pyro_vae.data.photos import main, photo_patches, write_patch_folder
from pyro_vae.errors import InputError


def test_patches_come_from_both_photographs_in_separate_bands():
    x_train, y_train, x_test, y_test = photo_patches(size=32, stride=32)
    assert x_train.shape[1:] == (3, 32, 32) and set(y_train) == set(y_test) == {0, 1}
    train = {p.tobytes() for p in x_train}
    assert not any(p.tobytes() in train for p in x_test)  # no test patch seen in training


def test_the_photos_data_set_is_eight_bit_colour():
    raw = load_raw(Config(dataset="photos"))
    assert raw.image_shape == (3, 32, 32) and raw.x_train.shape[1] == 3072
    assert np.allclose(raw.x_train[:50].numpy() * 255, np.round(raw.x_train[:50].numpy() * 255))


def test_the_patch_folder_reads_back_as_the_same_images_and_classes(tmp_path, capsys):
    assert main([str(tmp_path / "patches"), "--size", "16", "--stride", "64"]) == 0
    assert "wrote" in capsys.readouterr().out
    images = read_folder(tmp_path / "patches")
    x_train, y_train, x_test, y_test = photo_patches(size=16, stride=64)
    assert images.classes == ("china", "flower") and images.image_shape == (3, 16, 16)
    order = np.lexsort((np.arange(len(y_train)), y_train))  # folder order: class, then name
    assert np.array_equal(images.x_train, x_train[order])
    assert np.array_equal(images.y_test, np.sort(y_test)) and len(images.x_test) == len(x_test)
    with pytest.raises(InputError, match="not empty"):
        write_patch_folder(tmp_path / "patches")
