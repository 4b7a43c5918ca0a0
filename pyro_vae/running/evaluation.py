"""Evaluating a run directory: log P(X) of its test data, the estimators against K, and BDMC.

What ``pyro-vae evaluate``, ``compare-estimators`` and ``bdmc`` do. Each function loads a run (or
takes a loaded one), checks that its results may be written before any work, runs the
estimators of :mod:`pyro_vae.estimate` on one device or on every process under torchrun, and
writes the results into the run directory from rank 0 alone (:mod:`pyro_vae.storage.rundir`):
:func:`evaluate_run` (``evaluation.json``, ``estimates.csv``), :func:`compare_run`
(``comparison.csv``), :func:`bdmc_run` (``bdmc.csv``). A run is evaluated on the data
:meth:`~pyro_vae.storage.rundir.Run.load_data` reads.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch

from pyro_vae.config import MAX_SEED
from pyro_vae.data.batches import dequantize_fixed
from pyro_vae.data.splits import check_data
from pyro_vae.errors import InputError
from pyro_vae.estimate.ais import AISLikelihood, gradient_evaluations
from pyro_vae.estimate.bdmc import Sandwich, bidirectional_monte_carlo, simulate
from pyro_vae.estimate.compiled_potential import TORCH_COMPILE_MIN_GRADIENTS
from pyro_vae.estimate.compiled_weights import use_compile
from pyro_vae.estimate.dataset import (
    BATCH_SIZE,
    CLASS_STREAM,
    ELBO_STREAM,
    PROPOSALS,
    Evaluation,
    Method,
    compare_estimators,
    evaluate_elbo,
    evaluate_log_likelihood,
)
from pyro_vae.estimate.diagnostics import reliability_warnings
from pyro_vae.hardware.devices import device_of, resolve_device
from pyro_vae.hardware.parallel import Workers, noise_seed, running
from pyro_vae.models.cvae import ConditionalVAE
from pyro_vae.models.m2 import SemiSupervisedVAE
from pyro_vae.parts.contracts import support_of
from pyro_vae.running.baseline import baseline_nll
from pyro_vae.storage.rundata import DATA_SETTINGS
from pyro_vae.storage.rundir import (
    BDMC_FILE,
    Run,
    as_run,
    check_replaceable,
    comparison_path,
    kept_proposals,
    read_metrics,
    write_bdmc,
    write_comparison,
    write_evaluation,
)

__all__ = [
    "DATA_SETTINGS",
    "RunComparison",
    "RunEvaluation",
    "bdmc_run",
    "bits_per_dim",
    "compare_run",
    "evaluate_run",
]


@dataclass(frozen=True)
class RunEvaluation:
    """What :func:`evaluate_run` measured.

    Attributes:
        run: the evaluated run.
        evaluation: the log P(X) estimates per proposal (and the exact value when known).
        elbo: the single-sample ELBO and its terms on the same points.
        summary: this evaluation's summary (``evaluation.json`` adds the kept proposals').
        path: the file the summary was written to (``None`` with ``write=False``).
        kept: the proposals of an earlier evaluation of the same points that the run
            directory keeps beside these (:func:`pyro_vae.storage.rundir.kept_proposals`).
    """

    run: Run
    evaluation: Evaluation
    elbo: dict[str, float]
    summary: dict[str, Any]
    path: Path | None
    kept: tuple[str, ...] = ()


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


#: the names ``proposals`` may hold
METHODS: tuple[str, ...] = get_args(Method)


def _check_options(
    counts: Sequence[int],
    proposals: Sequence[str],
    seed: int,
    limit: int | None,
    batch_size: int,
    *,
    name: str = "num_samples",
) -> None:
    """Refuse, naming the argument, what the command line could never pass to the estimators."""
    if isinstance(proposals, str) or not all(p in METHODS for p in proposals) or not proposals:
        raise InputError(
            f"proposals must be a sequence of {', '.join(METHODS)}, got {proposals!r}: pass "
            "e.g. proposals=('guide',)"
        )
    numbers = [(name, k, 1) for k in counts] + [("batch_size", batch_size, 1), ("seed", seed, 0)]
    numbers += [] if limit is None else [("limit", limit, 1)]
    for what, value, least in numbers:
        integral = isinstance(value, int) and not isinstance(value, bool)
        if not integral or value < least or (what == "seed" and value > MAX_SEED):
            most = f" to {MAX_SEED}" if what == "seed" else ""
            raise InputError(
                f"{what} must be an integer from {least}{most}, got {value!r}: pass e.g. "
                f"{what}={least}"
            )


def _fingerprint(points: torch.Tensor) -> str:
    """A digest of the evaluated points: evaluations of the same points accumulate."""
    data = points.detach().to("cpu", torch.float64).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def _points(
    run: Run, x: torch.Tensor | None, limit: int | None, data: Mapping[str, str | None]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The points to evaluate and, for the run's own test set, their labels (or ``None``)."""
    labels = None
    if x is None:
        splits = run.load_data(**data)
        x, labels = splits.test, splits.y_test
    elif x.shape[-1] != run.data.data_dim:
        raise InputError(
            f"the run's model takes {run.data.data_dim} values per datapoint but x has "
            f"{x.shape[-1]}: pass data of the run's width"
        )
    else:  # checked as the run's own data were when they were loaded
        width = run.data.data_dim - run.data.condition_dim
        if x.dtype not in (torch.float32, torch.float64):
            raise InputError(
                f"x holds {str(x.dtype).removeprefix('torch.')} values: pass float32 or float64 "
                "data scaled as the run's were (pixel levels: x.float() / 255)"
            )
        support = support_of(run.vae.likelihood)
        check_data(x[..., :width], support, binarize=False, what="x", bits=run.config.data_bits)
        if run.data.dequantize_bits:  # given as pixel levels, scored as the run's data were
            x = dequantize_fixed(x, run.data.dequantize_bits, columns=width)
    if limit is not None:
        x, labels = x[:limit], None if labels is None else labels[:limit]
    return x, labels


