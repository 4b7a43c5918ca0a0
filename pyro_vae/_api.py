"""The public API, imported as a whole: what ``pyro_vae.NAME`` gives (:mod:`pyro_vae`).

The package's ``__init__`` loads this module the first time a name of the API is read, so that
``import pyro_vae`` -- and the command line's ``--help``, ``--version`` and usage errors --
do not pay for importing torch and Pyro. Importing it registers every part, model, data set,
objective, preset and figure kind (:mod:`pyro_vae.registry` loads it before a registry is read).
"""

from __future__ import annotations

from pyro_vae._version import __version__
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
