"""Per-datapoint estimates of log P(X) by importance sampling, with the guide or the prior.

For each datapoint x and K samples z_k from a proposal, the log-weights are

* ``proposal="guide"``: log w_k = log p(x, z_k) - log q(z_k|x), z_k ~ Q(z|x) (importance
  sampling; the estimate is also the IWAE bound with K samples);
* ``proposal="prior"``: log w_k = log p(x|z_k), z_k ~ P(z) (naive Monte Carlo),

and the estimate is log (1/K) sum_k w_k. The functions work from Pyro traces of any ``model`` /
``guide`` pair that put every site inside a ``pyro.plate("data", B)`` and observe data with
``obs=``: the guide is traced under an extra particle plate and the model replayed against it.
Both are called as ``fn(x, *args)``: extra arguments (labels, conditions) are batched with x.
A discrete site marked ``infer={"enumerate": "parallel"}`` is summed exactly inside every
weight, as ``TraceEnum_ELBO`` sums it inside the ELBO; an unmarked discrete site is drawn and
weighted like any other latent.

Pyro's ``Importance`` and ``vectorized_importance_weights`` sum the log-weights over the data
plate, which estimates the joint log P(X_1, ..., X_B) rather than each log P(X_i); this module
keeps the log-weights at shape ``[K, B]`` and streams over chunks of K with a running
logsumexp, so memory depends on the chunk size, not on K.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.poutine.util import site_is_subsample

from pyro_vae.estimate.diagnostics import (
    ess_from_sums,
    khat_threshold,
    mean_reliable,
    pareto_khat_from_tail,
    pareto_tail_size,
    standard_error_from_ess,
    standard_error_reliable,
)
from pyro_vae.estimate.enumeration import (
    contract_sites,
    enumerated,
    has_enumerated_sites,
    is_enumerated,
    prepare,
    sampling_discrete,
)
from pyro_vae.models.vae import VAE

__all__ = [
    "DATA_PLATE",
    "Discrete",
    "ElboTerms",
    "LogLikelihood",
    "Proposal",
    "check_batched",
    "default_chunk_size",
    "default_dtype",
    "elbo_terms",
    "log_likelihood",
    "log_weight_terms",
    "log_weights",
]

Proposal = Literal["guide", "prior"]
Discrete = Literal["sum", "sample"]
DATA_PLATE = "data"
_PARTICLE_PLATE = "_pyro_vae_particles"
# Default number of values (particles x datapoints x data_dim) that one chunk may hold: about
# 8 MB per float32 tensor. Larger chunks fall out of the CPU caches and the elementwise
# log-density work slows down; smaller ones pay Pyro's tracing overhead more often.
_CHUNK_VALUES = 1 << 21


def _vectorized(fn: Callable[..., Any], num: int, device: torch.device) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with pyro.plate(_PARTICLE_PLATE, num, dim=-2, device=device):
            return fn(*args, **kwargs)

    return wrapped


def _run(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    args: Sequence[Any],
    num: int,
    proposal: Proposal,
    discrete: Discrete,
) -> tuple[poutine.Trace, poutine.Trace | None]:
    """Trace the proposal under a particle plate and the model against it, as TraceEnum_ELBO.

    Sites marked for parallel enumeration take all their values (or, with
    ``discrete="sample"``, are drawn like any other site).
    """
    if discrete not in ("sum", "sample"):
        raise ValueError(f"discrete must be 'sum' or 'sample', got {discrete!r}")
    if proposal not in ("guide", "prior"):
        raise ValueError(f"proposal must be 'guide' or 'prior', got {proposal!r}")

    def program(fn: Callable[..., Any], first: bool) -> Callable[..., Any]:
        fn = fn if discrete == "sum" else sampling_discrete(fn)
        return enumerated(_vectorized(fn, num, x.device), first=first)

    if proposal == "prior":
        return poutine.trace(program(model, True)).get_trace(x, *args), None
    if guide is None:
        raise ValueError("proposal='guide' needs a guide")
    guide_trace = poutine.trace(program(guide, True)).get_trace(x, *args)
    replayed = poutine.replay(program(model, False), trace=guide_trace)
    return poutine.trace(replayed).get_trace(x, *args), guide_trace


def _sample_sites(trace: poutine.Trace) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        if not any(frame.name == DATA_PLATE for frame in site["cond_indep_stack"]):
            raise ValueError(
                f"site {name!r} is outside pyro.plate({DATA_PLATE!r}): per-datapoint estimates "
                "need every sample site inside the data plate"
            )
        yield name, site


def _factors(
    model_trace: poutine.Trace, guide_trace: poutine.Trace | None
) -> list[tuple[poutine.Trace, str, float]]:
    """The densities whose product is the importance weight, as ``(trace, site, sign)``.

    With the guide as proposal: every model site, divided by every guide site that was drawn.
    A guide site summed by enumeration is not divided by (the weight sums p(x, y, z_y) /
    q(z_y|x, y) over y), and a model latent that the guide does not draw is drawn from its
    prior, which cancels in the weight, so it is left out too. With the prior as proposal:
    the observed sites and the enumerated ones.
    """
    factors, observed = [], False
    for name, site in _sample_sites(model_trace):
        observed |= site["is_observed"]
        drawn_by_guide = guide_trace is not None and name in guide_trace.nodes
        if site["is_observed"] or is_enumerated(site) or drawn_by_guide:
            factors.append((model_trace, name, 1.0))
    if not observed:
        raise ValueError("the model observes no site: pass the data with obs=")
    if guide_trace is not None:
        for name, site in _sample_sites(guide_trace):
            if not is_enumerated(site):
                factors.append((guide_trace, name, -1.0))
    return factors


def _log_prob(trace: poutine.Trace, name: str, num: int, batch: int) -> torch.Tensor:
    log_prob = trace.nodes[name]["log_prob"]
    if log_prob.shape != (num, batch):
        raise ValueError(
            f"site {name!r} has log-density shape {tuple(log_prob.shape)}, expected "
            f"{(num, batch)}: put its batch dimension at dim -1 (the data plate) and use "
            ".to_event() for the rest"
        )
    return log_prob


def _check_args(x: torch.Tensor, args: Sequence[Any]) -> None:
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor) and (arg.dim() == 0 or arg.shape[0] != x.shape[0]):
            raise ValueError(
                f"extra argument {i} has shape {tuple(arg.shape)}: it must be batched with the "
                f"data, {x.shape[0]} rows"
            )


@torch.no_grad()
def log_weight_terms(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num: int,
    *,
    args: Sequence[Any] = (),
    proposal: Proposal = "guide",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num`` proposals per datapoint; return log p(x|z) and log p(z) - log q(z), [num, B].

    The log-weight is their sum for ``proposal="guide"`` and the first term alone for
    ``proposal="prior"`` (where the second term is returned as zeros). The programs are called
    as ``model(x, *args)`` and ``guide(x, *args)``. A program that sums a discrete site out has
    no such split: use :func:`log_weights`.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> x = torch.bernoulli(torch.full((3, 4), 0.5))
        >>> [t.shape for t in log_weight_terms(vae.model, vae.guide, x, 5)]
        [torch.Size([5, 3]), torch.Size([5, 3])]
    """
    _check_args(x, args)
    model_trace, guide_trace = _run(model, guide, x, args, num, proposal, "sum")
    if has_enumerated_sites(model_trace, *([guide_trace] if guide_trace else [])):
        raise ValueError(
            "a site is summed out by enumeration, so log p(x|z) and the latent terms are not "
            "separate: use log_weights"
        )
    return _split_terms(model_trace, guide_trace, num, x)


