"""Many processes: who does which rows, how results are summed, and noise that ignores the split.

Under ``torchrun`` (the environment sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``)
:func:`start_workers` joins the process group (gloo on the CPU, NCCL on CUDA); every process
then runs the same code on its share of every batch, split like ``torch.tensor_split``
(:meth:`Workers.bounds`). In one process nothing changes: :class:`Workers` is rank 0 of 1.

Gradients are summed across processes with one all-reduce of a flat buffer after Pyro's
``loss_and_grads`` (:meth:`Workers.sum_gradients`), not with ``DistributedDataParallel``: a Pyro
objective differentiates a traced program, not a module's ``forward``, so DDP has no hook to
overlap its buckets with; the explicit sum is the same arithmetic, keeps the compiled (JIT)
objective as it is, and carries the loss and the stop flag in the same message. The objectives
are sums over the data plate, so the sum of the processes' gradients is the gradient of the
global batch: what one process computes.

The noise is what makes N processes equal one. :class:`SharedNoise` draws the reparameterization
noise of each latent site for the whole global batch, from the generator every process holds in
the same state, and gives each process its own rows: the datapoint in row i of a batch gets the
same z whatever the number of processes, so training and validation give the same numbers (up
to float rounding in the sums) with 1, 2 or 8 processes, and a run may resume with another
number. The guides of the registry (diagonal, full-covariance, IAF) are reparameterizations of
standard normal noise and are covered; a site of another distribution draws its own noise
(statistically equivalent, not equal).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as tdist
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.poutine.messenger import Messenger
from torch.distributions import constraints
from torch.distributions.kl import kl_divergence, register_kl

from pyro_vae.errors import InputError

__all__ = [
    "SharedNoise",
    "Workers",
    "noise_seed",
    "reparameterize",
    "running",
    "split_programs",
    "start_workers",
    "stop_workers",
]

#: Seconds a process waits for the others in one collective before it gives up (a dead peer
#: usually shows at once as a closed connection; this bounds the rest).
TIMEOUT = float(os.environ.get("PYRO_VAE_PROCESS_TIMEOUT", "300"))


_CPU = torch.device("cpu")


@dataclass(frozen=True)
class Workers:
    """This process's place among the processes that share the work (rank 0 of 1 alone).

    Example:
        >>> two = Workers(rank=1, size=2)
        >>> two.bounds(5), two.main
        ((3, 5), False)
    """

    rank: int = 0
    size: int = 1
    device: torch.device = _CPU  # where collectives run (NCCL: the GPU)

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the process that writes files and prints."""
        return self.rank == 0

    @property
    def many(self) -> bool:
        """Whether more than one process shares the work."""
        return self.size > 1

    def bounds(self, n: int, rank: int | None = None) -> tuple[int, int]:
        """Rows ``[start, stop)`` of ``n`` that ``rank`` (this one by default) takes.

        The first ``n % size`` ranks take one row more, as in ``torch.tensor_split``.
        """
        rank = self.rank if rank is None else rank
        base, extra = divmod(n, self.size)
        start = rank * base + min(rank, extra)
        return start, start + base + (rank < extra)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over the processes (``values`` itself in one process)."""
        return self._reduce(values, tdist.ReduceOp.SUM)

    def max(self, value: float) -> float:
        """The largest of the processes' ``value``."""
        if not self.many:
            return float(value)
        values = torch.tensor([value], dtype=torch.float64, device=self.device)
        return float(self._reduce(values, tdist.ReduceOp.MAX))

    def _reduce(self, values: torch.Tensor, op: Any) -> torch.Tensor:
        if not self.many:
            return values
        moved = values.to(self.device)
        tdist.all_reduce(moved, op=op)
        return moved.to(values.device)

    def sum_gradients(self, parameters: Iterable[torch.Tensor], *extra: float) -> list[float]:
        """Sum every parameter's gradient over the processes, and the numbers ``extra``.

        One all-reduce of a flat buffer in the gradients' dtype; a missing gradient counts as
        zeros. Returns the summed ``extra``.
        """
        params = list(parameters)
        if not self.many:
            return list(extra)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        device = grads[0].device if grads else torch.device("cpu")
        numbers = torch.tensor(
            extra, dtype=grads[0].dtype if grads else torch.float64, device=device
        )
        flat = torch.cat([g.reshape(-1) for g in grads] + [numbers])
        tdist.all_reduce(flat, op=tdist.ReduceOp.SUM)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            size = g.numel()
            p.grad = flat[offset : offset + size].view_as(p).clone()
            offset += size
        return flat[offset:].tolist()

    def gather(self, part: Any) -> list[Any]:
        """Every process's ``part``, in rank order, on every process (``[part]`` alone)."""
        if not self.many:
            return [part]
        parts: list[Any] = [None] * self.size
        tdist.all_gather_object(parts, part)
        return parts

    def broadcast(self, tensors: Iterable[torch.Tensor]) -> None:
        """Give every process rank 0's values of ``tensors`` (in place)."""
        if self.many:
            for tensor in tensors:
                tdist.broadcast(tensor.data, src=0)

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.many:
            tdist.barrier()


