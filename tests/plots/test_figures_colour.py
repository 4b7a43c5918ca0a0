"""Figures of colour images and of discrete pixels: RGB tiles, and bits per dimension."""

import math

import torch

from pyro_vae import Config, build_vae
from pyro_vae.plots.figures import estimators_figure, image_grid, manifold_figure


def test_colour_images_are_drawn_as_rgb_tiles_channel_first():
    images = torch.zeros(2, 3 * 4 * 4)
    images[:, :16] = 1.0  # the red plane full, green and blue empty
    data = image_grid(images, (3, 4, 4)).axes[0].images[0].get_array()
    assert data.shape[-1] == 3
    tile = data[1:5, 1:5]  # the first image, inside its padding
    assert (tile[..., 0] == 1).all() and (tile[..., 1:] == 0).all()


def test_the_manifold_of_a_colour_model_is_drawn():
    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,), likelihood="gaussian"), 48).eval()
    fig = manifold_figure(vae, (3, 4, 4), steps=3)
    assert fig.axes[0].images[0].get_array().shape[-1] == 3


def test_estimators_figure_of_discrete_pixels_has_a_bits_per_dimension_axis():
    per_nat = 1 / (784 * math.log(2))
    rows = [
        {
            "num_samples": k,
            "proposal": p,
            "log_likelihood": -700.0 - 10 / k,
            "mc_standard_error": 0.1,
            "bits_per_dim": (700.0 + 10 / k) * per_nat,
        }
        for k in (1, 10)
        for p in ("guide", "prior")
    ]
    ax = estimators_figure(rows).axes[0]
    (right,) = ax.child_axes
    assert "bits per dimension" in right.get_ylabel()
