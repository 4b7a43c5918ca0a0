"""Quadrant conditions on colour images: every channel of a given pixel is given."""

import torch

from pyro_vae.config import Condition
from pyro_vae.data.conditions import attach_condition, given_pixels, join_image


def test_a_given_pixel_is_given_in_every_channel():
    grey = given_pixels(Condition("quadrants", 1), (4, 4))
    colour = given_pixels(Condition("quadrants", 1), (3, 4, 4))
    assert torch.equal(colour, grey.repeat(3)) and int(colour.sum()) == 12


def test_colour_rows_split_and_join_back():
    c = Condition("quadrants", 2)
    image = torch.arange(48.0).view(1, 48)
    rows, width = attach_condition(
        c, image, labels=None, arrays=None, image_shape=(3, 4, 4), num_classes=None, what="toy"
    )
    assert width == 24
    assert torch.equal(join_image(c, rows[:, :-width], rows[:, -width:], (3, 4, 4)), image)