def _class_scores(
    run: Run,
    points: torch.Tensor,
    labels: torch.Tensor | None,
    num_samples: int,
    seed: int,
    batch_size: int,
    dtype: torch.dtype,
    workers: Workers,
) -> dict[str, float]:
    """For a model with a class (M2) on labelled points: its two classifiers and log P(x, y).

    Q(y|x) is the guide's classifier; the model's own Bayes classifier is argmax_y P(y) P(x|y),
    with log P(x, y) estimated by importance sampling (K samples) for every class, the class
    observed. The same estimates at the true labels give log P(x, y). Empty for other models.
    """
    vae = run.vae
    if not isinstance(vae, SemiSupervisedVAE) or labels is None:
        return {}
    n = points.shape[0]
    by_class = np.stack(
        [
            evaluate_log_likelihood(
                vae,
                points,
                num_samples,
                args=(torch.full((n,), c, dtype=torch.long),),
                seed=noise_seed(seed, CLASS_STREAM, c),
                batch_size=batch_size,
                dtype=dtype,
                workers=workers,
            )
            .results["guide"]
            .estimate
            for c in range(vae.num_classes)
        ],
        1,
    )
    truth = labels.numpy()
    classifier = torch.cat([vae.classify(points[i : i + 1000]).cpu() for i in range(0, n, 1000)])
    return {
        "num_labelled": n,
        "classifier_error": float(np.mean(classifier.numpy() != truth)),
        "bayes_error": float(np.mean(by_class.argmax(1) != truth)),
        "log_p_x_y": float(np.mean(by_class[np.arange(n), truth])),
    }


def _baseline_score(run: Run, points: torch.Tensor) -> dict[str, float]:
    """For a CVAE with a baseline: the baseline's exact -log P(Y|X), mean and data SE."""
    vae = run.vae
    if not isinstance(vae, ConditionalVAE) or vae.baseline is None:
        return {}
    nll = baseline_nll(vae.baseline, points).double()
    se = float(nll.std() / len(nll) ** 0.5) if len(nll) > 1 else float("nan")
    return {"nll": float(nll.mean()), "data_standard_error": se}


