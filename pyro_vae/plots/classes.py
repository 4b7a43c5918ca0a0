"""Figures of a model with a class (M2): styles against classes, and the confusion matrix.

Example:
    >>> from pyro_vae.models.m2 import build_m2
    >>> m2 = build_m2(data_dim=64, latent_dim=2, num_classes=3, hidden_dims=(8,))
    >>> fig = class_style_figure(m2, torch.rand(4, 64), (8, 8))
    >>> fig.axes[0].get_title()
    'rows: z of 4 test images; columns: the 3 classes'
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from pyro_vae.models.m2 import SemiSupervisedVAE
from pyro_vae.plots.figures import image_grid

__all__ = ["class_style_figure", "confusion_figure"]


@torch.no_grad()
def class_style_figure(
    vae: SemiSupervisedVAE, x: torch.Tensor, image_shape: tuple[int, ...]
) -> Figure:
    """Style against class: row i decodes the z inferred from image i with every class.

    The first column shows the image itself; the others E[X | y, z] for y = 0, ..., C-1 with
    z the mean of Q(z | x, y_x), y_x the class Q(y|x) gives the image (Kingma et al. 2014,
    figure 1).
    """
    x = x[: min(x.shape[0], 10)]
    z = vae.encode(x)  # [B, d], at the class the classifier finds
    classes = torch.arange(vae.num_classes, device=z.device)
    decoded = vae.decode(z.unsqueeze(1).expand(-1, vae.num_classes, -1), classes)
    rows = torch.cat([x.to(decoded.device).unsqueeze(1), decoded], 1)  # [B, 1 + C, D]
    title = f"rows: z of {x.shape[0]} test images; columns: the {vae.num_classes} classes"
    return image_grid(
        rows.reshape(-1, rows.shape[-1]), image_shape, ncols=rows.shape[1], title=title
    )


def confusion_figure(labels: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> Figure:
    """The confusion matrix: rows the true classes, columns the predicted, shares of each row.

    Example:
        >>> fig = confusion_figure(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 2)
        >>> fig.axes[0].get_title()
        'accuracy 0.667 on 3 images'
    """
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (labels.cpu().numpy(), predicted.cpu().numpy()), 1)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig = Figure(figsize=(4.8, 4.2))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(range(num_classes))
    ax.set_yticks(range(num_classes))
    accuracy = np.trace(counts) / max(1, counts.sum())
    ax.set_title(f"accuracy {accuracy:.3f} on {int(counts.sum())} images", fontsize=10)
    fig.tight_layout()
    return fig
