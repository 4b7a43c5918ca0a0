"""Shared fixtures: a clean Pyro state per test, fixed seeds, and no pickle anywhere."""

from __future__ import annotations

import os
import signal

# Any torch.load that could unpickle code fails loudly in the whole suite.
os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import gzip
import struct
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

from pyro_vae import Config


@pytest.fixture(autouse=True)
def _clean_pyro():
    pyro.clear_param_store()
    pyro.enable_validation(True)
    pyro.set_rng_seed(0)
    yield
    pyro.clear_param_store()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Decoded image folders go to a cache of the test session's own, not the user's."""
    monkeypatch.setenv("PYRO_VAE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def tiny() -> Config:
    """A small, fast configuration on the digits data."""
    return Config(epochs=2, latent_dim=2, hidden_dims=(16,), batch_size=100)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_idx_folder(folder: Path) -> Path:
    """Create ``folder`` with a tiny MNIST-shaped data set in the four standard IDX files."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (120, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 120))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 30))
    return folder


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    """A tiny MNIST-shaped data set in the four standard IDX files."""
    return write_idx_folder(tmp_path / "idx")


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """The mean of per-datapoint values and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def make_linear_gaussian(data_dim: int, latent_dim: int, sigma: float, seed: int):
    """A float64 linear-Gaussian model with W ~ N(0, 1) entries and b ~ N(0, 1)."""
    from pyro_vae.models.exact import LinearGaussianVAE

    torch.manual_seed(seed)
    vae = LinearGaussianVAE(data_dim, latent_dim, sigma).double()
    with torch.no_grad():
        vae.weight.normal_()
        vae.bias.normal_()
    return vae


def small_config(prior: str, guide: str) -> Config:
    """A 2-D model with the named prior and guide, small enough for every combination."""
    return Config(
        prior=prior,
        guide=guide,
        latent_dim=2,
        hidden_dims=(8,),
        prior_components={"mixture": 3, "vamp": 4}.get(prior),
    )


def make_mixture(data_dim: int = 6, latent_dim: int = 2, num_classes: int = 4, seed: int = 0):
    """A float64 mixture of linear-Gaussian models (exact log P(X) with a discrete latent)."""
    from pyro_vae.models.exact import MixtureLinearGaussian

    torch.manual_seed(seed)
    return MixtureLinearGaussian(data_dim, latent_dim, num_classes).double()


def loose_mixture_guide(mix, *, inflate: float = 2.0):
    """A guide for a mixture that is not exact: a uniform class (enumerated) and P(z|x, y) with
    its covariance inflated, so that the importance weights vary."""

    def guide(x, y=None):
        with pyro.plate("data", x.shape[0]):
            if y is None:
                logits = torch.zeros(x.shape[0], mix.num_classes, dtype=x.dtype)
                y = pyro.sample(
                    "y", dist.Categorical(logits=logits), infer={"enumerate": "parallel"}
                )
            exact = mix.posterior(x, y)
            pyro.sample("z", dist.MultivariateNormal(exact.loc, inflate * exact.covariance_matrix))

    return guide


def metrics_without_time(rows):
    """A run's metrics rows without their wall-clock seconds (what two runs can share)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def assert_runs_agree(a, b):
    """Two runs' metrics and weights agree up to float rounding (a compiled and a plain run)."""
    import pytest
    import torch

    for row_a, row_b in zip(a.metrics, b.metrics, strict=True):
        for key in ("train_objective", "val_elbo", "val_kl", "train_elbo"):
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-5, abs=1e-4), key
    for name, value in a.vae.state_dict().items():
        torch.testing.assert_close(b.vae.state_dict()[name], value, rtol=1e-4, atol=1e-5)


def sigint_at(batches, epoch, step):
    """``epoch_batches`` that sends this process SIGINT at one step of one epoch."""

    def interrupting(*args, **kwargs):
        for index, batch in enumerate(batches(*args, **kwargs)):
            if kwargs["epoch"] == epoch and index == step:
                os.kill(os.getpid(), signal.SIGINT)
            yield batch

    return interrupting


def value_reading(program):
    """``program`` behind a Python ``if`` on a tensor's value: no static graph can record it."""

    def wrapped(x):
        if bool(x.sum() > 0):
            return program(x)
        return program(x)

    return wrapped
