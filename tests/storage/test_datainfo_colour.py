"""A run directory's data section holds colour shapes, and still reads grey ones."""

from pathlib import Path

import pytest

from pyro_vae.errors import InputError
from pyro_vae.storage.datainfo import DataInfo


def test_a_colour_shape_round_trips_and_gives_its_channels():
    info = DataInfo(3 * 32 * 32, (3, 32, 32))
    again = DataInfo.from_dict(info.to_dict(), Path("config.json"))
    assert again == info and again.channels == 3
    assert DataInfo(784, (28, 28)).channels == 1


def test_a_shape_that_does_not_make_the_width_is_refused():
    with pytest.raises(InputError, match="does not match data_dim"):
        DataInfo.from_dict({"data_dim": 100, "image_shape": [3, 8, 8]}, Path("config.json"))
