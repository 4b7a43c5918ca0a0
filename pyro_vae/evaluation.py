"""Evaluating a trained model: log P(X) with both proposals side by side, and the ELBO.

:func:`evaluate_run` evaluates a run directory as ``pyro-vae evaluate`` does -- on the run's
test data or other data, with each requested proposal -- and writes the results into the run
directory; :func:`compare_run` does what ``pyro-vae compare-estimators`` does. Below them, for
a model and data in hand: :func:`estimate_dataset` runs
:func:`pyro_vae.estimators.log_likelihood` over a data set in batches of datapoints (memory stays
bounded by the batch and the chunk of K, never by the data set); :func:`evaluate_log_likelihood`
does it for each requested proposal and adds the exact value when the model has one
(:class:`pyro_vae.exact.LinearGaussianVAE`); :func:`compare_estimators` repeats it over a list
of K, the data behind the convergence figure; :func:`evaluate_elbo` is the single-sample ELBO
that training reports every epoch.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm  # text bars: shown only on a terminal, so no widget dependency

from pyro_vae.ais import AISLikelihood, annealed_importance_sampling
from pyro_vae.contracts import support_of
from pyro_vae.data import DataSplits, load_data
from pyro_vae.devices import device_of, resolve_device
from pyro_vae.diagnostics import reliability_warnings
from pyro_vae.errors import InputError, setting
from pyro_vae.estimators import LogLikelihood, Proposal, elbo_terms, log_likelihood
from pyro_vae.exact import LinearGaussianVAE
from pyro_vae.parallel import SharedNoise, Workers, noise_seed, running
from pyro_vae.rundir import (
    Run,
    as_run,
    check_replaceable,
    comparison_path,
    evaluation_path,
    write_comparison,
    write_evaluation,
)
from pyro_vae.vae import VAE

__all__ = [
    "DATA_SETTINGS",
    "PROPOSALS",
    "Evaluation",
    "RunComparison",
    "RunEvaluation",
    "compare_estimators",
    "compare_run",
    "estimate_dataset",
    "evaluate_elbo",
    "evaluate_log_likelihood",
    "evaluate_run",
    "exact_log_likelihood",
    "run_test_data",
]

PROPOSALS: tuple[Proposal, ...] = ("guide", "prior")
_BATCH = 100
#: What evaluate can run: importance sampling with the guide or the prior, or AIS.
Method = Literal["guide", "prior", "ais"]
_ELBO_BATCH = 1000
#: Settings of a run's data that an evaluation may point elsewhere.
DATA_SETTINGS = ("dataset", "data_dir", "data_file")


def estimate_dataset(
    model: Callable[..., Any],
    guide: Callable[..., Any] | None,
    x: torch.Tensor,
    num_samples: int,
    *,
    proposal: Method = "guide",
    batch_size: int = _BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    first: int = 0,
) -> LogLikelihood:
    """Per-datapoint log P(X) estimates for every row of ``x``, ``batch_size`` rows at a time.

    With ``seed``, every datapoint draws from its own random stream, keyed by ``seed`` and its
    index (``first`` is the index of ``x``'s first row): its estimate is then the same whatever
    the other rows, the batch size or the number of processes. Importance sampling and naive
    Monte Carlo then take one datapoint per pass (all K samples of it at once); AIS keeps its
    batches and gives each datapoint's chains their own generator. Without ``seed`` the batches
    draw from torch's stream.

    Args:
        model: the Pyro model (site convention of :mod:`pyro_vae.estimators`).
        guide: the Pyro guide; unused (may be ``None``) for ``proposal="prior"``.
        x: the data set, ``[N, ...]``.
        num_samples: K per datapoint.
        proposal: ``"guide"``, ``"prior"`` or ``"ais"`` (annealed importance sampling; then
            ``num_samples`` is ignored and ``ais`` holds the options of
            :func:`pyro_vae.ais.annealed_importance_sampling`, ``num_chains`` included).
        batch_size: datapoints per call to :func:`~pyro_vae.estimators.log_likelihood`.
        dtype: dtype of the data passed to the model.
        progress: show a progress bar.
        ais: options of the AIS estimator.
        device: where the model lives: each batch of ``x`` is moved there (``None``: left
            where it is).
        seed: key of the datapoints' own random streams (see above).
        first: the index of ``x``'s first row in the data set.

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

    def rows(start: int) -> torch.Tensor:
        chunk = x[start : start + batch_size]
        return chunk if device is None else chunk.to(device)

    keys = None if seed is None else [noise_seed(seed, first + i) for i in range(x.shape[0])]
    if proposal == "ais":
        chunks = [
            annealed_importance_sampling(
                model,
                guide,
                rows(s),
                dtype=dtype,
                keys=None if keys is None else keys[s : s + batch_size],
                **ais or {},
            )
            for s in tqdm(starts, desc="AIS", disable=not progress, leave=False)
        ]
        return AISLikelihood.concat(chunks)
    if keys is not None:  # one datapoint per pass, from its own stream
        starts, batch_size = range(x.shape[0]), 1
    parts = []
    for s in tqdm(starts, desc=f"{proposal} K={num_samples}", disable=not progress, leave=False):
        if keys is not None:
            torch.manual_seed(keys[s])
        parts.append(
            log_likelihood(model, guide, rows(s), num_samples, proposal=proposal, dtype=dtype)
        )
    return LogLikelihood.concat(parts)


_STREAMS = {"guide": 0, "prior": 1, "ais": 2}  # each estimator's own random streams


def evaluate_elbo(
    vae: VAE,
    x: torch.Tensor,
    batch_size: int = _ELBO_BATCH,
    *,
    seed: int | None = None,
    workers: Workers | None = None,
) -> dict[str, float]:
    """Mean ELBO, reconstruction and KL terms per datapoint over ``x`` (one sample of z each).

    Each batch of ``x`` draws its noise for all its rows (:class:`~pyro_vae.parallel.SharedNoise`)
    from the seed ``seed`` and the batch's index (or from torch's stream when ``seed`` is
    ``None``); with ``workers``, every process scores its share of each batch and the sums are
    added up, so the result is the same with any number of processes.

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
    proposals: Sequence[Method] = ("guide",),
    seed: int = 0,
    batch_size: int = _BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    workers: Workers | None = None,
) -> Evaluation:
    """Estimate log P(x) for every datapoint with each proposal; add the exact value if known.

    Each datapoint draws from its own random stream, keyed by ``seed``, the proposal and its
    index in ``x`` (:func:`estimate_dataset`): its estimate does not depend on the batch size,
    on the other points evaluated or on how many processes share the work. With ``workers``
    (under torchrun) every process estimates its share of the points and every process gets
    all the results. With ``dtype=torch.float64`` the model is evaluated in double precision
    (a copy; the caller's model is left as it was). ``"ais"`` among the proposals runs
    annealed importance sampling with the options ``ais`` (see :func:`estimate_dataset`).

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
                proposal=proposal,
                batch_size=batch_size,
                dtype=dtype,
                progress=progress and workers.main,
                ais=ais,
                device=device_of(vae),
                seed=noise_seed(seed, _STREAMS[proposal]),
                first=first,
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
    batch_size: int = _BATCH,
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
    schedule length: ``ais`` holds the options of :func:`pyro_vae.ais.annealed_importance_sampling`,
    its ``num_steps`` one T or a list of them; an AIS row's ``num_samples`` is its chains.

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


# ---------------------------------------------------------------------------------------------
# run directories


def run_test_data(run: Run, **changes: str | None) -> DataSplits:
    """The data a run is evaluated on: its own, or those ``changes`` point to.

    Args:
        run: a loaded run directory.
        **changes: ``dataset``, ``data_dir`` or ``data_file`` to read other data (of the same
            width) or the run's data from where they live now; ``None`` values are ignored.

    Raises:
        InputError: if the data cannot be loaded or do not fit the model.
    """
    unknown = sorted(set(changes) - set(DATA_SETTINGS))
    if unknown:
        raise TypeError(f"unknown data settings {unknown}: choose from {DATA_SETTINGS}")
    given = {k: v for k, v in changes.items() if v}
    if "dataset" in given:  # another data set: the run's own folder or file does not apply
        given = {"data_dir": None, "data_file": None, **given}
    config = run.config.replace(**given) if given else run.config
    splits = load_data(config, support_of(run.vae.likelihood))
    if splits.data_dim != run.data.data_dim:
        raise InputError(
            f"the run's model takes {run.data.data_dim} values per datapoint but the data have "
            f"{splits.data_dim}: point {setting('data_dir')} or {setting('data_file')} at the data "
            "it was trained on"
        )
    return splits


@dataclass(frozen=True)
class RunEvaluation:
    """What :func:`evaluate_run` measured.

    Attributes:
        run: the evaluated run.
        evaluation: the log P(X) estimates per proposal (and the exact value when known).
        elbo: the single-sample ELBO and its terms on the same points.
        summary: what ``evaluation.json`` holds.
        path: the file the summary was written to (``None`` with ``write=False``).
    """

    run: Run
    evaluation: Evaluation
    elbo: dict[str, float]
    summary: dict[str, Any]
    path: Path | None


@dataclass(frozen=True)
class RunComparison:
    """What :func:`compare_run` measured.

    Attributes:
        run: the evaluated run.
        rows: one row per K and proposal (:func:`compare_estimators`).
        path: the file they were written to.
        num_points: how many points were evaluated.
    """

    run: Run
    rows: list[dict[str, Any]]
    path: Path
    num_points: int


def _points(
    run: Run, x: torch.Tensor | None, limit: int | None, data: Mapping[str, str | None]
) -> torch.Tensor:
    if x is None:
        x = run_test_data(run, **data).test
    elif x.shape[-1] != run.data.data_dim:
        raise InputError(
            f"the run's model takes {run.data.data_dim} values per datapoint but x has "
            f"{x.shape[-1]}: pass data of the run's width"
        )
    return x if limit is None else x[:limit]


def evaluate_run(
    run: Run | str | Path,
    *,
    num_samples: int = 5000,
    proposals: Sequence[Method] = ("guide",),
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    limit: int | None = None,
    x: torch.Tensor | None = None,
    data: Mapping[str, str | None] | None = None,
    batch_size: int = _BATCH,
    write: bool = True,
    overwrite: bool = False,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    device: torch.device | str | None = "auto",
) -> RunEvaluation:
    """Estimate log P(X) of a run's test points and write the results into its directory.

    What ``pyro-vae evaluate`` does: each proposal's estimates with ``num_samples`` samples per
    point (seeded with ``seed``), the single-sample ELBO on the same points, the exact value when
    the model has one; ``evaluation.json`` and ``estimates.csv`` hold them.

    Args:
        run: a loaded :class:`~pyro_vae.rundir.Run` or a run directory (of registered parts;
            load a custom one with ``load_run(path, vae=...)`` and pass that).
        num_samples: K per point.
        proposals: ``"guide"`` (importance sampling), ``"prior"`` (naive Monte Carlo) or both.
        seed: the seed each proposal and the ELBO start from.
        dtype: ``torch.float64`` evaluates a double-precision copy of the model.
        limit: evaluate the first ``limit`` points only.
        x: points to evaluate instead of the run's test set, ``[N, data_dim]``.
        data: ``dataset``/``data_dir``/``data_file`` to read the test set from elsewhere.
        batch_size: points per pass (memory grows with it, not with K).
        write: write the files into the run directory.
        overwrite: replace an earlier evaluation of the run (else refused before any work).
        progress: show a progress bar.
        ais: options of :func:`pyro_vae.ais.annealed_importance_sampling` for ``"ais"``.
        device: where to evaluate (:func:`pyro_vae.devices.resolve_device`); the run's model
            is moved there.

    Returns:
        A :class:`RunEvaluation`.

    Example:
        >>> ev = evaluate_run("runs/digits", num_samples=1000, limit=50)  # doctest: +SKIP
        >>> ev.summary["proposals"]["guide"]["nll"]  # doctest: +SKIP
        21.7
    """
    target = resolve_device(device)  # a bad device is refused before anything is read
    run = as_run(run)
    points = _points(run, x, limit, data or {})
    if write:  # refused before any work, but after the data's own errors
        check_replaceable(evaluation_path(run.path), overwrite, "evaluation")
    with running(target) as (workers, target):
        run.vae.to(target)
        evaluation = evaluate_log_likelihood(
            run.vae,
            points,
            num_samples,
            proposals=proposals,
            seed=seed,
            batch_size=batch_size,
            dtype=dtype,
            progress=progress,
            ais=ais,
            workers=workers,
        )
        elbo = evaluate_elbo(run.vae, points, seed=noise_seed(seed, len(_STREAMS)), workers=workers)
    summary = {
        **evaluation.summary(),
        "test_elbo": elbo["elbo"],
        "test_reconstruction": elbo["reconstruction"],
        "test_kl": elbo["kl"],
        "warnings": reliability_warnings(evaluation.results.values()),
    }
    write = write and workers.main  # rank 0 alone writes
    path = write_evaluation(run.path, summary, evaluation.per_point_rows()) if write else None
    return RunEvaluation(run, evaluation, elbo, summary, path)


def compare_run(
    run: Run | str | Path,
    *,
    ks: Iterable[int] = (1, 10, 100, 1000, 5000),
    proposals: Sequence[Method] = PROPOSALS,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    limit: int | None = None,
    x: torch.Tensor | None = None,
    data: Mapping[str, str | None] | None = None,
    batch_size: int = _BATCH,
    output: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    device: torch.device | str | None = "auto",
) -> RunComparison:
    """Both estimators against K on a run's test points (:func:`compare_estimators`), written.

    What ``pyro-vae compare-estimators`` does. The arguments are those of :func:`evaluate_run`,
    with ``ks`` in place of ``num_samples`` and ``ais`` as in :func:`compare_estimators` (its
    ``num_steps`` one T or a list); ``output`` is a ``.csv`` file to write instead of the run
    directory's own; an existing file is replaced only with ``overwrite=True``; ``device`` as in
    :func:`evaluate_run`.

    Returns:
        A :class:`RunComparison`: the rows (one per K and proposal) and where they went.

    Example:
        >>> cmp = compare_run("runs/digits", ks=[10, 100], limit=50)  # doctest: +SKIP
        >>> [(r["num_samples"], r["proposal"]) for r in cmp.rows][:2]  # doctest: +SKIP
        [(10, 'guide'), (10, 'prior')]
    """
    where = resolve_device(device)  # a bad device is refused before anything is read
    run = as_run(run)
    points = _points(run, x, limit, data or {})
    target = comparison_path(Path(output) if output else run.path)
    check_replaceable(target, overwrite, "comparison")
    with running(where) as (workers, where):
        run.vae.to(where)
        rows = compare_estimators(
            run.vae,
            points,
            sorted(set(ks)),
            proposals=proposals,
            seed=seed,
            batch_size=batch_size,
            dtype=dtype,
            progress=progress,
            ais=ais,
            workers=workers,
        )
    path = write_comparison(target, rows) if workers.main else target  # rank 0 alone writes
    return RunComparison(run, rows, path, int(points.shape[0]))
