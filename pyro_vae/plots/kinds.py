"""The kinds of ``pyro-vae plot``: one registry entry per figure of a run, and the standard set.

Each kind draws one :mod:`pyro_vae.plots.figures` figure from what a run directory holds: its model,
its test data, or the tables that training, ``pyro-vae evaluate`` and ``pyro-vae
compare-estimators`` leave there (read through :mod:`pyro_vae.storage.rundir`). ``pyro-vae plot
RUN_DIR --kind KIND`` draws one; ``pyro-vae train`` writes the standard set (:func:`standard_kinds`)
into the run directory when it ends (:func:`pyro_vae.storage.rundir.figure_path`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from matplotlib.figure import Figure

from pyro_vae.config import Condition
from pyro_vae.data.splits import DataSplits
from pyro_vae.errors import InputError, setting
from pyro_vae.models.cvae import ConditionalVAE
from pyro_vae.models.m2 import SemiSupervisedVAE
from pyro_vae.plots import classes, conditional, figures
from pyro_vae.registry import Registry
from pyro_vae.storage.files import atomic_write_bytes
from pyro_vae.storage.rundir import (
    Run,
    evaluated_num_samples,
    figure_path,
    read_bdmc,
    read_comparison,
    read_estimates,
    read_metrics,
)

__all__ = [
    "PLOT_KINDS",
    "FigureSource",
    "draw_figure",
    "save_figure",
    "standard_kinds",
    "write_standard_figures",
    "write_training_figures",
]

_SAMPLES = 64
_RECONSTRUCTIONS = 32
_PAIRS = 8
_INTERPOLATION_STEPS = 10
_LATENT_POINTS = 5000
_MANIFOLD_STEPS = 20
_DPI = 120


@dataclass
class FigureSource:
    """What the figures of a run are drawn from: the run, and its test data when needed.

    Args:
        run: the loaded run directory.
        load_test: returns the test vectors and their labels (or ``None``); called at most
            once, and only by the kinds that need data.
    """

    run: Run
    load_test: Callable[[], tuple[torch.Tensor, torch.Tensor | None]]

    @cached_property
    def test(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The test vectors ``[N, D]`` and labels ``[N]`` (or ``None``)."""
        x, y = self.load_test()
        return x.to(next(self.run.vae.parameters()).dtype), y

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The run's image shape; an :class:`InputError` for data that are not images."""
        shape = self.run.data.image_shape
        if shape is None:
            raise InputError(
                f"the data of {self.run.path} are not images: only --kind curves, estimators "
                "and khat apply"
            )
        return shape


FigureMaker = Callable[[FigureSource], Figure]
PLOT_KINDS: Registry[FigureMaker] = Registry("figure kind", "--kind")


@PLOT_KINDS.register("samples", "a grid of samples from the model, E[X|z] with z ~ P(z)")
def _samples(source: FigureSource) -> Figure:
    return figures.samples_figure(source.run.vae, _SAMPLES, source.image_shape)


@PLOT_KINDS.register("recon", "test images beside their reconstructions")
def _recon(source: FigureSource) -> Figure:
    shape = source.image_shape
    return figures.reconstructions_figure(source.run.vae, source.test[0][:_RECONSTRUCTIONS], shape)


@PLOT_KINDS.register("manifold", "the decoded 2-D latent grid (runs with --latent-dim 2)")
def _manifold(source: FigureSource) -> Figure:
    return figures.manifold_figure(source.run.vae, source.image_shape, _MANIFOLD_STEPS)


@PLOT_KINDS.register("latent", "test-set posterior means coloured by label (PCA beyond 2-D)")
def _latent(source: FigureSource) -> Figure:
    x, y = source.test
    labels = None if y is None else y[:_LATENT_POINTS]
    return figures.latent_figure(source.run.vae, x[:_LATENT_POINTS], labels)


@PLOT_KINDS.register("interp", "interpolations between pairs of test images through z")
def _interp(source: FigureSource) -> Figure:
    x = source.test[0][: 2 * _PAIRS]
    shape = source.image_shape
    return figures.interpolation_figure(source.run.vae, x, shape, steps=_INTERPOLATION_STEPS)


@PLOT_KINDS.register("curves", "ELBO, reconstruction and KL per epoch, from the run's metrics")
def _curves(source: FigureSource) -> Figure:
    return figures.curves_figure(read_metrics(source.run.path))


@PLOT_KINDS.register(
    "estimators", "log P(X) against K for both proposals, from pyro-vae compare-estimators"
)
def _estimators(source: FigureSource) -> Figure:
    return figures.estimators_figure(read_comparison(source.run.path))


