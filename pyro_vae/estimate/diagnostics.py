"""Importance-sampling diagnostics: effective sample size, standard error and Pareto k-hat.

All functions work per datapoint along the last axis (the K samples) of their inputs.

* ESS = 1 / sum_k w~_k^2 for the normalized weights w~ (ArviZ's ``ess`` is the MCMC one, so it
  is computed here).
* The standard error of log p^ = log mean(w) comes from the delta method:
  se(log p^) ~= sd(w) / (sqrt(K) mean(w)) = sqrt((K / ESS - 1) / (K - 1)).
* Pareto k-hat is the shape of a generalized Pareto distribution fitted to the largest weights
  by ArviZ's PSIS (Vehtari et al. 2024). Above min(1 - 1/log10(K), 0.7) the estimate is not
  reliable: its variance may be infinite or its convergence too slow.

When is a standard error trustworthy? The delta-method error estimates the spread of the
weights from the weights drawn; with a heavy right tail (k-hat above the threshold) the weights
that decide the estimate have mostly not been drawn yet, so the error is underestimated
(``tests/estimate/test_diagnostics.py`` measures the coverage of the intervals on light and heavy
tails).
A bootstrap of the same weights inherits the problem, and Pareto smoothing changes the estimate
it would be the error of. So the error is kept, and said to be unreliable where k-hat is above
the threshold (:func:`standard_error_reliable`); a data-set mean is flagged when more than
:data:`UNRELIABLE_SHARE` of its points are (:func:`mean_reliable`). The per-point flag is
necessary, not sufficient: k-hat is itself estimated, and when a proposal's tails are heavy the
points whose k-hat comes out low are those whose samples missed the tail (measured in
``bench/se_calibration.py``), so the data-set flag is the one to heed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from pyro_vae.errors import setting, spell

__all__ = [
    "UNRELIABLE_SHARE",
    "ess_from_sums",
    "khat_threshold",
    "mean_reliable",
    "pareto_khat",
    "pareto_khat_from_tail",
    "pareto_tail_size",
    "reliability_warnings",
    "standard_error_from_ess",
    "standard_error_reliable",
]

#: The largest share of points with unreliable standard errors that a data-set mean may hold
#: and still be reported as reliable.
UNRELIABLE_SHARE = 0.05
# A proposal whose normalized weights are all equal (ESS = K up to rounding) is perfect.
_EQUAL_WEIGHTS = 1.0 - 1e-9


# PSIS fits no tail shorter than this (ArviZ returns inf); reached at 25 samples.
_MIN_TAIL = 5
# Values per filled-in array handed to ArviZ by pareto_khat_from_tail (16 MB in float64).
_FILL_VALUES = 1 << 21


def ess_from_sums(lse_w: np.ndarray, lse_w2: np.ndarray) -> np.ndarray:
    """ESS from ``logsumexp(log w)`` and ``logsumexp(2 log w)``: (sum w)^2 / sum w^2.

    Example:
        >>> import numpy as np
        >>> lw = np.zeros(10)  # ten equal weights
        >>> round(float(ess_from_sums(np.logaddexp.reduce(lw), np.logaddexp.reduce(2 * lw))), 6)
        10.0
    """
    return np.exp(2.0 * np.asarray(lse_w) - np.asarray(lse_w2))


def standard_error_from_ess(ess: np.ndarray, num_samples: int) -> np.ndarray:
    """Delta-method standard error of ``log mean(w)`` given the ESS of K weights.

    With the unbiased sample variance of the weights, se^2 = (K / ESS - 1) / (K - 1). For K = 1
    there is no variance estimate and the result is NaN.

    Example:
        >>> float(standard_error_from_ess(np.array(100.0), 100))  # equal weights: no error
        0.0
    """
    ess = np.asarray(ess, dtype=np.float64)
    if num_samples < 2:
        return np.full_like(ess, np.nan)
    ratio = np.maximum(num_samples / ess - 1.0, 0.0)
    return np.sqrt(ratio / (num_samples - 1))


def khat_threshold(num_samples: int) -> float:
    """The reliability threshold for k-hat with S samples: min(1 - 1/log10(S), 0.7).

    Example:
        >>> round(khat_threshold(5000), 3)
        0.7
        >>> round(khat_threshold(100), 3)
        0.5
    """
    if num_samples <= 10:
        return 0.0
    return min(1.0 - 1.0 / math.log10(num_samples), 0.7)


def standard_error_reliable(khat: np.ndarray, ess: np.ndarray, num_samples: int) -> np.ndarray:
    """Whether each point's standard error can be trusted: k-hat fitted and at most the threshold.

    Points whose weights are all equal (a perfect proposal: ESS = K > 1, standard error 0) count
    as reliable although no tail can be fitted to them; points with too few samples for a k-hat
    (K below about 25, K = 1 above all) do not.

    Example:
        >>> standard_error_reliable(np.array([0.3, 0.9, np.nan]), np.array([50.0, 9.0, 1e3]), 1000)
        array([ True, False,  True])
    """
    khat, ess = np.asarray(khat, dtype=np.float64), np.asarray(ess, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        below = np.isfinite(khat) & (khat <= khat_threshold(num_samples))
    # one sample has ESS = K trivially: equal weights mean something from two samples on
    return below | ((ess >= _EQUAL_WEIGHTS * num_samples) & (num_samples > 1))


def mean_reliable(se_reliable: np.ndarray) -> bool:
    """Whether a mean over points is reliable: at most :data:`UNRELIABLE_SHARE` of them are not.

    Example:
        >>> mean_reliable(np.array([True] * 99 + [False])), mean_reliable(np.array([True, False]))
        (True, False)
    """
    se_reliable = np.asarray(se_reliable, dtype=bool)
    return bool(se_reliable.size) and float(np.mean(~se_reliable)) <= UNRELIABLE_SHARE


def pareto_tail_size(num_samples: int) -> int:
    """How many of the largest log-weights PSIS looks at: its tail length plus the cutoff value.

    Example:
        >>> pareto_tail_size(5000)
        214
    """
    return min(num_samples, math.ceil(min(num_samples / 5.0, 3.0 * math.sqrt(num_samples))) + 1)


def pareto_khat(log_weights: np.ndarray) -> np.ndarray:
    """Pareto k-hat of importance weights given as log-weights, along the last axis (ArviZ PSIS).

    ArviZ changed conventions between releases: ``arviz.psislw`` (ArviZ < 1) takes log-weights,
    while ``arviz_stats``' ``psislw`` (ArviZ >= 1) smooths the negation of its input. This is
    the one place that calls either.

    Args:
        log_weights: array ``[..., S]`` of log importance weights.

    Returns:
        k-hat per row, ``[...]``. NaN where no tail can be fitted: fewer than about 25 samples,
        or the largest weights tied (equal weights, as from a perfect proposal). ArviZ reports
        ``inf`` there, which would read as "unreliable" where nothing is wrong.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> lw = np.log(rng.pareto(1 / 0.5, size=20_000) + 1)  # tail index 0.5
        >>> bool(abs(pareto_khat(lw) - 0.5) < 0.1)
        True
    """
    log_weights = np.asarray(log_weights, dtype=np.float64)
    if pareto_tail_size(log_weights.shape[-1]) - 1 < _MIN_TAIL:
        return np.full(log_weights.shape[:-1], np.nan)
    try:
        from arviz_stats.base import array_stats  # ArviZ >= 1
    except ImportError:
        array_stats = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns about large k-hat; we report it instead
        if array_stats is not None:
            _, khat = array_stats.psislw(-log_weights, r_eff=1.0, axis=-1)
        else:
            import arviz

            _, khat = arviz.psislw(log_weights, reff=1.0)
    khat = np.asarray(khat, dtype=np.float64)
    return np.where(np.isfinite(khat), khat, np.nan)


def pareto_khat_from_tail(tail: np.ndarray, num_samples: int) -> np.ndarray:
    """Pareto k-hat of S log-weights from only their largest ``pareto_tail_size(S)`` values.

    PSIS fits its Pareto tail to the values above the ``pareto_tail_size(S)``-th largest one, so
    the rest of the sample does not change k-hat. The missing values are filled with that
    cutoff value and the full-length array goes to :func:`pareto_khat`; the result is the same
    as from the whole sample, but the estimators only keep the tail while streaming over K.

    Args:
        tail: ``[..., T]`` the T = ``pareto_tail_size(S)`` largest log-weights (any order).
        num_samples: S, the number of log-weights the tail was taken from.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> lw = rng.standard_normal(1000)
        >>> tail = np.sort(lw)[-pareto_tail_size(1000):]
        >>> bool(np.isclose(pareto_khat_from_tail(tail, 1000), pareto_khat(lw)))
        True
    """
    tail = np.asarray(tail, dtype=np.float64)
    if tail.shape[-1] != pareto_tail_size(num_samples):
        raise ValueError(f"expected the {pareto_tail_size(num_samples)} largest log-weights")
    rows = tail.reshape(-1, tail.shape[-1])
    out = np.empty(rows.shape[0])
    step = max(1, _FILL_VALUES // num_samples)  # rows per call: memory stays flat in S
    for start in range(0, rows.shape[0], step):
        block = rows[start : start + step]
        fill = np.min(block, axis=-1, keepdims=True)
        body = np.broadcast_to(fill, (block.shape[0], num_samples - block.shape[-1]))
        out[start : start + step] = pareto_khat(np.concatenate([body, block], axis=-1))
    return out.reshape(tail.shape[:-1])


_LABELS = {
    "guide": "importance sampling (guide)",
    "prior": "naive Monte Carlo (prior)",
    "ais": "annealed importance sampling",
}
_GUIDE_ONLY = 'proposals=("guide",)'


def reliability_warnings(results: Iterable[Any]) -> list[str]:
    """One line per estimate whose mean cannot be trusted, saying why and what to do.

    ``results`` are :class:`pyro_vae.estimate.importance.LogLikelihood` (AIS results, whose summary
    says ``reliable = None``, are never flagged).

    An estimate is flagged when more than :data:`pyro_vae.estimate.diagnostics.UNRELIABLE_SHARE` of
    its points have an unreliable standard error (k-hat above the threshold, or K too small for a
    k-hat): their weights have (close to) infinite variance, so the mean may be too low and
    its Monte Carlo standard error understates its error.

    Example:
        >>> import torch
        >>> from pyro_vae import Config, build_vae
        >>> from pyro_vae.estimate.importance import log_likelihood
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> res = log_likelihood(vae.model, vae.guide, torch.ones(3, 4), 10)
        >>> reliability_warnings([res])[0][:40]
        'importance sampling (guide): with K = 10'
    """
    lines = []
    for res in results:
        summary = res.summary()
        if summary["reliable"] or summary["reliable"] is None:
            continue  # None for AIS: its chains' spread says nothing of its bias (BDMC does)
        label = _LABELS.get(res.proposal, res.proposal)
        if not np.isfinite(res.khat).any():
            lines.append(
                f"{label}: with K = {res.num_samples} no Pareto k-hat can be fitted, so nothing "
                f"says whether the estimate has converged; pass {setting('num_samples', 100)} "
                "or more"
            )
            continue
        if res.proposal == "prior":
            guide = spell("--proposal guide", _GUIDE_ONLY)
            advice = f"naive Monte Carlo fails beyond a few latent dimensions: use {guide}"
        else:
            advice = (
                f"raise {setting('num_samples')} or fit a better guide "
                f"({setting('objective', 'iwae')}, {setting('guide', 'iaf')})"
            )
        lines.append(
            f"{label}: k-hat above {res.khat_threshold:.2f} for "
            f"{summary['unreliable_share']:.0%} of the points (weights of near-infinite "
            f"variance): log P(X) may be too low, its MC se too small; {advice}"
        )
    return lines