def start_workers(device: torch.device) -> tuple[Workers, torch.device]:
    """Join the process group ``torchrun`` describes in the environment, if there is one.

    Returns:
        This process's :class:`Workers` and its device: under torchrun on CUDA, the GPU of
        its local rank.

    Raises:
        InputError: for a launcher environment without ``RANK``.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return Workers(), device
    try:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError):
        raise InputError(
            "WORLD_SIZE is set but RANK is not: start the processes with torchrun"
        ) from None
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not tdist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        tdist.init_process_group(
            backend, timeout=datetime.timedelta(seconds=TIMEOUT), device_id=_device_id(device)
        )
    return Workers(rank=rank, size=size, device=device), device


@contextlib.contextmanager
def running(device: torch.device) -> Iterator[tuple[Workers, torch.device]]:
    """:func:`start_workers` for the ``with`` block, :func:`stop_workers` after it."""
    try:
        yield start_workers(device)
    finally:
        stop_workers()


def _device_id(device: torch.device) -> torch.device | None:
    return device if device.type == "cuda" else None


def stop_workers() -> None:
    """Leave the process group (if this process joined one)."""
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()


def reparameterize(fn: Any, noise: torch.Tensor) -> torch.Tensor | None:
    """The sample of ``fn`` that standard normal ``noise`` (of its full shape) maps to.

    Covers Normal, MultivariateNormal, Independent and TransformedDistribution of those (the
    guides of the registry); ``None`` for anything else.

    Example:
        >>> q = torch.distributions.Normal(torch.tensor([1.0]), 2.0)
        >>> reparameterize(q, torch.tensor([0.5]))
        tensor([2.])
    """
    if isinstance(fn, _Shared):
        return reparameterize(fn.base, noise)
    if isinstance(fn, torch.distributions.Independent):
        return reparameterize(fn.base_dist, noise)
    if isinstance(fn, torch.distributions.Normal):
        return fn.loc + fn.scale * noise
    if isinstance(fn, torch.distributions.MultivariateNormal):
        return fn.loc + (fn.scale_tril @ noise.unsqueeze(-1)).squeeze(-1)
    if isinstance(fn, torch.distributions.TransformedDistribution):
        value = reparameterize(fn.base_dist, noise)
        if value is None:
            return None
        for transform in fn.transforms:
            value = transform(value)
        return value
    return None


class _Shared(TorchDistribution):
    """``base`` whose draws take this process's rows of noise drawn for the global batch."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}

    def __init__(self, base: Any, total: int, start: int, data_dim: int) -> None:
        self.base, self.total, self.start, self.data_dim = base, total, start, data_dim
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    @property
    def has_rsample(self) -> bool:
        return True

    @property
    def support(self) -> Any:
        return self.base.support

    def expand(self, batch_shape: Any, _instance: Any = None) -> _Shared:
        return _Shared(self.base.expand(batch_shape), self.total, self.start, self.data_dim)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.base.log_prob(value)

    def rsample(self, sample_shape: Any = ()) -> torch.Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape + self.event_shape
        axis = len(shape) - len(self.event_shape) + self.data_dim
        full = list(shape)
        full[axis] = self.total
        dtype, device = _where(self.base)
        noise = torch.randn(full, dtype=dtype, device=device).narrow(axis, self.start, shape[axis])
        value = reparameterize(self.base, noise)
        return self.base.rsample(torch.Size(sample_shape)) if value is None else value

    def sample(self, sample_shape: Any = ()) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape)


def _where(fn: Any) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of a distribution's parameters (a draw's, for one without loc)."""
    nested = (torch.distributions.Independent, torch.distributions.TransformedDistribution)
    while isinstance(fn, nested):
        fn = fn.base_dist
    loc = fn.loc if hasattr(fn, "loc") else fn.sample()
    return loc.dtype, loc.device


@register_kl(_Shared, torch.distributions.Distribution)
def _kl_shared(p: _Shared, q: torch.distributions.Distribution) -> torch.Tensor:
    return kl_divergence(p.base, q)


class SharedNoise(Messenger):
    """Draw the latent sites' noise for the whole global batch; keep this process's rows.

    Inside it, every reparameterized latent site in the ``data`` plate (of ``local`` rows,
    this process's share of ``total``) samples with noise drawn for all ``total`` rows and
    narrowed to rows ``[start, start + local)``. Apply it to the guide.

    Args:
        total: rows of the global batch.
        start: the first of this process's rows.
    """

    def __init__(self, total: int, start: int = 0) -> None:
        super().__init__()
        self.total, self.start = total, start

    def _process_message(self, msg: dict[str, Any]) -> None:
        if msg["type"] != "sample" or msg["is_observed"] or msg["value"] is not None:
            return
        frame = next((f for f in msg["cond_indep_stack"] if f.name == "data"), None)
        fn = msg["fn"]
        if frame is None or isinstance(fn, _Shared) or not fn.has_rsample:
            return
        msg["fn"] = _Shared(fn, self.total, self.start, frame.dim)


def split_programs(
    model: Callable[..., Any], guide: Callable[..., Any]
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``model`` and ``guide`` taking ``rows=(total, start)``: this process's place in the batch.

    The guide samples under :class:`SharedNoise`; the model ignores ``rows``. Passing it as a
    keyword makes Pyro's JIT compile one version per distinct ``rows`` (the last batch of an
    epoch is smaller).
    """

    def split_model(*args: Any, rows: tuple[int, int] = (0, 0), **kwargs: Any) -> Any:
        return model(*args, **kwargs)

    def split_guide(*args: Any, rows: tuple[int, int] = (0, 0), **kwargs: Any) -> Any:
        total, start = rows
        if total == 0:
            return guide(*args, **kwargs)
        with SharedNoise(total, start):
            return guide(*args, **kwargs)

    return split_model, split_guide


def noise_seed(*keys: int) -> int:
    """A 63-bit seed for the random stream named by ``keys`` (non-negative integers).

    Example:
        >>> noise_seed(0, 1, 5) == noise_seed(0, 1, 5) != noise_seed(0, 1, 6)
        True
    """
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)
