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

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from pyro_vae.errors import InputError
from pyro_vae.hardware.compiler import (
    CaptureError,
    capture,
    compile_failure,
    compile_graph,
    quiet_compiler,
)

__all__ = ["ESTIMATOR_COMPILE_MODES", "TORCH_COMPILE_MIN_WEIGHTS", "CompiledWeights", "use_compile"]

#: How an evaluation may compute its importance weights.
ESTIMATOR_COMPILE_MODES = ("auto", "torch", "off")
#: ``compile="auto"`` compiles the weights of evaluations of at least this many weights (points
#: x K): about what repays a compile of tens of seconds on 2 CPU cores (``bench/eval_speed.py``).
TORCH_COMPILE_MIN_WEIGHTS = 5_000_000


def use_compile(mode: str, weights: int) -> bool:
    """Whether an evaluation of ``weights`` importance weights compiles them (``mode`` as asked).

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
    return mode == "torch" or (mode == "auto" and weights >= TORCH_COMPILE_MIN_WEIGHTS)


class CompiledWeights:
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
        self.model, self.guide = model, guide
        self.compilations, self.compile_seconds, self.failure = 0, 0.0, ""
        self._graphs: dict[tuple[Any, ...], Callable[..., torch.Tensor]] = {}

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

        if self.failure:
            return call(x, *args)
        shapes = tuple(None if a is None else (tuple(a.shape), a.dtype) for a in args)
        key = (tuple(x.shape), x.dtype, x.device, num, proposal, discrete, shapes)
        if key not in self._graphs:
            started = time.perf_counter()
            try:
                graph = compile_graph(capture(call, x, *args))
                with quiet_compiler():
                    result = graph(x, *args)  # compiles now
            except Exception as exc:  # any failure: estimate uncompiled, and say why once
                reason = str(exc) if isinstance(exc, CaptureError) else compile_failure(exc)
                self.failure = reason
                warnings.warn(f"estimating uncompiled: {reason}", RuntimeWarning, stacklevel=2)
                return call(x, *args)
            self._graphs[key] = graph
            self.compilations += 1
            self.compile_seconds += time.perf_counter() - started
            return result
        return self._graphs[key](x, *args)