def _bits(run: Run) -> tuple[float, float] | None:
    """How a run's NLL in nats becomes bits per dimension: ``bpd = nll * a + b``.

    a = 1 / (D ln 2) for D values per datapoint (the target's, for a conditional model); b is 0
    for a likelihood of discrete pixels and the bits per pixel for a dequantized density (its
    NLL plus D ln 2**bits bounds the discrete images' NLL). ``None`` for any other run: a
    density's NLL on grey levels is no probability of the data.
    """
    dequantized = run.data.dequantize_bits
    if support_of(run.vae.likelihood) != "discrete" and not dequantized:
        return None
    return 1.0 / ((run.data.data_dim - run.data.condition_dim) * math.log(2)), float(dequantized)


def bits_per_dim(run: Run, summary: Mapping[str, Any]) -> dict[str, Any]:
    """Bits per dimension beside the nats of an evaluation (:func:`_bits`); else empty.

    For a dequantized run they bound the discrete images' bits per dimension from above
    (``"bound": True``); for a likelihood of discrete pixels they are its own.
    """
    bits = _bits(run)
    if bits is None:
        return {}
    per_nat, offset = bits
    out: dict[str, Any] = {
        "dims": run.data.data_dim - run.data.condition_dim,
        "bound": offset > 0,
        "offset": offset,
        "proposals": {
            name: s["nll"] * per_nat + offset for name, s in summary["proposals"].items()
        },
        "elbo": -summary["test_elbo"] * per_nat + offset,
    }
    if "exact_nll" in summary:
        out["exact"] = summary["exact_nll"] * per_nat + offset
    return out


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
    batch_size: int = BATCH_SIZE,
    write: bool = True,
    overwrite: bool = False,
    progress: bool = False,
    ais: Mapping[str, Any] | None = None,
    device: torch.device | str | None = "auto",
    compile: str = "auto",
) -> RunEvaluation:
    """Estimate log P(X) of a run's test points and write the results into its directory.

    What ``pyro-vae evaluate`` does: each proposal's estimates with ``num_samples`` samples per
    point (seeded with ``seed``), the single-sample ELBO on the same points, the exact value when
    the model has one; ``evaluation.json`` and ``estimates.csv`` hold them. For a CVAE with a
    baseline network the summary's ``baseline`` is that network's exact -log P(Y|X) on the same
    points; for a likelihood of discrete pixels, ``bits_per_dim`` has every NLL in bits per
    dimension (:func:`bits_per_dim`). For a model with a class (M2) on its labelled test set,
    the summary's ``classes`` adds the error of Q(y|x), the error of the model's Bayes
    classifier and the mean log P(x, y) (:func:`_class_scores`; it estimates log P(x, y) for
    every class, so it costs as many estimates as there are classes).

    Args:
        run: a loaded :class:`~pyro_vae.storage.rundir.Run` or a run directory (of registered parts;
            load a custom one with ``load_run(path, vae=...)`` and pass that).
        num_samples: K per point.
        proposals: ``"guide"`` (importance sampling), ``"guide-drawn"`` (the same with discrete
            latents drawn, not summed), ``"prior"`` (naive Monte Carlo), ``"ais"``.
        seed: the seed each proposal and the ELBO start from.
        dtype: ``torch.float64`` evaluates a double-precision copy of the model.
        limit: evaluate the first ``limit`` points only.
        x: points to evaluate instead of the run's test set, ``[N, data_dim]``.
        data: ``dataset``/``data_dir``/``data_file`` to read the test set from elsewhere.
        batch_size: points per pass (memory grows with it, not with K).
        write: write the files into the run directory.
        overwrite: replace an earlier evaluation of the run (else refused before any work).
        progress: show a progress bar.
        ais: options of :func:`pyro_vae.estimate.ais.annealed_importance_sampling` for ``"ais"``.
        device: where to evaluate (:func:`pyro_vae.hardware.devices.resolve_device`); the
            run's model is moved there.
        compile: compute the importance weights and AIS's leapfrog potential with
            ``torch.compile``: ``torch``, ``off`` or ``auto`` (each proposal whose work repays
            the compile: :func:`pyro_vae.estimate.compiled_weights.use_compile`); the same
            estimates to float rounding.

    Returns:
        A :class:`RunEvaluation`.

    Example:
        >>> ev = evaluate_run("runs/digits", num_samples=1000, limit=50)  # doctest: +SKIP
        >>> ev.summary["proposals"]["guide"]["nll"]  # doctest: +SKIP
        21.7
    """
    target = resolve_device(device)  # a bad device is refused before anything is read
    use_compile(compile, 0)  # a bad mode too
    _check_options([num_samples], proposals, seed, limit, batch_size)
    run = as_run(run)
    points, labels = _points(run, x, limit, data or {})
    same = {"points": _fingerprint(points), "seed": seed, "weights": run.weights}
    kept: tuple[str, ...] = ()
    if write:  # refused before any work, but after the data's own errors
        kept = kept_proposals(run.path, same, proposals, overwrite)
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
            compile=_compiled(compile, proposals, points.shape[0], num_samples, ais or {}),
        )
        elbo = evaluate_elbo(run.vae, points, seed=noise_seed(seed, ELBO_STREAM), workers=workers)
        classes = _class_scores(run, points, labels, num_samples, seed, batch_size, dtype, workers)
        baseline = _baseline_score(run, points)
    summary = {
        **evaluation.summary(),
        "test_elbo": elbo["elbo"],
        "test_reconstruction": elbo["reconstruction"],
        "test_kl": elbo["kl"],
        **({"classes": classes} if classes else {}),
        **({"baseline": baseline} if baseline else {}),
        # a conditional model's estimates are of log P(Y|X), the target given the condition
        **({"condition": run.config.condition} if run.data.condition_dim else {}),
        "warnings": reliability_warnings(evaluation.results.values()),
        **same,  # what a later evaluation of other proposals must share to be added to this one
    }
    for name, result in evaluation.results.items():  # each proposal's own, kept with it
        summary["proposals"][name]["warnings"] = reliability_warnings([result])
    bpd = bits_per_dim(run, summary)
    if bpd:
        summary["bits_per_dim"] = bpd
    write = write and workers.main  # rank 0 alone writes
    rows = evaluation.per_point_rows()
    path = write_evaluation(run.path, summary, rows, keep=kept) if write else None
    if path is not None and (run.path / "tensorboard").is_dir():  # a run logged to TensorBoard
        from pyro_vae.running.board import log_evaluation  # (imports matplotlib)

        log_evaluation(run.path, summary, len(read_metrics(run.path)))
    return RunEvaluation(run, evaluation, elbo, summary, path, kept)