@PLOT_KINDS.register("bdmc", "the BDMC sandwich against the schedule length, from pyro-vae bdmc")
def _bdmc(source: FigureSource) -> Figure:
    return figures.bdmc_figure(read_bdmc(source.run.path))


def _semisupervised(source: FigureSource) -> SemiSupervisedVAE:
    vae = source.run.vae
    if not isinstance(vae, SemiSupervisedVAE):
        raise InputError(
            f"{source.run.path} is not a model with a class: this figure is for "
            f"{setting('model', 'm2')} runs"
        )
    return vae


@PLOT_KINDS.register("classes", "--model m2: the style of test images drawn in every class")
def _classes(source: FigureSource) -> Figure:
    vae = _semisupervised(source)
    return classes.class_style_figure(vae, source.test[0][:_PAIRS], source.image_shape)


@PLOT_KINDS.register("confusion", "--model m2: the confusion matrix of Q(y|X) on the test set")
def _confusion(source: FigureSource) -> Figure:
    vae = _semisupervised(source)
    x, y = source.test
    if y is None:
        raise InputError(f"the test data of {source.run.path} have no labels to compare with")
    predicted = torch.cat([vae.classify(x[i : i + 1000]).cpu() for i in range(0, len(x), 1000)])
    return classes.confusion_figure(y, predicted, vae.num_classes)


@PLOT_KINDS.register(
    "completions", "--model cvae: completions of test conditions, or samples per class"
)
def _completions(source: FigureSource) -> Figure:
    vae = source.run.vae
    if not isinstance(vae, ConditionalVAE):
        raise InputError(
            f"{source.run.path} is not a conditional model: this figure is for "
            f"{setting('model', 'cvae')} runs"
        )
    condition = Condition.parse(source.run.config.condition)
    return conditional.completions_figure(vae, source.test[0], condition, source.image_shape)


@PLOT_KINDS.register("khat", "Pareto k-hat of every test point, from pyro-vae evaluate")
def _khat(source: FigureSource) -> Figure:
    rows = read_estimates(source.run.path)
    return figures.khat_figure(rows, evaluated_num_samples(source.run.path))


def draw_figure(kind: str, source: FigureSource, seed: int = 0) -> Figure:
    """Draw the figure ``kind`` (a name in :data:`PLOT_KINDS`) of a run, with a fixed seed.

    Example:
        >>> from pyro_vae import Config, build_vae
        >>> from pyro_vae.storage.rundir import DataInfo
        >>> config = Config(latent_dim=2)
        >>> run = Run(Path("."), config, DataInfo(64, (8, 8)), build_vae(config, 64))
        >>> source = FigureSource(run, load_test=lambda: (torch.rand(4, 64), None))
        >>> fig = draw_figure("samples", source)
        >>> fig.axes[0].get_title()
        '64 samples: z ~ P(z), shown as E[X|z]'
    """
    maker = PLOT_KINDS.get(kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return maker(source)


def save_figure(figure: Figure, path: Path) -> None:
    """Write ``figure`` as a PNG file, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    atomic_write_bytes(path, buffer.getvalue())


def standard_kinds(run: Run) -> Iterator[str]:
    """The figures every finished run gets, in order.

    Always curves; for images also samples, recon, interp, latent and, when the model's latent
    space is 2-D, manifold; for a model with a class (M2) samples, recon, classes and confusion;
    for a conditional model (CVAE) completions.
    """
    yield "curves"
    if run.data.image_shape is None:
        return
    if isinstance(run.vae, ConditionalVAE):  # it draws Y given X only
        yield "completions"
        return
    if isinstance(run.vae, SemiSupervisedVAE):  # its latents decode only with a class
        yield from ("samples", "recon", "classes", "confusion")
        return
    yield from ("samples", "recon", "interp", "latent")
    if figures.latent_dim(run.vae) == 2:
        yield "manifold"


def write_standard_figures(source: FigureSource, seed: int = 0) -> list[Path]:
    """Write the standard figures of a run into its directory.

    Returns:
        The paths written.
    """
    written = []
    for kind in standard_kinds(source.run):
        path = figure_path(source.run.path, kind)
        save_figure(draw_figure(kind, source, seed), path)
        written.append(path)
    return written


def write_training_figures(run: Run, splits: DataSplits) -> list[Path]:
    """The standard figures of a run that just finished training on ``splits``.

    Returns:
        The paths written.
    """
    return write_standard_figures(FigureSource(run, lambda: (splits.test, splits.y_test)))
