"""Figures (matplotlib); each function returns a :class:`matplotlib.figure.Figure`.

The image figures take a model and data tensors; the figures of numbers take the rows of a run's
CSV tables (metrics, estimators against K, per-point estimates) as lists of dicts. Figures are
built without pyplot (no global state, no display needed, the backend is left as it is) and saved
by the caller; in a notebook a returned figure shows itself. Images are dark on light, upright.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import pyro.distributions as dist
import torch
from matplotlib.figure import Figure

from pyro_vae.errors import InputError, setting
from pyro_vae.estimate.diagnostics import khat_threshold
from pyro_vae.hardware.devices import device_of
from pyro_vae.models.vae import VAE

__all__ = [
    "KHAT_THRESHOLDS",
    "bdmc_figure",
    "curves_figure",
    "estimators_figure",
    "image_grid",
    "interpolation_figure",
    "khat_figure",
    "latent_dim",
    "latent_figure",
    "manifold_figure",
    "reconstructions_figure",
    "samples_figure",
]

Rows = Sequence[Mapping[str, Any]]

#: Pareto k-hat levels of Vehtari et al. (2024): below 0.5 the importance weights have a finite
#: variance; up to 0.7 the estimate is still reliable with enough samples; above 1 the weights
#: have no finite mean.
KHAT_THRESHOLDS = ((0.5, "< 0.5 finite variance"), (0.7, "< 0.7 reliable"), (1.0, "> 1 no mean"))
_RELIABLE_KHAT = KHAT_THRESHOLDS[1][0]
_PROPOSAL_STYLE = {
    "guide": ("tab:blue", "importance sampling (guide)"),
    "guide-drawn": ("tab:cyan", "importance sampling, discrete latents drawn"),
    "prior": ("tab:red", "naive Monte Carlo (prior)"),
}
_KHAT_AXIS_TOP = 2.0
_QUANTILE_DRAWS = 20_000
_TILE_INCHES = 0.6
#: The most points the latent figure draws: more hide each other (an even sample is drawn).
_MOST_POINTS = 2000


def _tiles(images: torch.Tensor, image_shape: tuple[int, ...], ncols: int) -> np.ndarray:
    """Flat images in [0, 1] as one grid array, one pixel of padding between.

    Grey images (``image_shape`` ``(H, W)``) give a 2-D array; colour ones (``(C, H, W)``,
    flattened channel first) an RGB array ``[rows, columns, 3]``.
    """
    from torchvision.utils import make_grid  # here: importing torchvision takes seconds

    n = images.shape[0]
    channels = image_shape[0] if len(image_shape) == 3 else 1
    tiles = images.detach().float().cpu().clamp(0, 1).reshape(n, channels, *image_shape[-2:])
    grid = make_grid(tiles, nrow=ncols, padding=1, pad_value=0.0)
    return grid[0].numpy() if channels == 1 else grid.permute(1, 2, 0).numpy()


def _show(ax: Any, grid: np.ndarray, title: str = "") -> None:
    if grid.ndim == 2:  # grey levels drawn dark on light, as digits are
        ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)


def image_grid(
    images: torch.Tensor, image_shape: tuple[int, ...], *, ncols: int | None = None, title: str = ""
) -> Figure:
    """Lay out flat images in [0, 1] as one grid: grey ``(H, W)`` or colour ``(C, H, W)``.

    Example:
        >>> fig = image_grid(torch.rand(6, 64), (8, 8), title="noise")
        >>> len(fig.axes)
        1
    """
    n = images.shape[0]
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    height = _TILE_INCHES * nrows + (0.4 if title else 0)
    fig = Figure(figsize=(max(2.0, _TILE_INCHES * ncols), max(2.0, height)))
    _show(fig.add_subplot(), _tiles(images, image_shape, ncols), title)
    fig.tight_layout()
    return fig


def samples_figure(vae: VAE, num: int, image_shape: tuple[int, ...]) -> Figure:
    """A grid of ``num`` samples from the model: z ~ P(z), shown as E[X|z].

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> fig = samples_figure(build_vae(Config(latent_dim=2), 64), 16, (8, 8))
        >>> fig.axes[0].get_title()
        '16 samples: z ~ P(z), shown as E[X|z]'
    """
    images = vae.sample(num)
    return image_grid(images, image_shape, title=f"{num} samples: z ~ P(z), shown as E[X|z]")


def reconstructions_figure(vae: VAE, x: torch.Tensor, image_shape: tuple[int, ...]) -> Figure:
    """Inputs ``x`` (left) beside their reconstructions E[X | z = E_Q[z|x]] (right).

    The two grids have the same layout: the image in a cell on the right reconstructs the image
    in the same cell on the left.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2), 64)
        >>> fig = reconstructions_figure(vae, torch.rand(9, 64), (8, 8))
        >>> [ax.get_title() for ax in fig.axes]
        ['inputs (as the model sees them)', 'reconstructions E[X|z]']
    """
    ncols = math.ceil(math.sqrt(x.shape[0]))
    nrows = math.ceil(x.shape[0] / ncols)
    side = max(2.0, _TILE_INCHES * ncols)
    fig = Figure(figsize=(2 * side + 0.3, max(2.0, _TILE_INCHES * nrows) + 0.4))
    left, right = fig.subplots(1, 2)
    _show(left, _tiles(x, image_shape, ncols), "inputs (as the model sees them)")
    _show(right, _tiles(vae.reconstruct(x), image_shape, ncols), "reconstructions E[X|z]")
    fig.tight_layout()
    return fig


def _prior_quantiles(vae: VAE, probabilities: torch.Tensor) -> torch.Tensor:
    """Per-dimension quantiles ``[len(p), latent_dim]`` of the prior's marginals.

    Exact for a Normal prior (its inverse CDF); for other priors (mixtures, flows) the empirical
    quantiles of 20,000 prior draws.
    """
    with torch.no_grad():
        prior = vae.prior()
        base = prior.base_dist if isinstance(prior, dist.Independent) else prior
        if isinstance(base, dist.Normal):
            return base.icdf(probabilities.unsqueeze(-1).to(base.loc))
        draws = prior.sample((_QUANTILE_DRAWS,))
        return torch.quantile(draws, probabilities.to(draws), dim=0)


def manifold_figure(vae: VAE, image_shape: tuple[int, ...], steps: int = 20) -> Figure:
    """The learned 2-D latent manifold: E[X|z] on a ``steps`` x ``steps`` grid of z.

    The grid is regular in probability: coordinate i of z runs through the quantiles 1/(2n),
    3/(2n), ..., 1 - 1/(2n) of the prior's marginal (for N(0, I), its inverse CDF), so each tile
    stands for an equal share of the prior's mass. z_1 grows to the right, z_2 upwards.

    Raises:
        InputError: if the model's latent space is not 2-D.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> fig = manifold_figure(build_vae(Config(latent_dim=2), 64), (8, 8), steps=5)
        >>> fig.axes[0].get_xlabel()
        'z_1'
    """
    dims = latent_dim(vae)
    if dims != 2:
        raise InputError(
            f"the latent manifold needs a 2-D latent space, this model has {dims}: "
            f"train with {setting('latent_dim', 2)}"
        )
    probabilities = (torch.arange(steps, device=device_of(vae)) + 0.5) / steps
    q = _prior_quantiles(vae, probabilities)
    z1, z2 = q[:, 0], q[:, 1].flip(0)  # the top row of the grid has the largest z_2
    rows, cols = torch.meshgrid(z2, z1, indexing="ij")
    grid = torch.stack([cols, rows], dim=-1).reshape(-1, 2)
    with torch.no_grad():
        images = vae.decode(grid.to(_dtype(vae)))
    height, width = image_shape[-2:]
    pixels = _tiles(images, image_shape, steps)
    fig = Figure(figsize=(6.5, 6.5 * pixels.shape[0] / pixels.shape[1] + 0.3))
    ax = fig.add_subplot()
    _show(ax, pixels)
    ax.set_axis_on()
    centres_x = 1 + (width + 1) * np.arange(steps) + width / 2 - 0.5
    centres_y = 1 + (height + 1) * np.arange(steps) + height / 2 - 0.5
    # Ticks mirror-symmetric about the centre (which is a tile only for an odd number of steps).
    half = np.floor(np.linspace(0, (steps - 1) / 2, 3)).astype(int)[: 3 if steps % 2 else 2]
    shown = np.unique(np.concatenate([half, steps - 1 - half]))
    ax.set_xticks(centres_x[shown], [f"{float(z1[i]):.2f}" for i in shown])
    ax.set_yticks(centres_y[shown], [f"{float(z2[i]):.2f}" for i in shown])
    name = vae.latent_name
    ax.set_xlabel(f"{name}_1")
    ax.set_ylabel(f"{name}_2")
    ax.set_title(f"decoded latent grid, E[X|{name}] (equal prior mass per tile)", fontsize=10)
    fig.tight_layout()
    return fig


def latent_dim(vae: VAE) -> int:
    """The dimension of z: the event size of the model's prior.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> latent_dim(build_vae(Config(latent_dim=3), 64))
        3
    """
    return int(vae.prior().event_shape[0])


def _dtype(vae: VAE) -> torch.dtype:
    return next(vae.parameters()).dtype


def latent_figure(vae: VAE, x: torch.Tensor, labels: torch.Tensor | None = None) -> Figure:
    """The posterior means E_Q[z|x] of ``x``, coloured by ``labels`` when given.

    A 2-D latent space is drawn as it is; a larger one through its first two principal
    components (the axis labels give the share of variance each explains).

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=5), 64)
        >>> fig = latent_figure(vae, torch.rand(30, 64), torch.arange(30) % 3)
        >>> fig.axes[0].get_xlabel().startswith("principal component 1")
        True
    """
    z = vae.encode(x).double().cpu()
    if z.shape[1] == 2:
        points, names = z, (f"{vae.latent_name}_1", f"{vae.latent_name}_2")
    else:
        centred = z - z.mean(0)
        _, s, v = torch.linalg.svd(centred, full_matrices=False)
        share = (s**2 / (s**2).sum()).tolist()
        points = centred @ v[:2].T
        names = tuple(
            f"principal component {i + 1} ({100 * share[i]:.0f}% of variance)" for i in range(2)
        )
    total = points.shape[0]
    if total > _MOST_POINTS:  # beyond that, points hide each other: an even sample of them
        keep = torch.randperm(total, generator=torch.Generator().manual_seed(0))[:_MOST_POINTS]
        points, labels = points[keep], None if labels is None else labels[keep]
    fig = Figure(figsize=(6.0, 5.2))
    ax = fig.add_subplot()
    size = 12 if points.shape[0] <= 1000 else 5
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.6, color="tab:blue")
    else:
        classes = sorted(set(labels.tolist()))
        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "viridis"]
        for i, c in enumerate(classes):
            mask = labels == c
            colour = cmap(i % 10) if len(classes) <= 10 else cmap(i / max(1, len(classes) - 1))
            ax.scatter(points[mask, 0], points[mask, 1], s=size, alpha=0.6, color=colour, label=c)
        ax.legend(title="label", markerscale=3, fontsize=8, loc="best", framealpha=0.8)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    name = vae.latent_name
    top = "" if name == "z" else ", the top layer"
    shown = f"{points.shape[0]:,} of {total:,}" if total > points.shape[0] else f"{total:,}"
    ax.set_title(f"posterior means E_Q[{name}|x] of {shown} points{top}", fontsize=10)
    fig.tight_layout()
    return fig


def interpolation_figure(
    vae: VAE, x: torch.Tensor, image_shape: tuple[int, ...], *, steps: int = 10
) -> Figure:
    """Walks through the latent space between pairs of inputs, one row per pair.

    Row j starts with input ``x[2j]``, ends with input ``x[2j + 1]`` and shows between them
    E[X|z] for ``steps`` points on the straight line between the two posterior means.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> vae = build_vae(Config(latent_dim=2), 64)
        >>> fig = interpolation_figure(vae, torch.rand(4, 64), (8, 8))
        >>> fig.axes[0].get_title()
        'input, then E[X|z] along the line between the posterior means, then input'
    """
    pairs = x.shape[0] // 2
    if pairs < 1:
        raise InputError("an interpolation needs at least two inputs")
    x = x[: 2 * pairs]
    z = vae.encode(x)
    start, end = z[0::2], z[1::2]
    t = torch.linspace(0, 1, steps, dtype=z.dtype, device=z.device).reshape(1, steps, 1)
    path = start.unsqueeze(1) + t * (end - start).unsqueeze(1)  # [pairs, steps, latent_dim]
    with torch.no_grad():
        decoded = vae.decode(path)  # [pairs, steps, D]
    x = x.to(decoded)
    rows = torch.cat([x[0::2].unsqueeze(1), decoded, x[1::2].unsqueeze(1)], dim=1)
    return image_grid(
        rows.reshape(-1, x.shape[1]),
        image_shape,
        ncols=steps + 2,
        title="input, then E[X|z] along the line between the posterior means, then input",
    )


def curves_figure(metrics: Rows) -> Figure:
    """Training curves from a run's metrics: ELBO, reconstruction and KL per epoch.

    Solid lines are the validation set, dashed lines a fixed subset of the training set (when
    the run recorded it); the ELBO panel also shows the training objective averaged over each
    epoch's steps (beta-weighted during a KL warm-up). A model with a class (M2) adds a fourth
    panel: the accuracy of its classifier Q(y|X).

    Example:
        >>> rows = [{"epoch": e, "val_elbo": -90 + e, "val_reconstruction": -80 + e,
        ...          "val_kl": 10.0, "train_objective": -91 + e} for e in (1, 2, 3)]
        >>> [ax.get_title() for ax in curves_figure(rows).axes]
        ['ELBO', 'reconstruction E_Q[log P(X|z)]', 'KL(Q(z|X) || P(z))']
    """
    if not metrics:
        raise InputError("the run has no finished epoch yet: there are no curves to draw")
    epochs = [row["epoch"] for row in metrics]
    terms = (("elbo", "ELBO"), ("reconstruction", "reconstruction E_Q[log P(X|z)]"))
    terms += (("kl", "KL(Q(z|X) || P(z))"),)
    if "val_accuracy" in metrics[0]:
        terms += (("accuracy", "accuracy of Q(y|X)"),)
    fig = Figure(figsize=(3.7 * len(terms), 3.4))
    panels = fig.subplots(1, len(terms))
    for ax, (term, title) in zip(panels, terms, strict=True):
        for split, style, name in (("val", "-", "validation"), ("train", "--", "training")):
            key = f"{split}_{term}"
            if key in metrics[0]:
                ax.plot(epochs, [row[key] for row in metrics], style, label=name)
        if term == "elbo" and "train_objective" in metrics[0]:
            values = [row["train_objective"] for row in metrics]
            ax.plot(epochs, values, ":", color="grey", label="training objective")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("share of images" if term == "accuracy" else "nats per datapoint")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _log_x_axes(fig: Figure, xlabel: str, ylabel: str, title: str) -> Figure:
    """Finish a figure of estimates against a count on a log axis."""
    ax = fig.axes[0]
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def estimators_figure(rows: Rows) -> Figure:
    """Estimator convergence from ``compare-estimators``: mean log P(X) against K, and AIS.

    Each proposal's line has a band of two Monte Carlo standard errors. AIS rows (proposal
    ``"ais"``) are horizontal lines in greens, one per schedule length T, with the same band;
    the exact value is a black dashed line when the model has one (linear-Gaussian runs).
    Rows with ``bits_per_dim`` (discrete pixels) get a right axis in bits per dimension.

    Example:
        >>> rows = [{"num_samples": k, "proposal": p, "log_likelihood": -100.0 - 10 / k,
        ...          "mc_standard_error": 0.1} for k in (1, 10, 100) for p in ("guide", "prior")]
        >>> estimators_figure(rows).axes[0].get_xscale()
        'log'
    """
    if not rows:
        raise InputError("the comparison has no rows: run pyro-vae compare-estimators first")
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    unreliable = 0
    for proposal, (colour, label) in _PROPOSAL_STYLE.items():
        chosen = sorted(
            (r for r in rows if r["proposal"] == proposal), key=lambda r: r["num_samples"]
        )
        if not chosen:
            continue
        k = np.array([r["num_samples"] for r in chosen], dtype=float)
        mean = np.array([r["log_likelihood"] for r in chosen], dtype=float)
        se = np.array([r["mc_standard_error"] for r in chosen], dtype=float)
        # a row whose k-hat says its mean and s.e. cannot be trusted: an open marker
        doubtful = np.array([str(r.get("reliable", "")) in ("0", "False") for r in chosen])
        ax.plot(k, mean, "-", color=colour, label=label)
        ax.fill_between(k, mean - 2 * se, mean + 2 * se, color=colour, alpha=0.2, linewidth=0)
        ax.errorbar(k, mean, yerr=2 * np.nan_to_num(se), fmt="none", ecolor=colour, capsize=3)
        ax.plot(k[~doubtful], mean[~doubtful], "o", color=colour)
        ax.plot(k[doubtful], mean[doubtful], "o", mfc="white", color=colour)
        unreliable += int(doubtful.sum())
    ais = sorted((r for r in rows if r["proposal"] == "ais"), key=lambda r: r["num_steps"])
    if ais and not ax.lines:
        ax.set_xlim(1, 10)  # AIS alone: no K axis to span
    greens = matplotlib.colormaps["Greens"](np.linspace(0.45, 0.9, len(ais)))
    for r, colour in zip(ais, greens, strict=True):
        mean, se = float(r["log_likelihood"]), float(r["mc_standard_error"])
        label = f"AIS, T = {int(r['num_steps'])} ({int(r['num_samples'])} chains)"
        ax.axhline(mean, color=colour, linestyle="-.", label=label)
        ax.axhspan(mean - 2 * se, mean + 2 * se, color=colour, alpha=0.15, linewidth=0)
    exact = rows[0].get("exact_log_likelihood")
    if exact is not None and exact != "" and math.isfinite(float(exact)):
        ax.axhline(float(exact), color="black", linestyle="--", label="exact log P(X)")
    bpd = rows[0].get("bits_per_dim")
    if bpd not in (None, "") and float(rows[0]["log_likelihood"]) != 0:
        per_nat = -float(bpd) / float(rows[0]["log_likelihood"])  # 1 / (D ln 2)
        right = ax.secondary_yaxis(
            "right", functions=(lambda y: -y * per_nat, lambda b: -b / per_nat)
        )
        right.set_ylabel("bits per dimension (-log P(X) / (D ln 2))")
    if unreliable:  # a legend entry for the open markers
        ax.plot([], [], "o", mfc="white", color="grey", label="open: k-hat says unreliable")
    return _log_x_axes(
        fig,
        "K, samples per datapoint",
        "mean test log P(X) estimate (nats)",
        "log P(X) estimates against K (bars and bands: ±2 Monte Carlo s.e.)",
    )


def khat_figure(rows: Rows, num_samples: int | None = None) -> Figure:
    """Pareto k-hat of every datapoint's importance weights, from ``pyro-vae evaluate``'s rows.

    Points are plotted against the datapoint's log P(X) estimate, one colour per proposal, with
    the reliability levels drawn in. The legend counts the points above the threshold that the
    evaluation's table uses (:func:`pyro_vae.estimate.diagnostics.khat_threshold` of K, drawn as a
    dashed line where it is below 0.7), or above 0.7 when ``num_samples`` is not given. Datapoints
    without a k-hat (too few samples, tied weights) are left out. The axis stops at k-hat = 2
    (naive Monte Carlo's k-hat can be in the tens, which would flatten everything else): larger
    values are drawn on that edge as triangles.

    Example:
        >>> rows = [{"proposal": "guide", "estimate": -90.0 - i, "khat": i / 10} for i in range(9)]
        >>> khat_figure(rows).axes[0].get_ylabel()
        'Pareto k-hat'
    """
    threshold = khat_threshold(num_samples) if num_samples else _RELIABLE_KHAT
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    drawn = clipped = 0
    for proposal, (colour, label) in _PROPOSAL_STYLE.items():
        chosen = [
            (float(r["estimate"]), float(r["khat"]))
            for r in rows
            if r["proposal"] == proposal and r["khat"] != "" and math.isfinite(float(r["khat"]))
        ]
        if not chosen:
            continue
        estimate, khat = np.array(chosen).T
        bad = float(np.mean(khat > threshold))
        inside = khat <= _KHAT_AXIS_TOP
        ax.scatter(
            estimate[inside],
            khat[inside],
            s=5,
            alpha=0.5,
            color=colour,
            label=f"{label}: {bad:.0%} > {threshold:.2f}",
        )
        ax.scatter(
            estimate[~inside],
            np.full(int((~inside).sum()), _KHAT_AXIS_TOP),
            s=12,
            marker="^",
            alpha=0.5,
            color=colour,
        )
        clipped += int((~inside).sum())
        drawn += len(chosen)
    if drawn == 0:
        raise InputError(
            "no datapoint has a k-hat (it needs at least 25 samples): evaluate again with "
            f"{setting('num_samples', 100)} or more"
        )
    drawn_threshold = threshold < _RELIABLE_KHAT
    for level, _ in KHAT_THRESHOLDS:
        if not (drawn_threshold and abs(level - threshold) < 0.05):  # two lines as one
            ax.axhline(level, color="grey", linestyle=":", linewidth=1)
    if drawn_threshold:
        ax.axhline(
            threshold,
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"threshold for K = {num_samples}",
        )
    if clipped:
        low = ax.get_ylim()[0]
        ax.set_ylim(low, _KHAT_AXIS_TOP + 0.05 * (_KHAT_AXIS_TOP - low))
    ax.set_xlabel("log P(X) estimate of the datapoint (nats)")
    ax.set_ylabel(f"Pareto k-hat (▲: above {_KHAT_AXIS_TOP:g})" if clipped else "Pareto k-hat")
    ax.set_title("reliability of each datapoint's importance weights", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, markerscale=3)
    levels = ax.twinx()  # what each level means, on the right
    levels.set_ylim(ax.get_ylim())
    levels.set_yticks([lv for lv, _ in KHAT_THRESHOLDS], [t for _, t in KHAT_THRESHOLDS])
    levels.tick_params(labelsize=7, colors="grey", length=0)
    fig.tight_layout()
    return fig


def bdmc_figure(rows: Rows) -> Figure:
    """The BDMC sandwich against the schedule length, from ``pyro-vae bdmc``'s rows.

    Forward AIS (a stochastic lower bound) and reverse AIS (an upper bound) of the mean log P(X)
    of simulated data, with +-2 Monte Carlo standard errors; log P(X) lies between them.

    Example:
        >>> rows = [{"num_steps": t, "lower": -30 - 5 / t, "upper": -30 + 5 / t,
        ...          "lower_mc_standard_error": 0.1, "upper_mc_standard_error": 0.1}
        ...         for t in (10, 100, 1000)]
        >>> bdmc_figure(rows).axes[0].get_xscale()
        'log'
    """
    if not rows:
        raise InputError("the BDMC table has no rows: run pyro-vae bdmc first")
    steps = np.array([float(r["num_steps"]) for r in rows])
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    for key, colour, label in (
        ("lower", "tab:blue", "forward AIS (lower bound)"),
        ("upper", "tab:red", "reverse AIS from the true z (upper bound)"),
    ):
        value = np.array([float(r[key]) for r in rows])
        se = np.array([float(r[f"{key}_mc_standard_error"]) for r in rows])
        ax.plot(steps, value, "o-", color=colour, label=label)
        ax.fill_between(steps, value - 2 * se, value + 2 * se, color=colour, alpha=0.2)
    return _log_x_axes(
        fig,
        "intermediate distributions T",
        "mean log P(X) of simulated data (nats)",
        "BDMC: log P(X) lies between the bounds (bands: ±2 Monte Carlo s.e.)",
    )
