"""Per-datapoint estimates of log P(X) by importance sampling, with the guide or the prior.

For each datapoint x and K samples z_k from a proposal, the log-weights are

* ``proposal="guide"``: log w_k = log p(x, z_k) - log q(z_k|x), z_k ~ Q(z|x) (importance
  sampling; the estimate is also the IWAE bound with K samples);
* ``proposal="prior"``: log w_k = log p(x|z_k), z_k ~ P(z) (naive Monte Carlo),

and the estimate is log (1/K) sum_k w_k. The functions work from Pyro traces of any ``model`` /
``guide`` pair that put every site inside a ``pyro.plate("data", B)`` and observe data with
``obs=``: the guide is traced under an extra particle plate and the model replayed against it.

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

__all__ = [
    "DATA_PLATE",
    "ElboTerms",
    "LogLikelihood",
    "Proposal",
    "default_chunk_size",
    "default_dtype",
    "elbo_terms",
    "log_likelihood",
    "log_weight_terms",
]

Proposal = Literal["guide", "prior"]
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


def _site_log_probs(trace: poutine.Trace, num: int, batch: int) -> dict[str, torch.Tensor]:
    """Per-site log-densities of a vectorized trace, each checked to be ``[num, batch]``."""
    trace.compute_log_prob()
    out = {}
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        if not any(frame.name == DATA_PLATE for frame in site["cond_indep_stack"]):
            raise ValueError(
                f"site {name!r} is outside pyro.plate({DATA_PLATE!r}): per-datapoint estimates "
                "need every sample site inside the data plate"
            )
        log_prob = site["log_prob"]
        if log_prob.shape != (num, batch):
            raise ValueError(
                f"site {name!r} has log-density shape {tuple(log_prob.shape)}, expected "
                f"{(num, batch)}: put its batch dimension at dim -1 (the data plate) and use "
                ".to_event() for the rest"
            )
        out[name] = log_prob
    return out


@torch.no_grad()
def log_weight_terms(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num: int,
    *,
    proposal: Proposal = "guide",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num`` proposals per datapoint; return log p(x|z) and log p(z) - log q(z), [num, B].

    The log-weight is their sum for ``proposal="guide"`` and the first term alone for
    ``proposal="prior"`` (where the second term is returned as zeros).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> x = torch.bernoulli(torch.full((3, 4), 0.5))
        >>> [t.shape for t in log_weight_terms(vae.model, vae.guide, x, 5)]
        [torch.Size([5, 3]), torch.Size([5, 3])]
    """
    batch = x.shape[0]
    if proposal == "guide":
        if guide is None:
            raise ValueError("proposal='guide' needs a guide")
        guide_trace = poutine.trace(_vectorized(guide, num, x.device)).get_trace(x)
        replayed = poutine.replay(_vectorized(model, num, x.device), trace=guide_trace)
        model_trace = poutine.trace(replayed).get_trace(x)
        guide_lp = _site_log_probs(guide_trace, num, batch)
    elif proposal == "prior":
        model_trace = poutine.trace(_vectorized(model, num, x.device)).get_trace(x)
        guide_lp = {}
    else:
        raise ValueError(f"proposal must be 'guide' or 'prior', got {proposal!r}")
    model_lp = _site_log_probs(model_trace, num, batch)
    observed = [n for n in model_lp if model_trace.nodes[n]["is_observed"]]
    if not observed:
        raise ValueError("the model observes no site: pass the data with obs=")
    log_lik = sum(model_lp[n] for n in observed)
    latent = torch.zeros_like(log_lik)
    if proposal == "guide":
        for name, lp in model_lp.items():
            if name not in observed:
                latent = latent + lp
        for lp in guide_lp.values():
            latent = latent - lp
    return log_lik, latent


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


def elbo_terms(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    x: torch.Tensor,
    *,
    num_particles: int = 1,
) -> ElboTerms:
    """Estimate the ELBO of each datapoint and its reconstruction and KL terms.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> terms = elbo_terms(vae.model, vae.guide, torch.ones(3, 4), num_particles=10)
        >>> bool((terms.kl >= -1).all()), terms.elbo.shape
        (True, torch.Size([3]))
    """
    log_lik, latent = log_weight_terms(model, guide, x, num_particles, proposal="guide")
    reconstruction, kl = log_lik.mean(0), -latent.mean(0)
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
            "mc_standard_error": float(np.sqrt(np.nansum(self.standard_error**2)) / n),
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


@torch.no_grad()
def log_likelihood(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num_samples: int,
    *,
    proposal: Proposal = "guide",
    chunk_size: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> LogLikelihood:
    """Estimate log P(x) for every datapoint of the batch ``x`` by importance sampling.

    Args:
        model: Pyro program for P(X|z)P(z) with sites in ``pyro.plate("data", B)``.
        guide: Pyro program for Q(z|X) with the same plate (unused, may be ``None``, when
            ``proposal="prior"``).
        x: data batch ``[B, ...]``, passed to model and guide as their only argument.
        num_samples: K, proposals per datapoint.
        proposal: ``"guide"`` (importance sampling) or ``"prior"`` (naive Monte Carlo).
        chunk_size: proposals traced at once; by default about 2M data values per chunk.
        dtype: dtype of ``x``. The running sums are kept in float64 whatever the model's dtype;
            for a float64 evaluation of a :class:`pyro_vae.VAE`, also call ``vae.double()``.

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
    x = x.to(dtype)
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
        with default_dtype(dtype):
            log_lik, latent = log_weight_terms(model, guide, x, num, proposal=proposal)
        lw = (log_lik + latent).to(torch.float64)
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
