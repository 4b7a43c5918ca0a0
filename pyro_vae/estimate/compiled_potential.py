"""The potential of AIS's leapfrog steps, compiled with ``torch.compile`` per shape.

Every leapfrog step of :func:`pyro_vae.estimate.ais.annealed_importance_sampling` evaluates
log f_beta(z) = (1 - beta) log q0(z) + beta log P(x, z) and its gradient for all chains of a
batch: the decoder forward and backward over every chain, the likelihood of every pixel, and
Python's work around them (Pyro's traces for a generic program, the transforms, autograd's
bookkeeping), thousands of times per datapoint. :class:`CompiledPotential` captures one such
evaluation -- the backward pass included, recorded by running ``torch.autograd.grad`` under
the capture -- as one graph per shape, with the data, beta and the latents as its inputs, and
compiles it: forward and backward run as fused loops and the Python runs once.

HMC itself (momenta, the Metropolis test, the step sizes) stays outside: it is a few small
operations per step, and its random draws stay torch's, so the chains draw the same noise
compiled or not. The potential agrees to float rounding; a chain's Metropolis decision can
flip on a difference of rounding, rarely, so a chain may then take another path -- as it may
on another machine -- and the estimates agree within their standard errors
(``tests/estimate/test_compiled_potential.py``). A program that cannot be captured runs
uncompiled, with one warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from pyro_vae.estimate.targets import Start, Target, target_for, tempered
from pyro_vae.hardware.compiler import PerShape

__all__ = ["TORCH_COMPILE_MIN_GRADIENTS", "CompiledPotential"]

#: ``compile="auto"`` compiles the AIS of evaluations of at least this many gradient evaluations
#: (points x chains, tuning chains included, x steps x (leapfrog steps + 1)): about twice what
#: repays a compile of 8-17 s (the less with inductor's cache warm) at the 1.16-1.33x speed-up
#: measured on 2 CPU cores in two runs (``bench/ais_speed.py``); at the defaults, ~70 points.
TORCH_COMPILE_MIN_GRADIENTS = 15_000_000


class CompiledPotential(PerShape):
    """:func:`~pyro_vae.estimate.targets.tempered` with its gradient, compiled per shape.

    Pass one to :func:`~pyro_vae.estimate.ais.annealed_importance_sampling` (``compiled=``)
    for every batch of an evaluation, forward and reverse: a graph is made per distinct (data
    shape, chains, start, summed sites, dtype) -- two per evaluation, the full batch and the
    last. ``compilations``, ``compile_seconds`` and ``failure`` as in
    :class:`~pyro_vae.hardware.compiler.PerShape`.

    Args:
        model: the model program.
        guide: the guide program (``None`` with ``start="prior"``).

    Example:
        >>> from pyro_vae.estimate.ais import annealed_importance_sampling
        >>> from pyro_vae.models.exact import LinearGaussianVAE
        >>> vae = LinearGaussianVAE(data_dim=4, latent_dim=2)
        >>> potential = CompiledPotential(vae.model, None)
        >>> annealed_importance_sampling(  # doctest: +SKIP
        ...     vae.model, None, torch.zeros(3, 4), start="prior", compiled=potential)
    """

    def __init__(self, model: Callable[..., Any], guide: Callable[..., Any] | None) -> None:
        super().__init__("running AIS")
        self.model, self.guide = model, guide

    def __call__(
        self,
        target: Target,
        transforms: Mapping[str, Any],
        u: Mapping[str, torch.Tensor],
        *,
        chains: int,
        start: Start,
        beta: float,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``tempered(target, ..., grad=True)`` by the graph of this shape."""
        x, args, names = target.x, target.args, list(u)
        summed = frozenset(target.summed)
        present = [i for i, a in enumerate(args) if a is not None]

        def potential(x: torch.Tensor, rest: torch.Tensor, beta: torch.Tensor, *flat: Any) -> Any:
            given = list(args)
            for i, value in zip(present, flat, strict=False):
                given[i] = value
            values = dict(zip(names, flat[len(present) :], strict=True))
            fresh = target_for(self.model, self.guide, x, args=tuple(given))
            fresh.summed = set(summed)
            with torch.enable_grad():
                log_f, log_ratio, grad = tempered(
                    fresh,
                    transforms,
                    values,
                    chains=chains,
                    start=start,
                    beta=beta,
                    rest=rest,
                    grad=True,
                )
            return (log_f, log_ratio, *(grad[k] for k in names))

        key = (
            tuple(x.shape),
            x.dtype,
            x.device,
            tuple((i, tuple(args[i].shape), args[i].dtype) for i in present),
            tuple((k, tuple(v.shape), type(transforms[k]).__name__) for k, v in u.items()),
            chains,
            start,
            summed,
        )
        options = {"dtype": x.dtype, "device": x.device}
        # the numbers the uncompiled step multiplies by: 1 - beta in float64, then the dtype
        rest_t, beta_t = torch.tensor(1.0 - beta, **options), torch.tensor(beta, **options)
        inputs = [args[i] for i in present] + [u[k] for k in names]
        log_f, log_ratio, *grads = self.run(key, potential, x, rest_t, beta_t, *inputs)
        return log_f, log_ratio, dict(zip(names, grads, strict=True))
