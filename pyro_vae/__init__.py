"""pyro_vae: variational autoencoders as Pyro programs, with trustworthy log P(X) estimates.

The model P(X|z)P(z) and the amortized guide Q(z|X) are plain Pyro programs
(:meth:`VAE.model`, :meth:`VAE.guide`) built from a swappable prior, encoder and likelihood;
:func:`train` fits them with SVI and :func:`log_likelihood` estimates log P(X) per datapoint by
importance sampling with the guide or, for comparison, with the prior; :func:`evaluate_run`
does it for a whole run directory. What a part must provide is written down in
:mod:`pyro_vae.parts.contracts`; each family of parts has one registry (:data:`PRIORS`, ...).
``import pyro_vae`` itself is light: the API (:mod:`pyro_vae._api`, with torch and Pyro) loads
the first time one of its names is read.

Example:
    >>> from pyro_vae import Config, train, load_run
    >>> result = train(Config(dataset="digits", epochs=5), "runs/demo")  # doctest: +SKIP
    >>> load_run("runs/demo").vae.sample(16).shape  # doctest: +SKIP
    torch.Size([16, 64])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pyro_vae import _moved
from pyro_vae._version import __version__

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ below
    from pyro_vae.config import Config
    from pyro_vae.data.datasets import DATASETS
    from pyro_vae.data.splits import DataSplits, load_data
    from pyro_vae.errors import InputError
    from pyro_vae.estimate.dataset import evaluate_elbo
    from pyro_vae.estimate.importance import (
        ElboTerms,
        LogLikelihood,
        elbo_terms,
        log_likelihood,
        log_weights,
    )
    from pyro_vae.models.cvae import ConditionalVAE, build_cvae
    from pyro_vae.models.exact import LinearGaussianVAE, MixtureLinearGaussian
    from pyro_vae.models.hierarchical import HierarchicalVAE
    from pyro_vae.models.m2 import SemiSupervisedVAE, build_m2
    from pyro_vae.models.vae import MODELS, VAE, build_vae
    from pyro_vae.parts.contracts import Encoder, Likelihood, Prior
    from pyro_vae.parts.guides import GUIDES
    from pyro_vae.parts.likelihoods import LIKELIHOODS
    from pyro_vae.parts.networks import NETWORKS
    from pyro_vae.parts.priors import PRIORS
    from pyro_vae.presets import load_config_file
    from pyro_vae.running.evaluation import compare_run, evaluate_run
    from pyro_vae.running.objectives import OBJECTIVES, build_objective
    from pyro_vae.running.training import TrainResult, train
    from pyro_vae.storage.export import export_run
    from pyro_vae.storage.rundir import Run, load_run

_moved.install()  # the flat layout's module paths still import, with a warning

__all__ = [
    "DATASETS",
    "GUIDES",
    "LIKELIHOODS",
    "MODELS",
    "NETWORKS",
    "OBJECTIVES",
    "PRIORS",
    "VAE",
    "ConditionalVAE",
    "Config",
    "DataSplits",
    "ElboTerms",
    "Encoder",
    "HierarchicalVAE",
    "InputError",
    "Likelihood",
    "LinearGaussianVAE",
    "LogLikelihood",
    "MixtureLinearGaussian",
    "Prior",
    "Run",
    "SemiSupervisedVAE",
    "TrainResult",
    "__version__",
    "build_cvae",
    "build_m2",
    "build_objective",
    "build_vae",
    "compare_run",
    "elbo_terms",
    "evaluate_elbo",
    "evaluate_run",
    "export_run",
    "load_config_file",
    "load_data",
    "load_run",
    "log_likelihood",
    "log_weights",
    "train",
]


def __getattr__(name: str) -> Any:
    """A name of the API, or a module of the flat layout (``pyro_vae.ais``) by its old path.

    The API comes from :mod:`pyro_vae._api`, imported on first use (torch and Pyro with it).
    """
    if name in __all__:
        value = getattr(importlib.import_module("pyro_vae._api"), name)
        globals()[name] = value  # found directly from now on
        return value
    if name in _moved.MOVED:
        return _moved.old_module(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
