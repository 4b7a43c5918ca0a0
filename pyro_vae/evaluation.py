"""Evaluating a trained model on a whole data set: log P(X) with both proposals, side by side.

:func:`estimate_dataset` runs :func:`pyro_vae.estimators.log_likelihood` over a data set in
batches of datapoints (memory stays bounded by the batch and the chunk of K, never by the data
set). :func:`evaluate_log_likelihood` does it for each requested proposal and adds the exact
value when the model has one (:class:`pyro_vae.exact.LinearGaussianVAE`);
:func:`compare_estimators` repeats it over a list of K, the data behind the convergence figure.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm  # text bars: shown only on a terminal, so no widget dependency

from pyro_vae.estimators import LogLikelihood, Proposal, log_likelihood
from pyro_vae.exact import LinearGaussianVAE
from pyro_vae.vae import VAE

__all__ = [
    "PROPOSALS",
    "Evaluation",
    "compare_estimators",
    "estimate_dataset",
    "evaluate_log_likelihood",
    "exact_log_likelihood",
]

PROPOSALS: tuple[Proposal, ...] = ("guide", "prior")
_BATCH = 100


def estimate_dataset(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num_samples: int,
    proposal: Proposal = "guide",
    batch_size: int = _BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> LogLikelihood:
    """Per-datapoint log P(X) estimates for every row of ``x``, ``batch_size`` rows at a time.

    Args:
        model: the Pyro model (site convention of :mod:`pyro_vae.estimators`).
        guide: the Pyro guide; unused (may be ``None``) for ``proposal="prior"``.
        x: the data set, ``[N, ...]``.
        num_samples: K per datapoint.
        proposal: ``"guide"`` or ``"prior"``.
        batch_size: datapoints per call to :func:`~pyro_vae.estimators.log_likelihood`.
        dtype: dtype of the data passed to the model.
        progress: show a progress bar.

    Returns:
        The results of all batches joined (:meth:`LogLikelihood.concat`).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> x = torch.bernoulli(torch.full((25, 4), 0.5))
        >>> estimate_dataset(vae.model, vae.guide, x, 50, batch_size=10).estimate.shape
        (25,)
    """
    starts = range(0, x.shape[0], batch_size)
    parts = [
        log_likelihood(model, guide, x[s : s + batch_size], num_samples, proposal, dtype=dtype)
        for s in tqdm(starts, desc=f"{proposal} K={num_samples}", disable=not progress, leave=False)
    ]
    return LogLikelihood.concat(parts)


def exact_log_likelihood(vae: VAE, x: torch.Tensor) -> np.ndarray | None:
    """The closed-form log P(x) per datapoint when the model has one, else ``None``.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> exact_log_likelihood(vae, torch.ones(3, 4)) is None
        True
    """
    if isinstance(vae, LinearGaussianVAE):
        return vae.exact_log_likelihood(x).double().numpy()
    return None


@dataclass(frozen=True)
class Evaluation:
    """log P(X) estimates of one model on one data set.

    Attributes:
        results: proposal name -> per-datapoint :class:`LogLikelihood`.
        exact: closed-form log P(x) per datapoint, or ``None`` when the model has none.
        seconds: proposal name -> wall-clock seconds it took.
        seed: the seed each proposal's run started from.
    """

    results: dict[str, LogLikelihood]
    exact: np.ndarray | None
    seconds: dict[str, float]
    seed: int

    def summary(self) -> dict[str, Any]:
        """A JSON-ready report: one summary per proposal, and the exact mean when known."""
        report: dict[str, Any] = {
            "num_points": self.num_points,
            "num_samples": next(iter(self.results.values())).num_samples,
            "seed": self.seed,
            "proposals": {
                name: {**res.summary(), "seconds": self.seconds[name]}
                for name, res in self.results.items()
            },
        }
        if self.exact is not None:
            report["exact_log_likelihood"] = float(self.exact.mean())
            report["exact_nll"] = float(-self.exact.mean())
        return report

    @property
    def num_points(self) -> int:
        """How many datapoints were evaluated."""
        return int(next(iter(self.results.values())).estimate.shape[0])

    def per_point_rows(self) -> list[dict[str, Any]]:
        """One row per datapoint and proposal (for ``estimates.csv`` and the k-hat figure)."""
        rows = []
        for name, res in self.results.items():
            for i in range(res.estimate.shape[0]):
                row = {
                    "index": i,
                    "proposal": name,
                    "estimate": res.estimate[i],
                    "standard_error": res.standard_error[i],
                    "ess": res.ess[i],
                    "khat": res.khat[i],
                    "elbo": res.mean_log_weight[i],
                }
                if self.exact is not None:
                    row["exact"] = self.exact[i]
                rows.append(row)
        return rows


def evaluate_log_likelihood(
    vae: VAE,
    x: torch.Tensor,
    num_samples: int,
    proposals: Sequence[Proposal] = ("guide",),
    seed: int = 0,
    batch_size: int = _BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> Evaluation:
    """Estimate log P(x) for every datapoint with each proposal; add the exact value if known.

    Each proposal starts from ``torch.manual_seed(seed)``, so a result is reproducible on its
    own. With ``dtype=torch.float64`` the model is evaluated in double precision (a copy; the
    caller's model is left as it was).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> x = torch.bernoulli(torch.full((5, 4), 0.5))
        >>> ev = evaluate_log_likelihood(vae, x, 100, proposals=("guide", "prior"))
        >>> sorted(ev.summary()["proposals"])
        ['guide', 'prior']
    """
    if dtype == torch.float64:
        vae = copy.deepcopy(vae).double()
    results, seconds = {}, {}
    for proposal in proposals:
        torch.manual_seed(seed)
        start = time.perf_counter()
        results[proposal] = estimate_dataset(
            vae.model, vae.guide, x, num_samples, proposal, batch_size, dtype, progress
        )
        seconds[proposal] = time.perf_counter() - start
    return Evaluation(results, exact_log_likelihood(vae, x), seconds, seed)


def compare_estimators(
    vae: VAE,
    x: torch.Tensor,
    ks: Iterable[int],
    proposals: Sequence[Proposal] = PROPOSALS,
    seed: int = 0,
    batch_size: int = _BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Both estimators against K: one row per (K, proposal) with its standard errors.

    Columns: ``num_samples``, ``proposal``, ``log_likelihood`` (mean over datapoints),
    ``mc_standard_error``, ``data_standard_error``, ``elbo``, ``mean_ess``, ``bad_khat_share``,
    ``mean_khat``, ``seconds`` and, when the model has a closed form, ``exact_log_likelihood``.
    Every K is an independent run (no reuse of samples across K).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> rows = compare_estimators(vae, torch.ones(5, 4), ks=[1, 10])
        >>> [(r["num_samples"], r["proposal"]) for r in rows]
        [(1, 'guide'), (1, 'prior'), (10, 'guide'), (10, 'prior')]
    """
    rows = []
    exact = None
    for k in ks:
        ev = evaluate_log_likelihood(vae, x, k, proposals, seed, batch_size, dtype, progress)
        exact = ev.exact
        for proposal, res in ev.results.items():
            s = res.summary()
            row = {
                "num_samples": k,
                "proposal": proposal,
                **{
                    name: s[name]
                    for name in (
                        "log_likelihood",
                        "mc_standard_error",
                        "data_standard_error",
                        "elbo",
                        "mean_ess",
                        "bad_khat_share",
                        "mean_khat",
                    )
                },
                "seconds": ev.seconds[proposal],
            }
            if exact is not None:
                row["exact_log_likelihood"] = float(exact.mean())
            rows.append(row)
    return rows
