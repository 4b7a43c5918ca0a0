"""Figures (matplotlib); each function returns a :class:`matplotlib.figure.Figure`.

Figures are drawn without a display (the Agg backend) and saved by the caller.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import torch
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from pyro_vae.vae import VAE

__all__ = ["image_grid", "samples_figure"]


def image_grid(
    images: torch.Tensor, image_shape: tuple[int, int], *, ncols: int | None = None, title: str = ""
) -> Figure:
    """Lay out flat grey-level images ``[N, H*W]`` with values in [0, 1] as one grid.

    Example:
        >>> fig = image_grid(torch.rand(6, 64), (8, 8), title="noise")
        >>> len(fig.axes)
        1
    """
    n = images.shape[0]
    ncols = ncols or math.ceil(math.sqrt(n))
    tiles = images.detach().float().clamp(0, 1).reshape(n, 1, *image_shape)
    grid = make_grid(tiles, nrow=ncols, padding=1, pad_value=0.0)[0]
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(2.0, 0.6 * ncols), max(2.0, 0.6 * nrows + (0.4 if title else 0))))
    ax = fig.add_subplot()
    ax.imshow(grid.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def samples_figure(vae: VAE, num: int, image_shape: tuple[int, int]) -> Figure:
    """A grid of ``num`` samples from the model: z ~ P(z), shown as E[X|z].

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> fig = samples_figure(build_vae(Config(latent_dim=2), 64), 16, (8, 8))
        >>> fig.axes[0].get_title()
        '16 samples: z ~ P(z), shown as E[X|z]'
    """
    images = vae.sample(num)
    return image_grid(images, image_shape, title=f"{num} samples: z ~ P(z), shown as E[X|z]")
