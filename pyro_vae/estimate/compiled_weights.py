"""Importance weights of one model and guide, compiled with ``torch.compile`` per shape.

:func:`pyro_vae.estimate.importance.log_weights` traces both programs at every chunk of
proposals; the work is the decoder over every drawn z and the likelihood of every pixel (the
Bernoulli's softplus alone is a fifth of it, ``bench/eval_speed.py``). Captured once per
chunk shape (:func:`pyro_vae.hardware.compiler.capture`) and compiled, the decoder's last
layer, the log-density and the sum over pixels run as fused loops, and Pyro's tracing runs once.

The weights are the same to float rounding (the same noise is drawn). A program that cannot be
captured is estimated uncompiled, with one warning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from pyro_vae.errors import InputError
from pyro_vae.hardware.compiler import PerShape

__all__ = ["ESTIMATOR_COMPILE_MODES", "TORCH_COMPILE_MIN_WEIGHTS", "CompiledWeights", "use_compile"]

#: How an evaluation may compute its importance weights.
ESTIMATOR_COMPILE_MODES = ("auto", "torch", "off")
#: ``compile="auto"`` compiles the weights of evaluations of at least this many weights (points
#: x K): about what repays a compile of tens of seconds on 2 CPU cores (``bench/eval_speed.py``).
TORCH_COMPILE_MIN_WEIGHTS = 5_000_000


def use_compile(mode: str, work: int, *, minimum: int = TORCH_COMPILE_MIN_WEIGHTS) -> bool:
    """Whether an evaluation of ``work`` units compiles (``mode`` as asked; auto from ``minimum``).

    The unit is an importance weight (points x K) by default; AIS counts gradient evaluations
    against :data:`pyro_vae.estimate.compiled_potential.TORCH_COMPILE_MIN_GRADIENTS`.

    Raises:
        InputError: for a mode other than auto, torch and off.

    Example:
        >>> use_compile("auto", 10_000 * 5000), use_compile("auto", 100 * 1000)
        (True, False)
    """
    if mode not in ESTIMATOR_COMPILE_MODES:
        raise InputError(
            f"unknown compile mode {mode!r} for an evaluation: choose "
            f"{', '.join(ESTIMATOR_COMPILE_MODES)} (--compile)"
        )
    return mode == "torch" or (mode == "auto" and work >= minimum)


class CompiledWeights(PerShape):
    """``log_weights(model, guide, ...)`` compiled once per input shape and option.

    Pass one to :func:`~pyro_vae.estimate.importance.log_likelihood` (``compiled=``) for every
    batch of an evaluation: a graph is made per distinct (data shape, number of proposals,
    proposal, discrete, dtype) -- two per evaluation, the full chunk of proposals and the last.
    ``compilations`` counts them; ``compile_seconds`` adds up their time; ``failure`` says why
    the programs run uncompiled ('' while they compile).

    Args:
        model: the model program.
        guide: the guide program (``None`` for the prior as proposal).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> from pyro_vae.estimate.importance import log_likelihood
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> weights = CompiledWeights(vae.model, vae.guide)
        >>> x = torch.ones(3, 4)
        >>> log_likelihood(vae.model, vae.guide, x, 10, compiled=weights)  # doctest: +SKIP
    """

    def __init__(self, model: Callable[..., Any], guide: Callable[..., Any] | None) -> None:
        super().__init__("estimating")
        self.model, self.guide = model, guide

    def __call__(
        self,
        weights: Callable[..., torch.Tensor],
        x: torch.Tensor,
        num: int,
        *,
        args: Sequence[Any],
        proposal: str,
        discrete: str,
    ) -> torch.Tensor:
        """``weights(model, guide, x, num, ...)``, compiled on first use for this shape."""

        def call(x: torch.Tensor, *args: Any) -> torch.Tensor:
            return weights(
                self.model, self.guide, x, num, args=args, proposal=proposal, discrete=discrete
            )

        shapes = tuple(None if a is None else (tuple(a.shape), a.dtype) for a in args)
        key = (tuple(x.shape), x.dtype, x.device, num, proposal, discrete, shapes)
        return self.run(key, call, x, *args)
