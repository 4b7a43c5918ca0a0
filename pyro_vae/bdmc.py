"""Bidirectional Monte Carlo (BDMC): log P(x) of simulated data between two AIS bounds.

On data simulated from the model, the latent that generated each point is an exact sample of its
posterior. Forward AIS from the start distribution gives a stochastic lower bound of log P(x);
reverse AIS from that latent gives a stochastic upper bound (Grosse, Ghahramani & Adams 2015).
The gap between them bounds how far either is from log P(x), and so how long a schedule AIS
needs on this model (Wu et al. 2017 use it to trust AIS on real data with the same schedule).
:func:`bdmc_run` does it for a run directory, as ``pyro-vae bdmc``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pyro import poutine

from pyro_vae.ais import AISLikelihood, annealed_importance_sampling, in_data_plate
from pyro_vae.devices import resolve_device
from pyro_vae.parallel import Workers, noise_seed, running
from pyro_vae.rundir import BDMC_FILE, Run, as_run, check_replaceable, write_bdmc

__all__ = ["Sandwich", "bdmc_run", "bidirectional_monte_carlo", "simulate"]


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
        >>> from pyro_vae.exact import LinearGaussianVAE
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


def simulate(model: Callable[..., Any], num: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Draw ``num`` datapoints and the latents that generated them from a model.

    The model is called as ``model(None, batch_size=num)`` (as :meth:`pyro_vae.VAE.model`
    takes it) and must return its observed site ``x``.

    Returns:
        ``x [num, ...]`` and ``{latent site: value [num, ...]}``.
    """
    with torch.no_grad():
        trace = poutine.trace(model).get_trace(None, batch_size=num)
    x = trace.nodes["_RETURN"]["value"]
    latents = {
        name: site["value"]
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and in_data_plate(site) and site["value"] is not x
    }
    return x, latents


def bdmc_run(
    run: Run | str | Path,
    *,
    num_points: int = 100,
    schedules: Iterable[int] = (100, 1000),
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    device: torch.device | str | None = "auto",
    **ais: Any,
) -> list[dict[str, Any]]:
    """Sandwich the model's log P(x) of simulated data between forward and reverse AIS.

    What ``pyro-vae bdmc`` does: draws ``num_points`` (z, x) pairs from the run's model, runs
    :func:`pyro_vae.ais.bidirectional_monte_carlo` for every schedule length and writes one row
    per length (the mean bounds, their gap and standard errors, seconds) into the run directory.

    Args:
        run: a loaded run or a run directory.
        num_points: simulated datapoints.
        schedules: numbers of intermediate distributions.
        seed: the seed of the simulation and of the chains.
        overwrite: replace an earlier table.
        progress: show progress bars.
        device: where to run (:func:`pyro_vae.devices.resolve_device`); the run's model is
            moved there.
        **ais: options of :func:`pyro_vae.ais.annealed_importance_sampling` (``num_chains``,
            ``start``, ``leapfrog_steps``, ...).

    Returns:
        The rows written.

    Example:
        >>> rows = bdmc_run("runs/digits", num_points=20, schedules=[10, 100])  # doctest: +SKIP
        >>> [round(r["gap"], 1) for r in rows]  # doctest: +SKIP
        [3.2, 0.4]
    """
    where = resolve_device(device)  # a bad device is refused before anything is read
    run = as_run(run)
    check_replaceable(run.path / BDMC_FILE, overwrite, "BDMC table")
    with running(where) as (workers, where):
        run.vae.to(where)
        rows = _bdmc_rows(run, num_points, schedules, seed, progress, workers, ais)
    if workers.main:  # rank 0 alone writes
        write_bdmc(run.path, rows)
    return rows


def _bdmc_rows(
    run: Run,
    num_points: int,
    schedules: Iterable[int],
    seed: int,
    progress: bool,
    workers: Workers,
    ais: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rows of :func:`bdmc_run`: each process runs its share of the simulated points.

    Every point's chains draw from streams keyed by the seed, T and its index, so the table
    does not depend on the number of processes.
    """
    torch.manual_seed(seed)
    x, latents = simulate(run.vae.model, num_points)  # the same on every process
    first, last = workers.bounds(num_points)
    rows = []
    for num_steps in sorted(set(schedules)):
        started = time.perf_counter()
        part = None
        if last > first:
            (part,) = bidirectional_monte_carlo(
                run.vae.model,
                run.vae.guide,
                x[first:last],
                {name: value[first:last] for name, value in latents.items()},
                schedules=(num_steps,),
                keys=[noise_seed(seed, num_steps, i) for i in range(first, last)],
                progress=progress and workers.main,
                **ais,
            )
        parts = [p for p in workers.gather(part) if p is not None]
        sandwich = Sandwich(
            num_steps,
            AISLikelihood.concat([p.lower for p in parts]),
            AISLikelihood.concat([p.upper for p in parts]),
        )
        elapsed = workers.max(time.perf_counter() - started)
        lower, upper = sandwich.lower.summary(), sandwich.upper.summary()
        rows.append(
            {
                "num_steps": num_steps,
                "num_points": num_points,
                "num_chains": lower["num_samples"],
                "start": lower["start"],
                "lower": lower["log_likelihood"],
                "upper": upper["log_likelihood"],
                "gap": float(sandwich.gap.mean()),
                "gap_sd": float(sandwich.gap.std(ddof=1)) if num_points > 1 else float("nan"),
                "lower_mc_standard_error": lower["mc_standard_error"],
                "upper_mc_standard_error": upper["mc_standard_error"],
                "seconds": elapsed,
            }
        )
    return rows
