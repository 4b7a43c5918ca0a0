"""Figures of a conditional VAE: completions of given quadrants, and samples per condition.

Example:
    >>> from pyro_vae.config import Condition
    >>> from pyro_vae.models.cvae import build_cvae
    >>> cvae = build_cvae(target_dim=32, condition_dim=32, latent_dim=2, hidden_dims=(8,))
    >>> fig = completions_figure(cvae, torch.rand(3, 64), Condition("quadrants", 2), (8, 8))
    >>> fig.axes[0].get_title()
    'given 2/4 | truth | 6 completions from P(Y|X)'
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from pyro_vae.config import Condition
from pyro_vae.data.conditions import join_image
from pyro_vae.models.cvae import ConditionalVAE
from pyro_vae.plots.figures import image_grid

__all__ = ["completions_figure"]

_COMPLETIONS = 6
_SHOWN = 8
_MISSING = 0.5  # the grey of pixels still to be completed


@torch.no_grad()
def completions_figure(
    vae: ConditionalVAE,
    rows: torch.Tensor,
    condition: Condition,
    image_shape: tuple[int, ...],
    *,
    num: int = _COMPLETIONS,
) -> Figure:
    """Completions E[Y|X, z], z ~ P(z|X), of test conditions (rows ``[Y, X]``).

    For ``quadrants`` each row of the figure shows the given quadrants (the rest grey), the
    true image and ``num`` completions (Sohn et al. 2015, figure 3); for ``label``, each row is
    one class and its ``num`` samples; for ``arrays``, each row the true target and ``num``
    samples given its condition.
    """
    if condition.kind == "label":
        classes = torch.eye(vae.condition_dim, dtype=rows.dtype)
        drawn = vae.complete(classes, num).transpose(0, 1).cpu()  # [C, num, D]
        title = f"rows: the {vae.condition_dim} classes; {num} samples of P(Y|X) each"
        return image_grid(drawn.reshape(-1, drawn.shape[-1]), image_shape, ncols=num, title=title)
    rows = rows[:_SHOWN]
    target, given = rows[:, : vae.target_dim], rows[:, vae.target_dim :]
    drawn = vae.complete(given, num).cpu()  # [num, B, D_Y]
    if condition.kind == "quadrants":
        shown = join_image(condition, torch.full_like(target, _MISSING), given, image_shape)
        columns = [shown, join_image(condition, target, given, image_shape)]
        columns += list(join_image(condition, drawn, given, image_shape))
        title = f"given {condition.quadrants}/4 | truth | {num} completions from P(Y|X)"
    else:
        columns = [target, *drawn]
        title = f"truth | {num} samples of P(Y|X) given its X"
    grid = torch.stack(columns, 1)  # [B, columns, H*W]
    return image_grid(
        grid.reshape(-1, grid.shape[-1]), image_shape, ncols=grid.shape[1], title=title
    )
