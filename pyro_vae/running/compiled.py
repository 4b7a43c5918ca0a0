"""A Pyro objective captured as one graph per input shape and compiled with ``torch.compile``.

Pyro's ELBOs walk the model and guide in Python at every step: the messenger stack, the
parameter store, a trace per program, a log-density per site. On the default model that work
costs as much as the networks themselves (``bench/train_speed.py``). :class:`CompiledLoss`
does it once per input shape instead:

1. **capture** -- the model and guide run once under Pyro's own tracing
   (``ELBO._get_traces``: the particle plate, the importance traces, every site's log-density)
   while :func:`pyro_vae.hardware.compiler.capture` records the tensor operations they
   perform, with the module's parameters, the data and the KL weight as the graph's inputs.
   Python control flow is evaluated once, which is why a program must have a static structure
   for a given input shape (all of this project's models do);
2. **compile** -- ``torch.compile`` (inductor: C++ on the CPU, Triton on CUDA) turns that graph,
   and the backward pass AOTAutograd derives from it, into fused kernels: the networks'
   activations, every log-density, the sums in a few loops.

The loss is computed from the traces here rather than by the ELBO classes' own
``differentiable_loss``: those call ``.item()`` (and RenyiELBO ``backward()``) inside, which a
graph capture cannot record. The three formulas below are Pyro's, site by site, and the tests
check them against Pyro's objectives on the same weights and noise. Random draws stay torch's
own kernels, so the compiled step draws exactly the noise the uncompiled one would: runs agree
to float rounding and resume exactly.

What is not captured: a ``pyro.param`` that is not a parameter of the module (it would become
a constant), Python that reads a tensor's value (``.item()``, ``if x.any()``), and sites that
need a score-function gradient (discrete latents: M2 sums its class out with TraceEnum_ELBO).
Such programs raise :class:`CaptureError`, and training falls back to an uncompiled step.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from pyro.distributions.kl import kl_divergence
from pyro.distributions.util import is_identically_zero, scale_and_mask
from pyro.infer import ELBO, RenyiELBO, Trace_ELBO, TraceMeanField_ELBO
from pyro.infer.util import get_dependent_plate_dims, torch_sum
from pyro.poutine.messenger import Messenger
from torch import nn

from pyro_vae.hardware.compiler import (
    CaptureError,
    capture,
    compile_failure,
    compile_graph,
    quiet_compiler,
)

__all__ = ["CaptureError", "CompiledLoss"]

#: objective name -> the Pyro ELBO whose traces (particle plate included) the capture uses
_ELBOS: dict[str, Callable[..., ELBO]] = {
    "elbo": Trace_ELBO,
    "analytic-kl": TraceMeanField_ELBO,
    "iwae": lambda **kw: RenyiELBO(alpha=0.0, **kw),
}


class _ModuleParams(Messenger):
    """Answer ``pyro.param`` with the captured module's own (graph-input) parameters.

    ``pyro.module`` registers every parameter with ``pyro.param``; during the capture the
    parameter store must not hand back its stored tensors, which the graph would bake in as
    constants. Any other ``pyro.param`` site would become a constant too, so it is refused.
    """

    def __init__(self, table: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.table = table

    def _pyro_param(self, msg: dict[str, Any]) -> None:
        name = msg["name"]
        if name not in self.table:
            raise CaptureError(
                f"pyro.param({name!r}) is not a parameter of the model's module, and a captured "
                "graph would freeze it"
            )
        msg["value"], msg["done"] = self.table[name], True


def _sample_sites(trace: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    return ((name, site) for name, site in trace.nodes.items() if site["type"] == "sample")


def _check_reparameterized(guide_trace: Any) -> None:
    for name, site in _sample_sites(guide_trace):
        if not is_identically_zero(site["score_parts"].score_function):
            raise CaptureError(
                f"guide site {name!r} is not reparameterized (it needs a score-function "
                "gradient, which the compiled loss does not form)"
            )


def _elbo_loss(traces: Iterator[tuple[Any, Any]], num_particles: int) -> torch.Tensor:
    """Trace_ELBO's loss: -(sum of model log-densities - sum of guide log-densities) / k."""
    total: Any = 0.0
    for model_trace, guide_trace in traces:
        _check_reparameterized(guide_trace)
        for _, site in _sample_sites(model_trace):
            total = total + site["log_prob_sum"]
        for _, site in _sample_sites(guide_trace):
            total = total - site["log_prob_sum"]
    return -total / num_particles


