"""Training objectives: a name -> Pyro ELBO registry, and the KL weight for beta-VAE and warm-up.

Objectives are Pyro's own ELBO classes; nothing here computes a loss. The KL weight beta scales
the latent site ``"z"`` in both model and guide (``poutine.scale`` restricted to that site), so
the objective becomes E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)) for every ELBO flavour.

The step helpers (:func:`make_optimizer`, :func:`nonfinite_problem`, :func:`compile_objective`)
are what a training step needs besides the objective; the trainer and ``bench/train_speed.py``
use them.

Note on IWAE: ``RenyiELBO(alpha=0)`` is the per-datapoint importance-weighted bound only when
the ``"data"`` plate is not subsampled; the training loop passes minibatches directly to the
model and guide, which keeps it a valid bound.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyro
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
from pyro_vae.hardware.parallel import Workers
from pyro_vae.registry import Registry

__all__ = [
    "OBJECTIVES",
    "Gradients",
    "LatentScale",
    "build_objective",
    "compile_objective",
    "kl_weight",
    "load_optimizer_state",
    "make_optimizer",
    "nonfinite_problem",
    "optimizer_state",
    "quiet_jit_warnings",
]

ObjectiveFactory = Callable[[int, bool], ELBO]
OBJECTIVES: Registry[ObjectiveFactory] = Registry(
    "objective", "--objective", defaults={"jit": False}
)

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


@OBJECTIVES.register("elbo", "Trace_ELBO: the reparameterized Monte Carlo ELBO (default)", jit=True)
def _trace_elbo(num_particles: int, jit: bool) -> ELBO:
    return _vectorized(_jit_elbo if jit else Trace_ELBO, num_particles)


@OBJECTIVES.register(
    "analytic-kl", "TraceMeanField_ELBO: closed-form KL term (mean-field guides only)", jit=True
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


# ---------------------------------------------------------------------------------------------
# step helpers: what one training step needs besides the objective


def make_optimizer(parameters: list[torch.Tensor], learning_rate: float) -> torch.optim.Adam:
    """The trainer's optimizer: one ``torch.optim.Adam`` over all parameters, fused if possible.

    Pyro's ``pyro.optim.Adam`` keeps one torch Adam per parameter tensor, and torch's default
    Adam on the CPU updates tensor by tensor in Python; the fused kernel applies the same rule
    (up to float rounding) in one call per step, several times faster for the default model
    (``bench/train_speed.py`` times both). Where the parameters' device has no fused kernel
    (or an older torch lacks it), the default implementation is used.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> make_optimizer([w], 1e-3).param_groups[0]["lr"]
        0.001
    """
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for this device or torch
        return torch.optim.Adam(parameters, lr=learning_rate)


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's ``state_dict`` with string keys, as a checkpoint's JSON skeleton needs.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> opt = make_optimizer([w], 1e-3)
        >>> load_optimizer_state(opt, optimizer_state(opt))
    """
    state = optimizer.state_dict()
    return {
        "state": {str(k): v for k, v in state["state"].items()},
        "param_groups": state["param_groups"],
    }


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Load a state saved by :func:`optimizer_state` into ``optimizer``."""
    state = {int(k): v for k, v in saved["state"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def nonfinite_problem(loss: float, parameters: list[torch.Tensor]) -> str:
    """What is not finite about a step's loss or gradients ('' when nothing).

    Checked after the backward pass and before the optimizer uses the gradients. The sum of all
    gradient elements is NaN or infinite as soon as one element is (finite sums too large for
    float32 count as non-finite too; such gradients would wreck Adam anyway). One sum per tensor
    reads each gradient once, the least a full check can do.

    Example:
        >>> w = torch.ones(2, requires_grad=True); w.grad = torch.tensor([1.0, float("inf")])
        >>> nonfinite_problem(3.0, [w])
        'a gradient became non-finite'
    """
    if not math.isfinite(loss):
        return f"the training loss became {loss}"
    if not math.isfinite(sum(float(p.grad.sum()) for p in parameters if p.grad is not None)):
        return "a gradient became non-finite"
    return ""


def compile_objective(
    objective: Any, model: Any, guide: Any, batch: torch.Tensor, **kwargs: Any
) -> None:
    """Compile a JIT objective (``jit=True``) on ``batch`` without touching the random stream.

    Pyro's JIT runs the programs several times when it first sees them (to find the parameters,
    then to trace); done inside a forked random state and with the gradients cleared after, the
    compiled objective then draws exactly the noise the plain objective would, so a ``jit`` run
    follows the same path as a plain one up to float rounding. ``model`` and ``guide`` must be
    the objects passed at every later step (the compiled function is keyed by their identity);
    ``kwargs`` go to them as at the later steps.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> pyro.clear_param_store()  # JIT objectives find their parameters in the param store
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> model, guide = vae.model, vae.guide
        >>> compile_objective(build_objective("elbo", 1, jit=True), model, guide, torch.ones(3, 4))
    """
    with torch.random.fork_rng(), quiet_jit_warnings():
        objective.loss_and_grads(model, guide, batch, **kwargs)
    for param in pyro.get_param_store().values():
        param.grad = None


class Gradients:
    """Loss and gradients of a Pyro objective on a global batch, summed over the processes.

    This process computes its rows (:class:`pyro_vae.hardware.parallel.Workers`). The guide draws
    its noise for the whole global batch from a stream seeded for the step
    (:func:`pyro_vae.hardware.parallel.split_programs`), so the gradient is the one a single process
    computes on the batch, up to float rounding. With ``jit=True`` the objective is compiled on
    a first batch (:func:`compile_objective`).

    Args:
        objective: a Pyro ELBO (:func:`build_objective`).
        model: the model, as the ELBO sees it (scaled, e.g. :class:`LatentScale`).
        guide: the guide, likewise.
        parameters: the parameters whose gradients are summed.
        workers: this process's place among the processes.
        jit: whether ``objective`` is a JIT objective.
    """

    def __init__(
        self,
        objective: ELBO,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        parameters: list[torch.Tensor],
        workers: Workers,
        jit: bool,
    ) -> None:
        self.objective, self.model, self.guide = objective, model, guide
        self.parameters, self.workers, self.jit = parameters, workers, jit
        self.device = parameters[0].device if parameters else torch.device("cpu")

    def compile(self, batch: torch.Tensor, sizes: Iterable[int]) -> None:
        """Compile a JIT objective on rows of ``batch`` for each global batch size in ``sizes``.

        Nothing happens for a plain objective. The JIT compiles one version per global batch
        size (the keyword ``rows``); compiled here, none is compiled inside a step, where it
        would draw noise of its own.
        """
        if not self.jit:
            return
        for size in sorted(set(sizes)):
            start, end = self.workers.bounds(size)
            if end > start:
                local = batch[start:end].to(self.device)
                rows = (size, start)
                compile_objective(self.objective, self.model, self.guide, local, rows=rows)

    def __call__(self, batch: torch.Tensor, seed: int) -> float:
        """Set this process's gradients of the loss on its rows of ``batch``; return its loss.

        The noise is seeded by ``seed``. Sum them with
        :meth:`pyro_vae.hardware.parallel.Workers.sum_gradients` (nothing to sum in one process).
        """
        for param in self.parameters:
            param.grad = None
        start, end = self.workers.bounds(batch.shape[0])
        torch.manual_seed(seed)
        if end == start:
            return 0.0
        quiet = quiet_jit_warnings() if self.jit else contextlib.nullcontext()
        with quiet:  # the JIT's deprecation and tracer chatter come every step
            local = batch[start:end].to(self.device, non_blocking=True)
            rows = (batch.shape[0], start)
            return float(self.objective.loss_and_grads(self.model, self.guide, local, rows=rows))
