"""What a conditional VAE is given: the condition X of each datapoint beside its target Y.

``--condition`` names where X comes from (the notation of Doersch 2016, section 4: the model
is P(Y|X) = integral P(z|X) P(Y|X, z) dz):

* ``quadrants:K`` (K = 1, 2, 3): X is K quadrants of an image and Y the other pixels, as in
  Sohn, Lee & Yan (2015) and Pyro's CVAE tutorial: given first the bottom-left quadrant, then
  the top-left, then the top-right (the bottom-right is always to be completed).
* ``label``: X is the image's class (one-hot) and Y the whole image: class-conditional
  generation.
* ``arrays``: X is a user's own arrays ``c_train`` and ``c_test`` of an npz file (one row of any
  shape per image, flattened); Y the whole image.

A run keeps each datapoint as one row ``[Y, X]``: the target's values first, the condition's
last (:func:`attach_condition`), so that batches, shards under torchrun, checkpoints and
evaluations carry the condition with its target without a second path. The condition is never
binarized and never scored: the likelihood models Y alone.

Example:
    >>> given = given_pixels(Condition.parse("quadrants:1"), (28, 28))
    >>> int(given.sum()), bool(given[27 * 28])  # the bottom-left quadrant, its corner pixel
    (196, True)
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pyro_vae.config import Condition
from pyro_vae.errors import InputError, setting

__all__ = ["attach_condition", "given_pixels", "join_image"]

#: The quadrants in the order they are given: (row half, column half), 0 top/left, 1 bottom/right.
_QUADRANT_ORDER = ((1, 0), (0, 0), (0, 1))


def given_pixels(condition: Condition, image_shape: tuple[int, ...]) -> torch.Tensor:
    """For ``quadrants:K``: which values of a flattened image are given, a bool ``[H * W]``.

    For colour images (``(C, H, W)``, channel first) every channel of a given pixel is given:
    ``[C * H * W]``.

    Example:
        >>> given_pixels(Condition("quadrants", 2), (2, 2)).tolist()  # the left half
        [True, False, True, False]
    """
    height, width = image_shape[-2:]
    given = torch.zeros(height, width, dtype=torch.bool)
    for row, col in _QUADRANT_ORDER[: condition.quadrants]:
        rows = slice(height // 2, None) if row else slice(None, height // 2)
        cols = slice(width // 2, None) if col else slice(None, width // 2)
        given[rows, cols] = True
    channels = image_shape[0] if len(image_shape) == 3 else 1
    return given.flatten().repeat(channels)


def attach_condition(
    condition: Condition,
    x: torch.Tensor,
    *,
    labels: torch.Tensor | None,
    arrays: torch.Tensor | None,
    image_shape: tuple[int, ...] | None,
    num_classes: int | None,
    what: str,
) -> tuple[torch.Tensor, int]:
    """Rows ``[Y, X]`` of a conditional model from images ``x``, and the width of X.

    Args:
        condition: the kind of condition.
        x: the images (or vectors) ``[N, D]``.
        labels: their labels ``[N]`` (for ``label``).
        arrays: the condition arrays ``[N, ...]`` (for ``arrays``).
        image_shape: ``(height, width)`` of the images (for ``quadrants``).
        num_classes: the classes the labels name (for ``label``).
        what: the data's name in messages.

    Returns:
        ``[N, D_Y + D_X]`` rows and ``D_X``.

    Raises:
        InputError: when the data cannot give this condition.

    Example:
        >>> rows, width = attach_condition(
        ...     Condition("label"), torch.zeros(2, 4), labels=torch.tensor([0, 2]), arrays=None,
        ...     image_shape=None, num_classes=3, what="toy")
        >>> rows.tolist(), width
        ([[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]], 3)
    """
    if condition.kind == "quadrants":
        if image_shape is None or min(image_shape[-2:]) < 2:
            raise InputError(
                f"{setting('condition', str(condition))} needs images, and {what} are flat "
                f"vectors: use mnist, fashion-mnist, digits or an npz file of [N, H, W] images"
            )
        given = given_pixels(condition, image_shape)
        return torch.cat([x[:, ~given], x[:, given]], 1), int(given.sum())
    if condition.kind == "label":
        if labels is None or not num_classes:
            raise InputError(
                f"{setting('condition', 'label')} needs labels, and {what} have none: use "
                "digits, mnist, fashion-mnist or an npz file with y_train and y_test"
            )
        if labels.numel() and int(labels.min()) < 0:
            raise InputError(
                f"the labels of {what} include negative values: number the classes 0, 1, ..., C-1"
            )
        onehot = F.one_hot(labels.long(), num_classes).to(x.dtype)
        return torch.cat([x, onehot], 1), num_classes
    if condition.kind == "arrays":
        if arrays is None:
            raise InputError(
                f"{setting('condition', 'arrays')} needs the arrays c_train and c_test beside "
                f"the images, and {what} have none: save them in the npz file"
            )
        flat = arrays.reshape(arrays.shape[0], -1).to(x.dtype)
        return torch.cat([x, flat], 1), int(flat.shape[1])
    return x, 0


def join_image(
    condition: Condition, target: torch.Tensor, given: torch.Tensor, image_shape: tuple[int, ...]
) -> torch.Tensor:
    """Whole flattened images from the target pixels and, for ``quadrants``, the given ones.

    For the other kinds the target is the image and is returned as it is.

    Example:
        >>> c = Condition("quadrants", 2)
        >>> image = torch.arange(16.0).view(1, 16)
        >>> rows, width = attach_condition(c, image, labels=None, arrays=None,
        ...                                image_shape=(4, 4), num_classes=None, what="toy")
        >>> torch.equal(join_image(c, rows[:, :-width], rows[:, -width:], (4, 4)), image)
        True
    """
    if condition.kind != "quadrants":
        return target
    mask = given_pixels(condition, image_shape).to(target.device)
    shape = torch.broadcast_shapes(target.shape[:-1], given.shape[:-1])
    image = target.new_empty(*shape, mask.numel())
    image[..., ~mask] = target.expand(*shape, -1)
    image[..., mask] = given.expand(*shape, -1)
    return image
