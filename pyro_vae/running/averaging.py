"""An exponential moving average of a model's weights, kept beside them while it trains.

``--ema DECAY`` keeps, after every optimizer step, ``avg = DECAY * avg + (1 - DECAY) * w`` of
every weight (torch's :class:`~torch.optim.swa_utils.AveragedModel` with its EMA rule; buffers
too). The average usually scores a better test likelihood than the last weights at no cost in
steps. Validation, the test ELBO, evaluation, sampling and figures use it when a run has one
(``--weights raw``: the trained weights); the checkpoint holds it, so a resumed run goes on
averaging exactly where it stopped.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pyro_vae.models.vae import VAE

__all__ = ["WeightAverage"]


class WeightAverage:
    """The moving average of ``vae``'s weights with decay ``decay``.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(4,)), data_dim=3)
        >>> average = WeightAverage(vae, 0.9)
        >>> average.update(vae)  # after each optimizer step
        >>> int(average.state()["n_averaged"])
        1
    """

    def __init__(self, vae: VAE, decay: float) -> None:
        self.averaged = AveragedModel(
            vae, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True
        )

    @property
    def module(self) -> VAE:
        """The model that holds the averaged weights."""
        return self.averaged.module

    @torch.no_grad()
    def update(self, vae: VAE) -> None:
        """Fold ``vae``'s current weights into the average (the first call copies them)."""
        self.averaged.update_parameters(vae)

    def state(self) -> dict[str, torch.Tensor]:
        """The average and how many steps it has seen, for the checkpoint."""
        return dict(self.averaged.state_dict())

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        """Go on from a checkpoint's :meth:`state`."""
        self.averaged.load_state_dict(state)