def _compiled(
    mode: str, proposals: Sequence[str], points: int, num_samples: int, ais: Mapping[str, Any]
) -> set[str]:
    """The proposals whose evaluation is compiled, ``mode`` as asked."""
    return {
        p
        for p in proposals
        if (
            use_compile(
                mode, gradient_evaluations(points, ais), minimum=TORCH_COMPILE_MIN_GRADIENTS
            )
            if p == "ais"
            else use_compile(mode, points * num_samples)
        )
    }


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
    batch_size: int = BATCH_SIZE,
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
    :func:`evaluate_run`. For a likelihood of discrete pixels each row has ``bits_per_dim``.

    Returns:
        A :class:`RunComparison`: the rows (one per K and proposal) and where they went.

    Example:
        >>> cmp = compare_run("runs/digits", ks=[10, 100], limit=50)  # doctest: +SKIP
        >>> [(r["num_samples"], r["proposal"]) for r in cmp.rows][:2]  # doctest: +SKIP
        [(10, 'guide'), (10, 'prior')]
    """
    where = resolve_device(device)  # a bad device is refused before anything is read
    ks = list(ks)
    _check_options(ks, proposals, seed, limit, batch_size, name="ks")
    run = as_run(run)
    points, _ = _points(run, x, limit, data or {})
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
    bits = _bits(run)
    if bits is not None:  # discrete or dequantized pixels: each row in bits per dimension too
        per_nat, offset = bits
        rows = [{**row, "bits_per_dim": -row["log_likelihood"] * per_nat + offset} for row in rows]
    path = write_comparison(target, rows) if workers.main else target  # rank 0 alone writes
    return RunComparison(run, rows, path, int(points.shape[0]))


def bdmc_run(
    run: Run | str | Path,
    *,
    num_points: int = 100,
    schedules: Iterable[int] = (100, 1000),
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    device: torch.device | str | None = "auto",
    **ais: Any,
) -> list[dict[str, Any]]:
    """Sandwich the model's log P(x) of simulated data between forward and reverse AIS.

    What ``pyro-vae bdmc`` does: draws ``num_points`` (z, x) pairs from the run's model (a
    conditional model's given the first test conditions), runs
    :func:`pyro_vae.estimate.bdmc.bidirectional_monte_carlo` for every schedule length and writes
    one row per length (the mean bounds, their gap and standard errors, seconds) into the run
    directory.

    Args:
        run: a loaded run or a run directory.
        num_points: simulated datapoints.
        schedules: numbers of intermediate distributions.
        seed: the seed of the simulation and of the chains.
        overwrite: replace an earlier table.
        progress: show progress bars.
        device: where to run (:func:`pyro_vae.hardware.devices.resolve_device`); the run's model is
            moved there.
        **ais: options of :func:`pyro_vae.estimate.ais.annealed_importance_sampling`
        (``num_chains``,
            ``start``, ``leapfrog_steps``, ...).

    Returns:
        The rows written.

    Example:
        >>> rows = bdmc_run("runs/digits", num_points=20, schedules=[10, 100])  # doctest: +SKIP
        >>> [round(r["gap"], 1) for r in rows]  # doctest: +SKIP
        [3.2, 0.4]
    """
    where = resolve_device(device)  # a bad device is refused before anything is read
    run = as_run(run)
    check_replaceable(run.path / BDMC_FILE, overwrite, "BDMC table")
    with running(where) as (workers, where):
        run.vae.to(where)
        rows = _bdmc_rows(run, num_points, schedules, seed, progress, workers, ais)
    if workers.main:  # rank 0 alone writes
        write_bdmc(run.path, rows)
    return rows


def _simulated(run: Run, num: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Points drawn from the run's model with their latents.

    A conditional model draws a target for each of the first ``num`` test conditions; the
    rows are then ``[Y, X]``, as its data are.
    """
    if not run.data.condition_dim:
        return simulate(run.vae.model, num)
    rows = run.load_data().test[:num].to(device_of(run.vae))
    given = rows[:, run.data.data_dim - run.data.condition_dim :]
    y, latents = simulate(run.vae.model, rows.shape[0], args=(given,))
    return torch.cat([y, given], 1), latents