def _mean_field_loss(traces: Iterator[tuple[Any, Any]], num_particles: int) -> torch.Tensor:
    """TraceMeanField_ELBO's loss: closed-form KL where torch has one, else log q - log p."""
    total: Any = 0.0
    for model_trace, guide_trace in traces:
        _check_reparameterized(guide_trace)
        for name, model_site in _sample_sites(model_trace):
            if model_site["is_observed"] or name not in guide_trace.nodes:
                total = total + model_site["log_prob_sum"]
                continue
            guide_site = guide_trace.nodes[name]
            try:
                kl = kl_divergence(guide_site["fn"], model_site["fn"])
            except NotImplementedError:
                total = total + model_site["log_prob_sum"] - guide_site["log_prob_sum"]
                continue
            total = total - scale_and_mask(kl, guide_site["scale"], guide_site["mask"]).sum()
        for name, guide_site in _sample_sites(guide_trace):
            if name not in model_trace.nodes:  # auxiliary guide sites
                total = total - guide_site["log_prob_sum"]
    return -total / num_particles


def _iwae_loss(traces: Iterator[tuple[Any, Any]], num_particles: int) -> torch.Tensor:
    """RenyiELBO(alpha=0)'s loss: -sum over datapoints of log mean_k of the importance weights.

    Its gradient is RenyiELBO's surrogate gradient when every guide site is reparameterized.
    """
    log_weights = []
    for model_trace, guide_trace in traces:
        _check_reparameterized(guide_trace)
        dims = get_dependent_plate_dims(model_trace.nodes.values())
        log_w: Any = 0.0
        for _, site in _sample_sites(model_trace):
            log_w = log_w + torch_sum(site["log_prob"], dims)
        for _, site in _sample_sites(guide_trace):
            log_w = log_w - torch_sum(site["log_prob"], dims)
        log_weights.append(log_w)
    # vectorized particles come as one trace with the particle dimension first
    stacked = log_weights[0] if num_particles > 1 else torch.stack(log_weights)
    return -(torch.logsumexp(stacked, dim=0) - math.log(num_particles)).sum()


_LOSSES = {"elbo": _elbo_loss, "analytic-kl": _mean_field_loss, "iwae": _iwae_loss}


class _Program(nn.Module):
    """The loss of model and guide as a module.

    ``torch.func.functional_call`` substitutes graph inputs for the parameters of its ``vae``.
    """

    def __init__(self, loss: CompiledLoss) -> None:
        super().__init__()
        self.vae = loss.module
        self._loss = [loss]  # a list: not registered as a sub-module

    def forward(self, x: torch.Tensor, kl: torch.Tensor, kwargs: dict[str, Any]) -> torch.Tensor:
        loss = self._loss[0]
        table = {f"{loss.prefix}{name}": value for name, value in self.vae.named_parameters()}
        with _ModuleParams(table), loss.kl_weight_as(kl):
            traces = loss.elbo._get_traces(loss.model, loss.guide, (x,), kwargs)
            return _LOSSES[loss.objective](traces, loss.num_particles).to(x.dtype)


