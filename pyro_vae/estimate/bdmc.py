"""Bidirectional Monte Carlo (BDMC): log P(x) of simulated data between two AIS bounds.

On data simulated from the model, the latent that generated each point is an exact sample of its
posterior. Forward AIS from the start distribution gives a stochastic lower bound of log P(x);
reverse AIS from that latent gives a stochastic upper bound (Grosse, Ghahramani & Adams 2015).
The gap between them bounds how far either is from log P(x), and so how long a schedule AIS
needs on this model (Wu et al. 2017 use it to trust AIS on real data with the same schedule).
:func:`pyro_vae.running.evaluation.bdmc_run` does it for a run directory, as ``pyro-vae bdmc``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pyro import poutine

from pyro_vae.estimate.ais import AISLikelihood, annealed_importance_sampling, in_data_plate
from pyro_vae.hardware.parallel import noise_seed

__all__ = ["Sandwich", "bidirectional_monte_carlo", "simulate"]


@dataclass(frozen=True)
class Sandwich:
    """Bidirectional Monte Carlo bounds of log P(x) for one schedule length.

    Attributes:
        num_steps: T, intermediate distributions of both runs.
        lower: forward AIS, a stochastic lower bound per datapoint.
        upper: reverse AIS from the latents that generated the data, an upper bound.
    """

    num_steps: int
    lower: AISLikelihood
    upper: AISLikelihood

    @property
    def gap(self) -> np.ndarray:
        """Upper - lower per datapoint: how far either bound can be from log P(x)."""
        return self.upper.estimate - self.lower.estimate


def bidirectional_monte_carlo(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    latents: Mapping[str, torch.Tensor],
    *,
    schedules: tuple[int, ...] = (100, 1000),
    keys: Sequence[int] | None = None,
    **options: Any,
) -> list[Sandwich]:
    """Sandwich log P(x) of simulated data between forward and reverse AIS, per schedule length.

    Args:
        model: the Pyro model that simulated ``x``.
        guide: the guide, for ``start="guide"`` (the default of the AIS options).
        x: simulated data ``[B, ...]``.
        latents: the latents that generated ``x``, ``{site: [B, ...]}``: exact posterior
            samples, where reverse AIS starts.
        schedules: the numbers of intermediate distributions to run.
        keys: one seed per datapoint: its forward and reverse chains then draw from streams
            of their own (:func:`annealed_importance_sampling`); by default torch's stream.
        **options: keyword arguments of :func:`annealed_importance_sampling` (``num_chains``,
            ``start``, ``leapfrog_steps``, ...).

    Returns:
        One :class:`Sandwich` per schedule length, in the given order.

    Example:
        >>> from pyro_vae.models.exact import LinearGaussianVAE
        >>> _ = torch.manual_seed(0)
        >>> vae = LinearGaussianVAE(data_dim=4, latent_dim=2, sigma=0.5)
        >>> x, latents = simulate(vae.model, 3)
        >>> (s,) = bidirectional_monte_carlo(
        ...     vae.model, None, x, latents, schedules=(20,), num_chains=4, start="prior"
        ... )
        >>> s.gap.shape
        (3,)
    """
    out = []
    forward = None if keys is None else [noise_seed(k, 0) for k in keys]
    backward = None if keys is None else [noise_seed(k, 1) for k in keys]
    for num_steps in schedules:
        lower = annealed_importance_sampling(
            model, guide, x, num_steps=num_steps, keys=forward, **options
        )
        upper = annealed_importance_sampling(
            model,
            guide,
            x,
            num_steps=num_steps,
            initial=latents,
            reverse=True,
            keys=backward,
            **options,
        )
        out.append(Sandwich(num_steps, lower, upper))
    return out


def simulate(
    model: Callable[..., Any], num: int, *, args: Sequence[Any] = ()
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Draw ``num`` datapoints and the latents that generated them from a model.

    The model is called as ``model(None, *args, batch_size=num)`` (as :meth:`pyro_vae.VAE.model`
    takes it) and must return its observed site ``x``; ``args`` are its further arguments (a
    conditional model's conditions, ``[num, ...]``).

    Returns:
        ``x [num, ...]`` and ``{latent site: value [num, ...]}``.
    """
    with torch.no_grad():
        trace = poutine.trace(model).get_trace(None, *args, batch_size=num)
    x = trace.nodes["_RETURN"]["value"]
    latents = {
        name: site["value"]
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and in_data_plate(site) and site["value"] is not x
    }
    return x, latents