def _bdmc_rows(
    run: Run,
    num_points: int,
    schedules: Iterable[int],
    seed: int,
    progress: bool,
    workers: Workers,
    ais: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rows of :func:`bdmc_run`: each process runs its share of the simulated points.

    Every point's chains draw from streams keyed by the seed, T and its index, so the table
    does not depend on the number of processes.
    """
    torch.manual_seed(seed)
    x, latents = _simulated(run, num_points)  # the same on every process
    num_points = x.shape[0]
    first, last = workers.bounds(num_points)
    rows = []
    for num_steps in sorted(set(schedules)):
        started = time.perf_counter()
        part = None
        if last > first:
            (part,) = bidirectional_monte_carlo(
                run.vae.model,
                run.vae.guide,
                x[first:last],
                {name: value[first:last] for name, value in latents.items()},
                schedules=(num_steps,),
                keys=[noise_seed(seed, num_steps, i) for i in range(first, last)],
                progress=progress and workers.main,
                **ais,
            )
        parts = [p for p in workers.gather(part) if p is not None]
        sandwich = Sandwich(
            num_steps,
            AISLikelihood.concat([p.lower for p in parts]),
            AISLikelihood.concat([p.upper for p in parts]),
        )
        elapsed = workers.max(time.perf_counter() - started)
        lower, upper = sandwich.lower.summary(), sandwich.upper.summary()
        rows.append(
            {
                "num_steps": num_steps,
                "num_points": num_points,
                "num_chains": lower["num_samples"],
                "start": lower["start"],
                "lower": lower["log_likelihood"],
                "upper": upper["log_likelihood"],
                "gap": float(sandwich.gap.mean()),
                "gap_sd": float(sandwich.gap.std(ddof=1)) if num_points > 1 else float("nan"),
                "lower_mc_standard_error": lower["mc_standard_error"],
                "upper_mc_standard_error": upper["mc_standard_error"],
                "seconds": elapsed,
            }
        )
    return rows