def _split_terms(
    model_trace: poutine.Trace, guide_trace: poutine.Trace | None, num: int, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log p(x|z) and the latent terms of a trace pair with no enumerated site, each [num, B]."""
    factors = _factors(model_trace, guide_trace)
    for trace in (model_trace, guide_trace):
        if trace is not None:
            trace.compute_log_prob()
    log_lik = torch.zeros(num, x.shape[0], dtype=x.dtype, device=x.device)
    latent = torch.zeros_like(log_lik)
    for trace, name, sign in factors:
        lp = _log_prob(trace, name, num, x.shape[0])
        if trace.nodes[name]["is_observed"]:
            log_lik = log_lik + lp
        else:
            latent = latent - lp if sign < 0 else latent + lp
    return log_lik, latent


@torch.no_grad()
def log_weights(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num: int,
    *,
    args: Sequence[Any] = (),
    proposal: Proposal = "guide",
    discrete: Discrete = "sum",
) -> torch.Tensor:
    """Draw ``num`` proposals per datapoint and return their log importance weights, [num, B].

    Sites marked ``infer={"enumerate": "parallel"}`` (in the model or the guide) are summed
    exactly inside every weight with Pyro's contraction (:mod:`pyro_vae.estimate.enumeration`):
    for a class y enumerated in the guide, w = sum_y p(x, y, z_y) / q(z_y | x, y) with
    z_y ~ Q(z|x, y). With ``discrete="sample"`` they are drawn instead, from the guide (or the
    prior), and weighted like every other latent.

    Example:
        >>> from pyro_vae.models.exact import MixtureLinearGaussian
        >>> _ = torch.manual_seed(0)
        >>> mix = MixtureLinearGaussian(data_dim=3, latent_dim=2, num_classes=4)
        >>> x = mix.sample_data(5)
        >>> lw = log_weights(mix.model, mix.exact_guide, x, 7)
        >>> lw.shape, torch.allclose(lw, mix.exact_log_likelihood(x).expand(7, 5), atol=1e-4)
        (torch.Size([7, 5]), True)
    """
    _check_args(x, args)
    model_trace, guide_trace = _run(model, guide, x, args, num, proposal, discrete)
    traces = [model_trace] if guide_trace is None else [guide_trace, model_trace]
    if has_enumerated_sites(*traces):
        factors = _factors(model_trace, guide_trace)  # checks the plates before Pyro's packing
        prepare(traces)
        return contract_sites(factors, traces)
    log_lik, latent = _split_terms(model_trace, guide_trace, num, x)
    return log_lik + latent


@dataclass(frozen=True)
class ElboTerms:
    """Monte Carlo ELBO per datapoint and its two terms, each ``[B]``.

    Attributes:
        elbo: reconstruction - kl.
        reconstruction: E_q[log p(x|z)].
        kl: E_q[log q(z|x) - log p(z)], the KL divergence from Q(z|X) to P(z).
    """

    elbo: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


@torch.no_grad()
def elbo_terms(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    x: torch.Tensor,
    *,
    args: Sequence[Any] = (),
    num_particles: int = 1,
) -> ElboTerms:
    """Estimate the ELBO of each datapoint and its reconstruction and KL terms.

    A discrete site that the guide enumerates is averaged over exactly, each value weighted by
    its guide probability, as ``TraceEnum_ELBO`` does: for M2's class,
    ELBO = sum_y q(y|x) [log p(x|y, z_y) + log p(y) + log p(z_y) - log q(y|x) - log q(z_y|x, y)].
    A site that the model alone enumerates has no such split and is refused.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> terms = elbo_terms(vae.model, vae.guide, torch.ones(3, 4), num_particles=10)
        >>> bool((terms.kl >= -1).all()), terms.elbo.shape
        (True, torch.Size([3]))
    """
    _check_args(x, args)
    model_trace, guide_trace = _run(model, guide, x, args, num_particles, "guide", "sum")
    assert guide_trace is not None
    if not has_enumerated_sites(model_trace, guide_trace):
        log_lik, latent = _split_terms(model_trace, guide_trace, num_particles, x)
        reconstruction, kl = log_lik.mean(0), -latent.mean(0)
        return ElboTerms(reconstruction - kl, reconstruction, kl)
    return _enumerated_elbo_terms(model_trace, guide_trace, num_particles, x.shape[0])


def _enumerated_elbo_terms(
    model_trace: poutine.Trace, guide_trace: poutine.Trace, num: int, batch: int
) -> ElboTerms:
    """The ELBO's terms averaged exactly over the values of the guide's enumerated sites."""
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    log_q_enum: Any = 0.0
    latent: Any = 0.0
    for _, site in _sample_sites(guide_trace):
        latent = latent - site["log_prob"]
        if is_enumerated(site):
            log_q_enum = log_q_enum + site["log_prob"]
    log_lik: Any = 0.0
    for name, site in _sample_sites(model_trace):
        if site["is_observed"]:
            log_lik = log_lik + site["log_prob"]
        elif name in guide_trace.nodes:
            latent = latent + site["log_prob"]
        else:
            raise ValueError(
                f"site {name!r} is summed out by the model alone, so the ELBO has no "
                "reconstruction and KL terms: use log_weights"
            )

    def average(term: torch.Tensor) -> torch.Tensor:
        weighted = torch.as_tensor(log_q_enum).exp() * term
        full = weighted.expand(torch.broadcast_shapes(weighted.shape, (num, batch)))
        return full.reshape(-1, num, batch).sum(0).mean(0)

    reconstruction, kl = average(log_lik), -average(latent)
    return ElboTerms(reconstruction - kl, reconstruction, kl)


@dataclass(frozen=True)
class LogLikelihood:
    """Per-datapoint log P(X) estimates with their diagnostics (numpy arrays of shape ``[B]``).

    Attributes:
        estimate: log (1/K) sum_k w_k.
        standard_error: delta-method Monte Carlo standard error of ``estimate``.
        ess: effective sample size 1 / sum_k w~_k^2, between 1 and K.
        khat: Pareto k-hat of the weights (ArviZ PSIS); NaN where no tail can be fitted (K
            below about 25, or tied largest weights such as those of a perfect proposal).
        mean_log_weight: (1/K) sum_k log w_k; the ELBO for the guide proposal.
        num_samples: K.
        proposal: ``"guide"`` or ``"prior"``.
    """

    estimate: np.ndarray
    standard_error: np.ndarray
    ess: np.ndarray
    khat: np.ndarray
    mean_log_weight: np.ndarray
    num_samples: int
    proposal: str
    khat_threshold: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "khat_threshold", khat_threshold(self.num_samples))

    @property
    def se_reliable(self) -> np.ndarray:
        """Boolean mask of datapoints whose standard error can be trusted (see diagnostics)."""
        return standard_error_reliable(self.khat, self.ess, self.num_samples)

    @property
    def bad_khat(self) -> np.ndarray:
        """Boolean mask of datapoints whose k-hat exceeds the reliability threshold."""
        with np.errstate(invalid="ignore"):
            return self.khat > self.khat_threshold

    def summary(self) -> dict[str, float]:
        """Data-set level numbers: mean estimate, its standard errors, ESS and k-hat shares.

        ``mc_standard_error`` is the Monte Carlo error of the mean estimate (from each point's
        own error); ``data_standard_error`` the spread over datapoints (std / sqrt(N)).
        ``bad_khat_share`` and ``mean_khat`` count the points whose k-hat could be fitted (NaN
        when none could, e.g. for K < 25). ``unreliable_share`` is the share of points whose
        standard error cannot be trusted; ``reliable`` says whether the mean and its
        ``mc_standard_error`` can be (:func:`pyro_vae.estimate.diagnostics.mean_reliable`).
        """
        n = self.estimate.shape[0]
        fitted, nan = np.isfinite(self.khat), float("nan")
        return {
            "num_points": n,
            "num_samples": self.num_samples,
            "proposal": self.proposal,
            "log_likelihood": float(self.estimate.mean()),
            "nll": float(-self.estimate.mean()),
            # NaN with K = 1, where no point has a standard error
            "mc_standard_error": float(np.sqrt(np.nansum(self.standard_error**2)) / n)
            if np.isfinite(self.standard_error).any()
            else nan,
            "data_standard_error": float(self.estimate.std(ddof=1) / math.sqrt(n))
            if n > 1
            else float("nan"),
            "elbo": float(self.mean_log_weight.mean()),
            "mean_ess": float(self.ess.mean()),
            "khat_threshold": self.khat_threshold,
            "bad_khat_share": float(self.bad_khat[fitted].mean()) if fitted.any() else nan,
            "mean_khat": float(self.khat[fitted].mean()) if fitted.any() else nan,
            "unreliable_share": float(np.mean(~self.se_reliable)),
            "reliable": mean_reliable(self.se_reliable),
        }

    @staticmethod
    def concat(parts: Sequence[LogLikelihood]) -> LogLikelihood:
        """Join results for consecutive batches of the same K and proposal."""
        first = parts[0]
        return LogLikelihood(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in ("estimate", "standard_error", "ess", "khat", "mean_log_weight")
            ),
            num_samples=first.num_samples,
            proposal=first.proposal,
        )


def default_chunk_size(x: torch.Tensor, num_samples: int) -> int:
    """How many proposals per datapoint :func:`log_likelihood` traces at once for the batch ``x``.

    About 2M data values (particles x datapoints x values per datapoint) per chunk: large
    enough that the networks run as big matrix products, small enough that memory stays flat
    and the log-density work stays in cache (measured with ``bench/eval_speed.py``).

    Example:
        >>> default_chunk_size(torch.zeros(100, 784), 5000)
        26
    """
    per_particle = max(1, x.shape[0] * int(np.prod(x.shape[1:])))
    return max(1, min(num_samples, _CHUNK_VALUES // per_particle))


def _cast(arg: Any, dtype: torch.dtype) -> Any:
    if isinstance(arg, torch.Tensor) and arg.is_floating_point():
        return arg.to(dtype)
    return arg


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Make ``dtype`` torch's default floating dtype inside the block.

    Pyro's autoregressive transforms build the start of their inversion with ``torch.zeros`` in
    the default dtype (``AffineAutoregressive._inverse``), so sampling a float64 flow prior under
    a float32 default fails with a dtype mismatch; the estimators run a model of ``dtype`` under
    this block.

    Example:
        >>> with default_dtype(torch.float64):
        ...     torch.zeros(1).dtype
        torch.float64
        >>> torch.zeros(1).dtype
        torch.float32
    """
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def check_batched(model: Callable[..., Any], x: torch.Tensor) -> None:
    """Refuse one datapoint without its batch dimension, for the programs of a VAE.

    A VAE's networks take ``[D]`` as readily as ``[B, D]``, and its data plate would then count
    the D values as D datapoints: one estimate per pixel, silently.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> check_batched(vae.model, torch.zeros(4))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: x has shape (4,), one datapoint without a batch dimension: pass x[None] ...
    """
    if isinstance(getattr(model, "__self__", None), VAE) and x.dim() == 1:
        raise ValueError(
            f"x has shape {tuple(x.shape)}, one datapoint without a batch dimension: pass "
            f"x[None] (a batch of one) or a batch [B, {x.shape[0]}]"
        )


@torch.no_grad()
def log_likelihood(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num_samples: int,
    *,
    args: Sequence[Any] = (),
    proposal: Proposal = "guide",
    discrete: Discrete = "sum",
    chunk_size: int | None = None,
    dtype: torch.dtype = torch.float32,
    compiled: Callable[..., torch.Tensor] | None = None,
) -> LogLikelihood:
    """Estimate log P(x) for every datapoint of the batch ``x`` by importance sampling.

    Args:
        model: Pyro program for P(X|z)P(z) with sites in ``pyro.plate("data", B)``.
        guide: Pyro program for Q(z|X) with the same plate (unused, may be ``None``, when
            ``proposal="prior"``).
        x: data batch ``[B, ...]``, passed to model and guide as their first argument.
        num_samples: K, proposals per datapoint.
        args: further arguments of model and guide (labels, conditions), each batched with
            ``x`` (``[B, ...]``) or ``None``; floating tensors are cast to ``dtype``.
        proposal: ``"guide"`` (importance sampling) or ``"prior"`` (naive Monte Carlo).
        discrete: ``"sum"``: sites marked for parallel enumeration are summed exactly inside
            each weight; ``"sample"``: they are drawn from the proposal and weighted.
        chunk_size: proposals traced at once; by default about 2M data values per chunk
            (times the number of values of the enumerated sites).
        dtype: dtype of ``x``. The running sums are kept in float64 whatever the model's dtype;
            for a float64 evaluation of a :class:`pyro_vae.VAE`, also call ``vae.double()``.
        compiled: a :class:`~pyro_vae.estimate.compiled_weights.CompiledWeights` of ``model`` and
            ``guide``, to compute the weights with ``torch.compile`` (the same numbers to float
            rounding; keep one for all the batches of an evaluation).

    Returns:
        A :class:`LogLikelihood` with per-datapoint estimates and diagnostics.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> x = torch.bernoulli(torch.full((3, 4), 0.5))
        >>> res = log_likelihood(vae.model, vae.guide, x, num_samples=100)
        >>> res.estimate.shape, bool((res.estimate >= res.mean_log_weight).all())
        ((3,), True)
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    check_batched(model, x)
    x = x.to(dtype)
    args = tuple(_cast(a, dtype) for a in args)
    batch = x.shape[0]
    if chunk_size is None:
        chunk_size = default_chunk_size(x, num_samples)
    tail_size = pareto_tail_size(num_samples)
    sums = {"dtype": torch.float64, "device": x.device}  # the accumulators follow the data
    lse_w = torch.full((batch,), -math.inf, **sums)
    lse_w2 = lse_w.clone()
    sum_lw = torch.zeros(batch, **sums)
    tail = torch.empty(0, batch, **sums)
    for start in range(0, num_samples, chunk_size):
        num = min(chunk_size, num_samples - start)
        options = {"args": args, "proposal": proposal, "discrete": discrete}
        with default_dtype(dtype):
            if compiled is None:
                lw = log_weights(model, guide, x, num, **options)
            else:
                lw = compiled(log_weights, x, num, **options)
        lw = lw.to(torch.float64)
        lse_w = torch.logaddexp(lse_w, torch.logsumexp(lw, 0))
        lse_w2 = torch.logaddexp(lse_w2, torch.logsumexp(2.0 * lw, 0))
        sum_lw += lw.sum(0)
        tail = torch.cat([tail, lw]).topk(min(tail_size, tail.shape[0] + num), dim=0).values
    lse_w, lse_w2, sum_lw, tail = (t.cpu() for t in (lse_w, lse_w2, sum_lw, tail))
    estimate = lse_w - math.log(num_samples)
    ess = ess_from_sums(lse_w.numpy(), lse_w2.numpy())
    return LogLikelihood(
        estimate=estimate.numpy(),
        standard_error=standard_error_from_ess(ess, num_samples),
        ess=ess,
        khat=pareto_khat_from_tail(tail.T.numpy(), num_samples),
        mean_log_weight=(sum_lw / num_samples).numpy(),
        num_samples=num_samples,
        proposal=proposal,
    )
