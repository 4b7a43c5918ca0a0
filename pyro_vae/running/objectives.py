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
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
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
from tqdm import tqdm

from pyro_vae.config import Config
from pyro_vae.errors import InputError
from pyro_vae.hardware.compiler import CaptureError, compile_failure
from pyro_vae.hardware.parallel import Workers
from pyro_vae.registry import Registry
from pyro_vae.running.compiled import CompiledLoss
from pyro_vae.storage.rundir import record_compile

__all__ = [
    "OBJECTIVES",
    "TORCH_COMPILE_MIN_STEPS",
    "Gradients",
    "LatentScale",
    "announce_compile",
    "build_objective",
    "choose_compile",
    "compile_objective",
    "kl_weight",
    "load_optimizer_state",
    "make_gradients",
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
        raise InputError("Pyro has no JIT version of the IWAE objective: pass --compile torch")
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
    reads each gradient once, the least a full check can do, and one transfer brings the total
    back (a transfer per tensor made the check cost 3% of the default step).

    Example:
        >>> w = torch.ones(2, requires_grad=True); w.grad = torch.tensor([1.0, float("inf")])
        >>> nonfinite_problem(3.0, [w])
        'a gradient became non-finite'
    """
    if not math.isfinite(loss):
        return f"the training loss became {loss}"
    sums = [p.grad.sum() for p in parameters if p.grad is not None]
    if sums and not math.isfinite(float(torch.stack(sums).double().sum())):
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
    computes on the batch, up to float rounding.

    The step is computed one of three ways (``mode``): ``off``, Pyro's objective as it is;
    ``jit``, Pyro's JIT objective compiled on a first batch (:func:`compile_objective`);
    ``torch``, the objective captured and compiled with ``torch.compile``
    (:class:`~pyro_vae.running.compiled.CompiledLoss`, given as ``compiled``). A ``torch`` or
    ``jit`` step that fails to compile falls back to ``fallback`` (see :meth:`compile`).

    Args:
        objective: a Pyro ELBO (:func:`build_objective`; the JIT one for ``mode="jit"``).
        model: the model, as the ELBO sees it (scaled, e.g. :class:`LatentScale`).
        guide: the guide, likewise.
        parameters: the parameters whose gradients are summed.
        workers: this process's place among the processes.
        mode: ``torch``, ``jit`` or ``off``.
        compiled: the compiled loss, for ``mode="torch"``.
        fallback: the uncompiled objective to use if compiling fails (default: ``objective``).
    """

    def __init__(
        self,
        objective: ELBO,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        parameters: list[torch.Tensor],
        workers: Workers,
        *,
        mode: str = "off",
        compiled: Any = None,
        fallback: ELBO | None = None,
    ) -> None:
        if mode == "torch" and compiled is None:
            raise ValueError("mode='torch' needs the compiled loss (compiled=)")
        self.objective, self.model, self.guide = objective, model, guide
        self.parameters, self.workers, self.mode = parameters, workers, mode
        self.compiled, self.fallback = compiled, fallback or objective
        self.device = parameters[0].device if parameters else torch.device("cpu")
        self.compile_seconds = 0.0
        #: why the step is compiled as it is (set by :func:`make_gradients`)
        self.reason = ""
        #: why the step is not compiled as asked ('' when it is)
        self.fallback_reason = ""

    def compile(self, batch: torch.Tensor, sizes: Iterable[int]) -> None:
        """Compile the step on rows of ``batch`` for each global batch size in ``sizes``.

        Nothing happens for an uncompiled step. One graph is compiled per global batch size
        (the keyword ``rows``); compiled here, none is compiled inside a step, where Pyro's JIT
        would draw noise of its own. When compiling fails, the step falls back to the
        uncompiled objective and :attr:`fallback_reason` says why.
        """
        if self.mode == "off":
            return
        started = time.perf_counter()
        try:
            for size in sorted(set(sizes)):
                start, end = self.workers.bounds(size)
                if end > start:
                    local = batch[start:end].to(self.device)
                    rows = (size, start)
                    if self.mode == "torch":
                        self.compiled.prepare(local, rows=rows)
                    else:
                        compile_objective(self.objective, self.model, self.guide, local, rows=rows)
        except Exception as exc:  # any failure of a compiler: train uncompiled, and say why
            capture = isinstance(exc, CaptureError)
            self.fallback_reason = str(exc) if capture else compile_failure(exc)
            self.mode, self.objective = "off", self.fallback
            for param in self.parameters:
                param.grad = None
        self.compile_seconds = time.perf_counter() - started

    def record(self) -> dict[str, Any]:
        """How the step is compiled, as ``config.json`` records it (after :meth:`compile`).

        Example:
            >>> from pyro_vae.hardware.parallel import Workers
            >>> Gradients(Trace_ELBO(), print, print, [], Workers()).record()["mode"]
            'off'
        """
        return {
            "mode": self.mode,
            "reason": self.fallback_reason or self.reason,
            "fell_back": bool(self.fallback_reason),
            "seconds": round(self.compile_seconds, 3),
        }

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
        local = batch[start:end].to(self.device, non_blocking=True)
        rows = (batch.shape[0], start)
        if self.mode == "torch":
            loss = self.compiled(local, rows=rows)
            loss.backward()
            return float(loss.detach())
        quiet = quiet_jit_warnings() if self.mode == "jit" else contextlib.nullcontext()
        with quiet:  # the JIT's deprecation and tracer chatter come every step
            return float(self.objective.loss_and_grads(self.model, self.guide, local, rows=rows))


#: ``compile="auto"`` compiles with torch.compile runs of at least this many steps where Pyro's
#: JIT could compile them, and of at least ``TORCH_COMPILE_MIN_STEPS[1]`` where the alternative
#: is the traced step. Compiling the two graphs of a run takes 10-30 s on 2 CPU cores; the
#: compiled step is about a tenth of a bare step faster than the JIT step and about half a bare
#: step faster than the traced one (``bench/train_speed.py``): the break-even points, rounded up.
TORCH_COMPILE_MIN_STEPS = (20_000, 5_000)


def choose_compile(config: Config, steps: int, *, custom: bool = False) -> tuple[str, str]:
    """How a run of ``steps`` training steps compiles its step, and why (for the log).

    ``config.compile`` other than ``auto`` is taken as it is. ``auto`` picks ``torch`` for the
    registered models when the run is long enough to repay the compile time
    (:data:`TORCH_COMPILE_MIN_STEPS`), else ``jit`` where Pyro's JIT can compile the run
    (:attr:`Config.jit_allowed`), else ``off``. A custom model is compiled only when asked: its
    Python may not be static, which a capture assumes.

    Example:
        >>> choose_compile(Config(), 25_000)[0], choose_compile(Config(), 10_000)[0]
        ('torch', 'jit')
        >>> choose_compile(Config(prior="vamp"), 10_000)[0]
        'torch'
        >>> choose_compile(Config(compile="off"), 30_000)
        ('off', 'asked for')
    """
    if config.compile != "auto":
        return config.compile, "asked for"
    if custom:
        return "off", "a custom model is compiled only when asked: pass --compile torch"
    if config.model == "m2":
        return "off", "the semi-supervised model sums its classes out with TraceEnum_ELBO"
    jit = config.jit_allowed
    least = TORCH_COMPILE_MIN_STEPS[0 if jit else 1]
    if steps >= least:
        return "torch", f"auto: {steps:,} steps repay torch.compile's compile time"
    if jit:
        return "jit", f"auto: {steps:,} steps, fewer than the {least:,} that repay torch.compile"
    return "off", (
        f"auto: {steps:,} steps, fewer than the {least:,} that repay torch.compile, and Pyro's "
        "JIT cannot compile this run"
    )


def make_gradients(
    config: Config,
    vae: torch.nn.Module,
    programs: tuple[Callable[..., Any], Callable[..., Any]],
    parameters: list[torch.Tensor],
    workers: Workers,
    *,
    steps: int,
    custom: bool = False,
    scale: LatentScale | None = None,
) -> Gradients:
    """The training step's :class:`Gradients`, compiled as :func:`choose_compile` says.

    Its ``reason`` attribute says why it is compiled so.

    Args:
        config: the run's settings (objective, particles, ``compile``).
        vae: the model whose parameters ``model`` and ``guide`` register (``pyro.module``).
        programs: the model and the guide, as the objective sees them.
        parameters: the parameters whose gradients are summed.
        workers: this process's place among the processes.
        steps: the run's planned number of steps.
        custom: whether the model is the user's own.
        scale: the KL-weight messenger wrapping the programs (a graph input under ``torch``).

    Example:
        >>> from pyro_vae import build_vae
        >>> from pyro_vae.hardware.parallel import Workers
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> g = make_gradients(Config(), vae, (vae.model, vae.guide), list(vae.parameters()),
        ...                    Workers(), steps=100)
        >>> g.mode, g.reason
        ('jit', 'auto: 100 steps, fewer than the 20,000 that repay torch.compile')
    """
    model, guide = programs
    mode, reason = choose_compile(config, steps, custom=custom)
    plain = build_objective(config.objective, config.num_particles)
    if mode == "jit":
        objective = build_objective(config.objective, config.num_particles, jit=True)
        gradients = Gradients(
            objective, model, guide, parameters, workers, mode="jit", fallback=plain
        )
    elif mode == "torch":
        compiled = CompiledLoss(
            config.objective, config.num_particles, model, guide, vae, vae.name, scale=scale
        )
        gradients = Gradients(
            plain, model, guide, parameters, workers, mode="torch", compiled=compiled
        )
    else:
        gradients = Gradients(plain, model, guide, parameters, workers)
    gradients.reason = reason
    return gradients


def announce_compile(gradients: Any, run_dir: Path, verbose: bool) -> None:
    """Record in ``config.json`` how the step is compiled; say it (a fallback always).

    Example:
        >>> announce_compile(gradients, Path("runs/example"), True)  # doctest: +SKIP
        compile: torch in 21.3s (auto: 30,000 steps repay torch.compile's compile time)
    """
    if not hasattr(gradients, "record"):
        return  # M2's step, never compiled
    done = gradients.record()
    record_compile(run_dir, done)
    if done["fell_back"]:
        print(f"training uncompiled: {done['reason']}", file=sys.stderr)
    elif verbose:
        took = f" in {done['seconds']:.1f}s" if done["mode"] != "off" else ""
        tqdm.write(f"compile: {done['mode']}{took} ({done['reason']})")
