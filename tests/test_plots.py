import torch

from pyro_vae import Config, build_vae
from pyro_vae.plots import image_grid, samples_figure


def test_image_grid_is_upright():
    img = torch.zeros(2, 64)
    img[:, :8] = 1.0  # top rows inked
    fig = image_grid(img, (8, 8))
    data = fig.axes[0].images[0].get_array()
    assert data[1, 1:9].min() == 1.0 and data[8, 1:9].max() == 0.0


def test_samples_figure():
    fig = samples_figure(build_vae(Config(latent_dim=2, hidden_dims=(8,)), 64), 9, (8, 8))
    assert "samples" in fig.axes[0].get_title()