class CompiledLoss:
    """The loss of a Pyro objective on ``model`` and ``guide``, compiled per input shape.

    Call it like the objective's ``differentiable_loss`` (a scalar tensor to call
    ``backward()`` on); :meth:`prepare` captures and compiles for a shape ahead of the steps.
    One graph is made per distinct (shape, dtype, device, keyword arguments): a training run
    has two, the full batch and the epoch's last, shorter one. ``compilations`` counts them
    and ``compile_seconds`` adds up the time they took.

    Args:
        objective: ``elbo``, ``analytic-kl`` or ``iwae``.
        num_particles: samples of z per datapoint.
        model: the model program (e.g. in a :class:`~pyro_vae.running.objectives.LatentScale`).
        guide: the guide program.
        module: the ``nn.Module`` whose parameters the programs register with ``pyro.module``.
        name: the name they register them under (``pyro.module(name, module)``).
        scale: the KL-weight messenger wrapping the programs, if any: its weight becomes a
            graph input, so a KL warm-up changes it without a new graph.
        max_plate_nesting: the programs' plate depth (1: the ``data`` plate).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> loss = CompiledLoss("elbo", 1, vae.model, vae.guide, vae, "vae")  # doctest: +SKIP
        >>> loss(torch.ones(3, 4)).backward()  # doctest: +SKIP
    """

    def __init__(
        self,
        objective: str,
        num_particles: int,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        module: nn.Module,
        name: str,
        *,
        scale: Any = None,
        max_plate_nesting: int = 1,
    ) -> None:
        if objective not in _LOSSES:
            raise CaptureError(f"the {objective} objective has no compiled form")
        self.objective, self.num_particles = objective, num_particles
        self.model, self.guide, self.module, self.scale = model, guide, module, scale
        self.prefix = f"{name}$$$"
        self.elbo = _ELBOS[objective](
            num_particles=num_particles,
            vectorize_particles=num_particles > 1,
            max_plate_nesting=max_plate_nesting,
        )
        self.names = [n for n, p in module.named_parameters() if p.requires_grad]
        self.parameters = [p for n, p in module.named_parameters() if p.requires_grad]
        self.compilations, self.compile_seconds = 0, 0.0
        self._graphs: dict[tuple[Any, ...], Callable[..., torch.Tensor]] = {}

    @contextlib.contextmanager
    def kl_weight_as(self, value: torch.Tensor) -> Iterator[None]:
        """Let the KL-weight messenger use ``value`` (a graph input) while the graph is recorded."""
        if self.scale is None:
            yield
            return
        kept = self.scale.scale
        self.scale.scale = value
        try:
            yield
        finally:
            self.scale.scale = kept

    def _kl_weight(self, x: torch.Tensor) -> torch.Tensor:
        weight = 1.0 if self.scale is None else float(self.scale.scale)
        return torch.tensor(weight, dtype=x.dtype, device=x.device)

    @staticmethod
    def _key(x: torch.Tensor, kwargs: dict[str, Any]) -> tuple[Any, ...]:
        return (tuple(x.shape), x.dtype, x.device, tuple(sorted(kwargs.items())))

    def prepare(self, x: torch.Tensor, **kwargs: Any) -> None:
        """Capture and compile the graph for inputs shaped like ``x`` (``kwargs`` as at the steps).

        The forward and backward kernels are built by running both once; the random stream and
        the parameters' gradients are left as they were.

        Raises:
            CaptureError: when the programs cannot be captured or compiled (the message says why).
        """
        key = self._key(x, kwargs)
        if key in self._graphs:
            return
        started = time.perf_counter()
        program = _Program(self)
        params = [p.detach().requires_grad_() for p in self.parameters]

        def loss_of(params: list[torch.Tensor], x: torch.Tensor, kl: torch.Tensor) -> Any:
            values = {f"vae.{n}": p for n, p in zip(self.names, params, strict=True)}
            return torch.func.functional_call(program, values, (x, kl, kwargs))

        kept_grads = [p.grad for p in self.parameters]
        try:
            graph = capture(loss_of, params, x, self._kl_weight(x))
            compiled = compile_graph(graph)
            devices = [x.device] if x.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices), quiet_compiler():  # builds the kernels
                compiled(self.parameters, x, self._kl_weight(x)).backward()
        except CaptureError:
            raise
        except Exception as exc:  # any failure of the compiler
            raise CaptureError(compile_failure(exc)) from exc
        finally:
            for param, grad in zip(self.parameters, kept_grads, strict=True):
                param.grad = grad
        self._graphs[key] = compiled
        self.compilations += 1
        self.compile_seconds += time.perf_counter() - started

    def __call__(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """The loss on ``x`` (a scalar tensor); compiles first for a shape not seen yet."""
        key = self._key(x, kwargs)
        if key not in self._graphs:
            self.prepare(x, **kwargs)
        return self._graphs[key](self.parameters, x, self._kl_weight(x))
