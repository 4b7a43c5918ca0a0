"""Training objectives: a name -> Pyro ELBO registry, and the KL weight for beta-VAE and warm-up.

Objectives are Pyro's own ELBO classes; nothing here computes a loss. The KL weight beta scales
the latent site ``"z"`` in both model and guide (``poutine.scale`` restricted to that site), so
the objective becomes E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)) for every ELBO flavour.

Note on IWAE: ``RenyiELBO(alpha=0)`` is the per-datapoint importance-weighted bound only when
the ``"data"`` plate is not subsampled; the training loop passes minibatches directly to the
model and guide, which keeps it a valid bound.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from pyro.infer import (
    ELBO,
    JitTrace_ELBO,
    JitTraceMeanField_ELBO,
    RenyiELBO,
    Trace_ELBO,
    TraceMeanField_ELBO,
)
from pyro.poutine.scale_messenger import ScaleMessenger

from pyro_vae.errors import InputError
from pyro_vae.registry import Registry

__all__ = ["OBJECTIVES", "LatentScale", "build_objective", "kl_weight", "quiet_jit_warnings"]

ObjectiveFactory = Callable[[int, bool], ELBO]
OBJECTIVES: Registry[ObjectiveFactory] = Registry("objective", "--objective")

# Every site of our models sits in the single "data" plate; telling Pyro so saves it a trace.
_MAX_PLATE_NESTING = 1


def _vectorized(cls: Callable[..., ELBO], num_particles: int, **kwargs: Any) -> ELBO:
    """Build a Pyro ELBO that draws its particles in one vectorized pass.

    A single particle needs no particle plate (same draws, less bookkeeping per step).
    """
    return cls(
        num_particles=num_particles,
        vectorize_particles=num_particles > 1,
        max_plate_nesting=_MAX_PLATE_NESTING,
        **kwargs,
    )


@OBJECTIVES.register("elbo", "Trace_ELBO: the reparameterized Monte Carlo ELBO (default)")
def _trace_elbo(num_particles: int, jit: bool) -> ELBO:
    return _vectorized(_jit_elbo if jit else Trace_ELBO, num_particles)


@OBJECTIVES.register(
    "analytic-kl", "TraceMeanField_ELBO: closed-form KL term (mean-field guides only)"
)
def _mean_field_elbo(num_particles: int, jit: bool) -> ELBO:
    return _vectorized(_jit_mean_field_elbo if jit else TraceMeanField_ELBO, num_particles)


@OBJECTIVES.register("iwae", "RenyiELBO(alpha=0): the importance weighted bound with k particles")
def _iwae(num_particles: int, jit: bool) -> ELBO:
    if jit:
        raise InputError("Pyro has no JIT version of the IWAE objective: drop --jit")
    return _vectorized(RenyiELBO, num_particles, alpha=0.0)


def _quiet_jit(cls: type[ELBO]) -> Callable[..., ELBO]:
    """Wrap a Pyro JIT ELBO so that torch's jit-trace deprecation chatter is filtered."""

    def make(**kwargs: Any) -> ELBO:
        return cls(ignore_jit_warnings=True, jit_options={"check_trace": False}, **kwargs)

    return make


class _CachedJitTraceMeanField_ELBO(JitTraceMeanField_ELBO):
    """``JitTraceMeanField_ELBO`` that compiles once.

    Pyro 1.9's version stores its compiled loss as ``_differentiable_loss`` but tests for
    ``_loss_and_surrogate_loss`` before building it, so it rebuilds and retraces the loss on
    every call (measured: 4x slower than the plain objective, and a different random stream).
    Setting the attribute it tests for after the first call makes it reuse the compiled loss.
    """

    def differentiable_loss(self, model: Any, guide: Any, *args: Any, **kwargs: Any) -> Any:
        loss = super().differentiable_loss(model, guide, *args, **kwargs)
        self._loss_and_surrogate_loss = self._differentiable_loss
        return loss


_jit_elbo = _quiet_jit(JitTrace_ELBO)
_jit_mean_field_elbo = _quiet_jit(_CachedJitTraceMeanField_ELBO)


def build_objective(name: str, num_particles: int = 1, jit: bool = False) -> ELBO:
    """Return the Pyro ELBO registered as ``name``.

    Args:
        name: one of :data:`OBJECTIVES` (``elbo``, ``analytic-kl``, ``iwae``).
        num_particles: samples of z per datapoint (the k of IWAE).
        jit: compile the objective with ``torch.jit`` (``elbo`` and ``analytic-kl`` only).

    Example:
        >>> build_objective("iwae", num_particles=5).alpha
        0.0
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return OBJECTIVES.get(name)(num_particles, jit)


@contextlib.contextmanager
def quiet_jit_warnings() -> Iterator[None]:
    """Silence torch's ``jit.trace`` deprecation and tracer warnings while a JIT objective runs.

    Example:
        >>> with quiet_jit_warnings():
        ...     pass
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace's deprecation
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


class LatentScale(ScaleMessenger):
    """``poutine.scale`` restricted to the latent sites: their log-densities times ``scale``.

    Applied to both model and guide, it turns the ELBO into the beta-weighted one. ``scale`` may
    be changed between steps (KL warm-up).

    Args:
        scale: the KL weight beta, > 0.
        sites: names of the latent sites to scale.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> def model():
        ...     pyro.sample("z", dist.Normal(0.0, 1.0))
        >>> tr = pyro.poutine.trace(LatentScale(0.5)(model)).get_trace()
        >>> tr.nodes["z"]["scale"]
        0.5
    """

    def __init__(self, scale: float = 1.0, sites: Iterable[str] = ("z",)) -> None:
        super().__init__(scale)
        self.sites = frozenset(sites)

    def _process_message(self, msg: Any) -> None:
        if msg["name"] in self.sites:
            super()._process_message(msg)


def kl_weight(beta: float, warmup_epochs: float, epoch_progress: float) -> float:
    """The KL weight after ``epoch_progress`` epochs: linear from ~0 to ``beta`` over the warm-up.

    The weight is never exactly zero (``poutine.scale`` needs a positive factor): during the
    first warm-up step it is ``beta`` times a tiny positive number.

    Args:
        beta: final KL weight.
        warmup_epochs: length of the linear warm-up in epochs (0: no warm-up).
        epoch_progress: completed epochs, fractional within an epoch.

    Example:
        >>> kl_weight(1.0, 10, 2.5)
        0.25
        >>> kl_weight(4.0, 0, 0.0)
        4.0
    """
    if warmup_epochs <= 0:
        return beta
    return beta * max(min(1.0, epoch_progress / warmup_epochs), 1e-6)
