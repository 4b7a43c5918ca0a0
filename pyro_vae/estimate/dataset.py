"""log P(X) of a whole data set: every estimator over many datapoints, and the ELBO.

For a model and data in hand (no run directory): :func:`estimate_dataset` runs
:func:`pyro_vae.estimate.importance.log_likelihood` or AIS over a data set in batches of
datapoints (memory stays bounded by the batch and the chunk of K, never by the data set);
:func:`evaluate_log_likelihood` does it for each requested proposal and adds the exact value when
the model has one (:class:`pyro_vae.models.exact.LinearGaussianVAE`); :func:`compare_estimators`
repeats it over a list of K, the data behind the convergence figure; :func:`evaluate_elbo` is the
single-sample ELBO that training reports every epoch. Every datapoint draws from its own random
stream, and under torchrun every process takes its share of the points
(:class:`pyro_vae.hardware.parallel.Workers`), so results do not depend on how the work is split.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from pyro_vae.estimate.ais import AISLikelihood, annealed_importance_sampling
from pyro_vae.estimate.compiled_potential import CompiledPotential
from pyro_vae.estimate.compiled_weights import CompiledWeights
from pyro_vae.estimate.importance import (
    Discrete,
    LogLikelihood,
    Proposal,
    elbo_terms,
    log_likelihood,
)
from pyro_vae.hardware.devices import device_of
from pyro_vae.hardware.parallel import SharedNoise, Workers, noise_seed
from pyro_vae.models.exact import LinearGaussianVAE
from pyro_vae.models.vae import VAE
from pyro_vae.progress import progress as reported

__all__ = [
    "BATCH_SIZE",
    "CLASS_STREAM",
    "ELBO_STREAM",
    "PROPOSALS",
    "STREAMS",
    "Evaluation",
    "Method",
    "compare_estimators",
    "estimate_dataset",
    "evaluate_elbo",
    "evaluate_log_likelihood",
    "exact_log_likelihood",
]

PROPOSALS: tuple[Proposal, ...] = ("guide", "prior")
#: Datapoints per pass of the estimators by default (memory grows with it, not with K).
BATCH_SIZE = 100
#: What evaluate can run: importance sampling with the guide or the prior, or AIS;
#: ``"guide-drawn"`` is the guide with its enumerated discrete sites drawn, not summed.
Method = Literal["guide", "guide-drawn", "prior", "ais"]
_ELBO_BATCH = 1000


def estimate_dataset(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num_samples: int,
    *,
    args: Sequence[torch.Tensor | None] = (),
    proposal: Method = "guide",
    discrete: Discrete = "sum",
    batch_size: int = BATCH_SIZE,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    first: int = 0,
    compile: bool = False,
) -> LogLikelihood:
    """Per-datapoint log P(X) estimates for every row of ``x``, ``batch_size`` rows at a time.

    With ``seed``, every datapoint draws from its own random stream, keyed by ``seed`` and its
    index (``first`` is the index of ``x``'s first row): its estimate is then the same whatever
    the other rows, the batch size or the number of processes. Importance sampling and naive
    Monte Carlo then take one datapoint per pass (all K samples of it at once); AIS keeps its
    batches and gives each datapoint's chains their own generator. Without ``seed`` the batches
    draw from torch's stream.

    Args:
        model: the Pyro model (site convention of :mod:`pyro_vae.estimate.importance`).
        guide: the Pyro guide; unused (may be ``None``) for ``proposal="prior"``.
        x: the data set, ``[N, ...]``.
        num_samples: K per datapoint.
        args: further arguments of model and guide (labels, conditions), each ``[N, ...]``
            and batched with ``x``, or ``None``.
        proposal: ``"guide"``, ``"guide-drawn"`` (the guide with its enumerated discrete sites
            drawn, not summed), ``"prior"`` or ``"ais"`` (annealed importance sampling; then
            ``num_samples`` is ignored and ``ais`` holds the options of
            :func:`pyro_vae.estimate.ais.annealed_importance_sampling`, ``num_chains`` included).
        discrete: sites marked for enumeration are summed (``"sum"``) or drawn (``"sample"``)
            by importance sampling (:func:`~pyro_vae.estimate.importance.log_likelihood`);
            AIS always sums them.
        batch_size: datapoints per call to :func:`~pyro_vae.estimate.importance.log_likelihood`.
        dtype: dtype of the data passed to the model.
        progress: show a progress bar.
        ais: options of the AIS estimator.
        device: where the model lives: each batch of ``x`` is moved there (``None``: left
            where it is).
        seed: key of the datapoints' own random streams (see above).
        first: the index of ``x``'s first row in the data set.
        compile: compute the importance weights
            (:class:`~pyro_vae.estimate.compiled_weights.CompiledWeights`), or AIS's
            leapfrog potential (:class:`~pyro_vae.estimate.compiled_potential.CompiledPotential`),
            with ``torch.compile``: the same estimates to float rounding, faster once compiled.

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
    for i, arg in enumerate(args):
        if arg is not None and arg.shape[0] != x.shape[0]:
            raise ValueError(f"extra argument {i} has {arg.shape[0]} rows, the data {x.shape[0]}")

    def rows(start: int) -> torch.Tensor:
        chunk = x[start : start + batch_size]
        return chunk if device is None else chunk.to(device)

    def arg_rows(start: int) -> tuple[torch.Tensor | None, ...]:
        chunks = (None if a is None else a[start : start + batch_size] for a in args)
        return tuple(c if c is None or device is None else c.to(device) for c in chunks)

    keys = None if seed is None else [noise_seed(seed, first + i) for i in range(x.shape[0])]
    if proposal == "ais":
        potential = CompiledPotential(model, guide) if compile else None
        chunks = [
            annealed_importance_sampling(
                model,
                guide,
                rows(s),
                args=arg_rows(s),
                dtype=dtype,
                keys=None if keys is None else keys[s : s + batch_size],
                compiled=potential,
                **ais or {},
            )
            for s in reported(
                starts, total=len(starts), what="AIS", unit="batches", enabled=progress
            )
        ]
        return AISLikelihood.concat(chunks)
    drawn = proposal == "guide-drawn"
    if drawn:
        proposal, discrete = "guide", "sample"
    if keys is not None:  # one datapoint per pass, from its own stream
        starts, batch_size = range(x.shape[0]), 1
    compiled = CompiledWeights(model, guide) if compile else None
    parts = []
    what = f"{proposal} K={num_samples}"
    for s in reported(starts, total=len(starts), what=what, unit="passes", enabled=progress):
        if keys is not None:
            torch.manual_seed(keys[s])
        parts.append(
            log_likelihood(
                model,
                guide,
                rows(s),
                num_samples,
                args=arg_rows(s),
                proposal=proposal,
                discrete=discrete,
                dtype=dtype,
                compiled=compiled,
            )
        )
    joined = LogLikelihood.concat(parts)
    return dataclasses.replace(joined, proposal="guide-drawn") if drawn else joined


#: Each estimator's own random streams (keyed under the caller's seed); a caller that draws more
#: takes another key: the ELBO of an evaluated run, the classes of a model with a class.
STREAMS = {"guide": 0, "prior": 1, "ais": 2, "guide-drawn": 4}
ELBO_STREAM, CLASS_STREAM = 3, 5


def evaluate_elbo(
    vae: VAE,
    x: torch.Tensor,
    batch_size: int = _ELBO_BATCH,
    *,
    seed: int | None = None,
    workers: Workers | None = None,
) -> dict[str, float]:
    """Mean ELBO, reconstruction and KL terms per datapoint over ``x`` (one sample of z each).

    Each batch of ``x`` draws its noise for all its rows
    (:class:`~pyro_vae.hardware.parallel.SharedNoise`) from the seed ``seed`` and the batch's index
    (or from torch's stream when ``seed`` is ``None``); with ``workers``, every process scores its
    share of each batch and the sums are added up, so the result is the same with any number of
    processes.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> sorted(evaluate_elbo(vae, torch.ones(5, 4)))
        ['elbo', 'kl', 'reconstruction']
    """
    workers = workers or Workers()
    device = device_of(vae)
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    for index, first in enumerate(range(0, x.shape[0], batch_size)):
        batch = x[first : first + batch_size]
        start, end = workers.bounds(batch.shape[0])
        if seed is not None:
            torch.manual_seed(noise_seed(seed, index))
        if end > start:
            guide = SharedNoise(batch.shape[0], start)(vae.guide)
            terms = elbo_terms(vae.model, guide, batch[start:end].to(device))
            parts = [terms.elbo, terms.reconstruction, terms.kl]
            totals += torch.stack([t.double().sum() for t in parts])
    elbo, reconstruction, kl = (workers.sum(totals) / x.shape[0]).tolist()
    return {"elbo": elbo, "reconstruction": reconstruction, "kl": kl}


def exact_log_likelihood(vae: VAE, x: torch.Tensor) -> np.ndarray | None:
    """The closed-form log P(x) per datapoint when the model has one, else ``None``.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> exact_log_likelihood(vae, torch.ones(3, 4)) is None
        True
    """
    if isinstance(vae, LinearGaussianVAE):
        return vae.exact_log_likelihood(x.to(device_of(vae))).double().cpu().numpy()
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
        """One row per datapoint and proposal (for ``estimates.csv`` and the k-hat figure).

        ``se_reliable`` is 1 where the point's standard error can be trusted, else 0.
        """
        rows = []
        for name, res in self.results.items():
            se_reliable = res.se_reliable
            for i in range(res.estimate.shape[0]):
                row = {
                    "index": i,
                    "proposal": name,
                    "estimate": res.estimate[i],
                    "standard_error": res.standard_error[i],
                    "ess": res.ess[i],
                    "khat": res.khat[i],
                    "se_reliable": int(se_reliable[i]),
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
    *,
    args: Sequence[torch.Tensor | None] = (),
    proposals: Sequence[Method] = ("guide",),
    discrete: Discrete = "sum",
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    workers: Workers | None = None,
    compile: bool | Collection[str] = False,
) -> Evaluation:
    """Estimate log P(x) for every datapoint with each proposal; add the exact value if known.

    Each datapoint draws from its own random stream, keyed by ``seed``, the proposal and its
    index in ``x`` (:func:`estimate_dataset`): its estimate does not depend on the batch size,
    on the other points evaluated or on how many processes share the work. With ``workers``
    (under torchrun) every process estimates its share of the points and every process gets
    all the results. With ``dtype=torch.float64`` the model is evaluated in double precision
    (a copy; the caller's model is left as it was). ``"ais"`` among the proposals runs
    annealed importance sampling with the options ``ais`` (see :func:`estimate_dataset`).
    ``args`` (labels, conditions: ``[N, ...]`` each) are split between processes with ``x``.
    ``compile=True`` computes every proposal's weights (AIS: its leapfrog potential) with
    ``torch.compile`` (:func:`estimate_dataset`); a collection of proposals compiles those.

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
    workers = workers or Workers()
    first, last = workers.bounds(x.shape[0])
    results, seconds = {}, {}
    for proposal in proposals:
        start = time.perf_counter()
        part = None
        if last > first:  # more processes than points leaves some without any
            part = estimate_dataset(
                vae.model,
                vae.guide,
                x[first:last],
                num_samples,
                args=tuple(None if a is None else a[first:last] for a in args),
                proposal=proposal,
                discrete=discrete,
                batch_size=batch_size,
                dtype=dtype,
                progress=progress and workers.main,
                ais=ais,
                device=device_of(vae),
                seed=noise_seed(seed, STREAMS[proposal]),
                first=first,
                compile=compile is True or (compile is not False and proposal in compile),
            )
        parts = [p for p in workers.gather(part) if p is not None]
        results[proposal] = type(parts[0]).concat(parts)
        seconds[proposal] = workers.max(time.perf_counter() - start)
    return Evaluation(results, exact_log_likelihood(vae, x), seconds, seed)


def compare_estimators(
    vae: VAE,
    x: torch.Tensor,
    ks: Iterable[int],
    *,
    proposals: Sequence[Method] = PROPOSALS,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    workers: Workers | None = None,
) -> list[dict[str, Any]]:
    """The estimators against K: one row per (K, proposal) with its standard errors, and AIS.

    Columns: ``num_samples``, ``proposal``, ``log_likelihood`` (mean over datapoints),
    ``mc_standard_error``, ``data_standard_error``, ``elbo``, ``mean_ess``, ``bad_khat_share``,
    ``mean_khat``, ``unreliable_share``, ``reliable`` (1 or 0; empty for AIS, whose few chains
    fit no k-hat), ``seconds``, ``num_steps`` (T of AIS, 0 for the others) and, when the model
    has a closed form, ``exact_log_likelihood``. Every K is an independent run (no
    reuse of samples across K). With ``"ais"`` among the proposals, one AIS row follows per
    schedule length: ``ais`` holds the options of
    :func:`pyro_vae.estimate.ais.annealed_importance_sampling`, its ``num_steps`` one T or a list of
    them; an AIS row's ``num_samples`` is its chains.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
        >>> rows = compare_estimators(vae, torch.ones(5, 4), ks=[1, 10])
        >>> [(r["num_samples"], r["proposal"]) for r in rows]
        [(1, 'guide'), (1, 'prior'), (10, 'guide'), (10, 'prior')]
    """
    options = dict(ais or {})
    steps = options.pop("num_steps", 1000)
    runs: list[tuple[int, Sequence[Method], dict[str, Any] | None]] = []
    sampling = tuple(p for p in proposals if p != "ais")
    if sampling:
        runs += [(k, sampling, None) for k in ks]
    if "ais" in proposals:
        chains = int(options.get("num_chains", 16))
        schedule = [steps] if isinstance(steps, int) else list(steps)
        runs += [(chains, ("ais",), {**options, "num_steps": t}) for t in schedule]
    rows = []
    for k, chosen, ais_options in runs:
        ev = evaluate_log_likelihood(
            vae,
            x,
            k,
            proposals=chosen,
            seed=seed,
            batch_size=batch_size,
            dtype=dtype,
            progress=progress,
            ais=ais_options,
            workers=workers,
        )
        for proposal, res in ev.results.items():
            s = res.summary()
            row = {
                "num_samples": k,
                "proposal": proposal,
                **{name: s[name] for name in _COMPARED},
                "reliable": "" if s["reliable"] is None else int(s["reliable"]),
                "seconds": ev.seconds[proposal],
                "num_steps": s.get("num_steps", 0),
            }
            if ev.exact is not None:
                row["exact_log_likelihood"] = float(ev.exact.mean())
            rows.append(row)
    return rows


_COMPARED = (
    "log_likelihood",
    "mc_standard_error",
    "data_standard_error",
    "elbo",
    "mean_ess",
    "bad_khat_share",
    "mean_khat",
    "unreliable_share",
)
