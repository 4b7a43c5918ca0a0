"""Capture a Pyro computation as one tensor graph and compile it with ``torch.compile``.

Pyro's programs are Python: effect handlers, a parameter store, traces. ``torch.compile``'s
bytecode tracer (dynamo) breaks its graph at nearly every handler, so that the Python work
remains (measured: 15 graphs for one ELBO). Instead, :func:`capture` runs the computation once
under ``torch.fx``'s ``make_fx``, which executes the Python as it is and records only the
tensor operations it performs -- the role ``torch.jit.trace`` plays in Pyro's JIT, without the
deprecated API. :func:`compile_graph` then hands that graph to ``torch.compile`` (inductor: C++
kernels on the CPU, Triton on CUDA), which fuses the element-wise work and the reductions.

The capture evaluates Python control flow once: the computation must have a static structure
for its input shapes, and must not read tensor values in Python (``.item()``, ``if x.any()``),
which raises :class:`CaptureError`. Random draws stay torch's own kernels
(``fallback_random``), so a compiled computation draws the same noise as the uncompiled one.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import pyro
import torch

__all__ = [
    "BACKEND",
    "CaptureError",
    "PerShape",
    "capture",
    "compile_failure",
    "compile_graph",
    "quiet_compiler",
]

#: The ``torch.compile`` backend: inductor (fused C++ or Triton kernels). The tests use
#: ``aot_eager`` where they check the capture rather than the compiler (it compiles in a second).
BACKEND = "inductor"


class CaptureError(RuntimeError):
    """A computation that cannot be recorded as one static graph (the message says why)."""


def capture(fn: Callable[..., Any], *inputs: Any) -> torch.fx.GraphModule:
    """Record the tensor operations of ``fn(*inputs)`` as a graph taking the same inputs.

    Runs ``fn`` once, in a forked random state (the caller's stream is left as it was) and
    with Pyro's validation off (its checks read tensor values, which a graph cannot).

    Raises:
        CaptureError: when ``fn`` cannot be recorded (the first line of the reason).

    Example:
        >>> graph = capture(lambda x: torch.tanh(x).sum(), torch.ones(3))
        >>> float(graph(torch.zeros(3)))
        0.0
    """
    from torch.fx.experimental.proxy_tensor import make_fx

    tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
    devices = sorted({t.device for t in tensors if t.device.type == "cuda"}, key=str)
    try:
        with torch.random.fork_rng(devices=devices), pyro.validation_enabled(False):
            return make_fx(fn)(*inputs)
    except CaptureError as exc:  # without the trace shapes Pyro appends to messages
        raise CaptureError(str(exc).strip().splitlines()[0]) from None
    except Exception as exc:  # any failure of the tracer
        raise CaptureError(compile_failure(exc)) from exc


def compile_graph(graph: torch.fx.GraphModule) -> Callable[..., Any]:
    """``torch.compile`` of a captured graph with :data:`BACKEND`, one static shape.

    Example:
        >>> f = compile_graph(capture(lambda x: x * 2, torch.ones(2)))  # doctest: +SKIP
    """
    # fallback_random: torch's own random kernels, the noise of the uncompiled computation
    options = {"fallback_random": True} if BACKEND == "inductor" else None
    return torch.compile(graph, backend=BACKEND, options=options, dynamic=False, fullgraph=True)


@contextlib.contextmanager
def quiet_compiler() -> Iterator[None]:
    """Keep the compiler's chatter off the console while it compiles (errors still show).

    On a CPU-only machine with CUDA's headers installed, inductor's first compile logs "No CUDA
    runtime is found" once per process: nothing a user needs to act on.

    Example:
        >>> with quiet_compiler():
        ...     pass
    """
    chatty = logging.getLogger("torch.utils.cpp_extension")
    level = chatty.level
    chatty.setLevel(logging.ERROR)
    try:
        yield
    finally:
        chatty.setLevel(level)


def compile_failure(exc: BaseException) -> str:
    r"""One line saying why tracing or compiling failed (the first line of the error).

    Example:
        >>> compile_failure(RuntimeError("no C++ compiler found\nmore detail"))
        'RuntimeError: no C++ compiler found'
    """
    message = str(exc).strip()
    first = message.splitlines()[0] if message else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class PerShape:
    """One computation captured and compiled once per key (its input shapes and options).

    The first call with a key captures ``fn`` on its inputs, compiles the graph and runs it;
    later calls with the key run the graph. If capturing or compiling fails, ``failure`` says
    why (one line), a :class:`RuntimeWarning` says it once, and every call from then on runs
    ``fn`` itself: a computation that cannot be compiled still runs, uncompiled.
    ``compilations`` counts the graphs made and ``compile_seconds`` adds up their time.

    Args:
        what: the computation, for the warning: "estimating" gives "estimating uncompiled: ...".

    Example:
        >>> graphs = PerShape("adding")
        >>> x = torch.ones(3)
        >>> float(graphs.run(("x", 3), lambda t: (t + 1).sum(), x))  # doctest: +SKIP
        6.0
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.compilations, self.compile_seconds, self.failure = 0, 0.0, ""
        self._graphs: dict[Hashable, Callable[..., Any]] = {}

    def run(self, key: Hashable, fn: Callable[..., Any], *inputs: Any) -> Any:
        """``fn(*inputs)``, by the graph compiled for ``key`` (made now on first use)."""
        if self.failure:
            return fn(*inputs)
        graph = self._graphs.get(key)
        if graph is not None:
            return graph(*inputs)
        started = time.perf_counter()
        try:
            graph = compile_graph(capture(fn, *inputs))
            with quiet_compiler():
                result = graph(*inputs)  # compiles now
        except Exception as exc:  # any failure: run uncompiled, and say why once
            self.failure = str(exc) if isinstance(exc, CaptureError) else compile_failure(exc)
            warnings.warn(f"{self.what} uncompiled: {self.failure}", RuntimeWarning, stacklevel=3)
            return fn(*inputs)
        self._graphs[key] = graph
        self.compilations += 1
        self.compile_seconds += time.perf_counter() - started
        return result
