"""Discrete latent sites summed out exactly inside per-datapoint log-densities.

A site marked ``infer={"enumerate": "parallel"}`` is not sampled when its program runs under
Pyro's :class:`~pyro.poutine.enum_messenger.EnumMessenger`: it takes all its values at once, in a
tensor dimension of its own left of the plates, and every site downstream of it carries that
dimension. Summing such a dimension out of a product of densities is a tensor contraction; Pyro
does it for its ELBOs and its HMC with :func:`pyro.ops.contract.contract_to_tensor` over
*packed* tensors (each labelled with its dimensions). This module does the same for the
estimators, which keep one value per particle and datapoint instead of one total: the
contraction targets the particle and data plates, so the result stays ``[K, B]``.

The estimators place the particle (or chain) plate at dim -2 and the data plate at dim -1, so
enumeration starts at dim -3.

Example:
    >>> import pyro, pyro.distributions as dist, torch
    >>> from pyro import poutine
    >>> def model(x):
    ...     with pyro.plate("data", x.shape[0]):
    ...         y = pyro.sample("y", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
    ...         pyro.sample("x", dist.Normal(3.0 * y, 1.0), obs=x)
    >>> trace = poutine.trace(enumerated(model)).get_trace(torch.zeros(2))
    >>> prepare([trace])
    >>> total = contract_sites([(trace, "y", 1.0), (trace, "x", 1.0)], [trace])
    >>> exact = torch.logsumexp(torch.tensor([0.7, 0.3]).log()
    ...     + dist.Normal(torch.tensor([0.0, 3.0]), 1.0).log_prob(torch.tensor(0.0)), 0)
    >>> torch.allclose(total, exact.expand(2))
    True
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from pyro import poutine
from pyro.ops.contract import contract_to_tensor
from pyro.ops.packed import unpack
from pyro.ops.rings import LogRing
from pyro.poutine.enum_messenger import EnumMessenger

__all__ = [
    "ENUM_DIM",
    "contract_sites",
    "enumerated",
    "has_enumerated_sites",
    "is_discrete",
    "is_enumerated",
    "prepare",
    "sampling_discrete",
]

ENUM_DIM = -3  # the first dim left of the particle (-2) and data (-1) plates


def enumerated(fn: Callable[..., Any], *, first: bool = True) -> Callable[..., Any]:
    """Run ``fn`` with its sites marked for parallel enumeration enumerated.

    ``first=False`` continues the dimension allocation of a program run before it (the model
    replayed against an enumerated guide takes the dimensions left of the guide's), as Pyro's
    ``TraceEnum_ELBO`` does.
    """
    return EnumMessenger(first_available_dim=ENUM_DIM if first else None)(fn)


def sampling_discrete(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with every site that is marked for enumeration sampled instead.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> def guide():
        ...     return pyro.sample("y", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        >>> trace = poutine.trace(enumerated(sampling_discrete(guide))).get_trace()
        >>> trace.nodes["y"]["value"].shape
        torch.Size([])
    """

    def config(msg: Any) -> dict[str, Any]:
        return {"enumerate": None} if msg["infer"].get("enumerate") else {}

    return poutine.infer_config(fn, config)


def is_enumerated(site: dict[str, Any]) -> bool:
    """Whether the enumeration messenger gave this sample site all its values at once."""
    return site["infer"].get("_enumerate_dim") is not None


def has_enumerated_sites(*traces: poutine.Trace) -> bool:
    """Whether any sample site of the traces was enumerated."""
    return any(
        site["type"] == "sample" and is_enumerated(site)
        for trace in traces
        for site in trace.nodes.values()
    )


def is_discrete(site: dict[str, Any]) -> bool:
    """Whether a sample site's distribution has a discrete support (it has an enumeration).

    Example:
        >>> import pyro.distributions as dist
        >>> is_discrete({"fn": dist.Categorical(logits=torch.zeros(3))})
        True
        >>> is_discrete({"fn": dist.Normal(0.0, 1.0)})
        False
    """
    return bool(getattr(site["fn"], "has_enumerate_support", False))


def prepare(traces: Sequence[poutine.Trace]) -> None:
    """Compute and pack the log-densities of the traces, with one symbol per plate for all.

    The first trace names the plates; the others (run against it) reuse its names, so their
    packed tensors can be multiplied together.
    """
    plate_to_symbol: dict[str, str] | None = None
    for trace in traces:
        trace.compute_log_prob()
        try:
            trace.pack_tensors(plate_to_symbol)
        except ValueError as error:
            first = str(error).splitlines()[0]
            raise ValueError(
                f"{first} Put each site's batch dimension at dim -1 (the data plate) and use "
                ".to_event() for the rest; enumerated values take dims -3 and left"
            ) from None
        plate_to_symbol = trace.plate_to_symbol


def contract_sites(
    factors: Iterable[tuple[poutine.Trace, str, float]], traces: Sequence[poutine.Trace]
) -> torch.Tensor:
    """Log of the product of site densities with every enumerated dimension summed out.

    Args:
        factors: ``(trace, site name, sign)``: the site's log-density enters with the sign
            (``-1.0`` for the proposal's own densities, which divide).
        traces: the prepared traces the factors come from (:func:`prepare`), the first one
            naming the plates.

    Returns:
        The log-density at the plates of the traces, ``[K, B]`` for the estimators' traces.
    """
    plate_to_symbol = traces[0].plate_to_symbol
    symbol_to_dim: dict[str, int] = {}
    for trace in traces:
        symbol_to_dim.update(trace.symbol_to_dim)
    plate_symbols = set(plate_to_symbol.values())
    tree: OrderedDict[frozenset[str], list[torch.Tensor]] = OrderedDict()
    sum_dims: set[str] = set()
    sizes: dict[str, int] = {}  # the ring broadcasts to plates, even those of size 1
    shape = torch.Size()
    for trace, name, sign in factors:
        site = trace.nodes[name]
        packed = site["packed"]["log_prob"]
        term = packed if sign == 1.0 else sign * packed
        term._pyro_dims = packed._pyro_dims  # arithmetic drops the labels
        ordinal = frozenset(
            plate_to_symbol[f.name] for f in site["cond_indep_stack"] if f.vectorized
        )
        tree.setdefault(ordinal, []).append(term)
        sum_dims |= set(packed._pyro_dims) - plate_symbols
        plates = [f for f in site["cond_indep_stack"] if f.vectorized]
        sizes.update((plate_to_symbol[f.name], f.size) for f in plates)
        shape = torch.broadcast_shapes(shape, _plate_shape(plates))
    target = frozenset().union(*tree) if tree else frozenset()
    ring = LogRing(dim_to_size=sizes)
    total = contract_to_tensor(tree, sum_dims, target_ordinal=target, ring=ring)
    return unpack(total, symbol_to_dim).expand(shape)


def _plate_shape(frames: Sequence[Any]) -> torch.Size:
    size = [1] * max([-f.dim for f in frames], default=0)
    for frame in frames:
        size[frame.dim] = frame.size
    return torch.Size(size)
