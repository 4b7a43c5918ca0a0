"""The model in ``pretrained/`` (made by bench/pretrained.py): it loads, and gives its numbers."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from pyro_vae import evaluate_run, load_run
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    ESTIMATES_FILE,
    EVALUATION_FILE,
    METRICS_FILE,
    MODEL_FILE,
    read_estimates,
    read_evaluation,
)

ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = ROOT / "pretrained" / "mnist-best"
RESULT = ROOT / "bench" / "results" / "pretrained.json"


def _stored_images() -> torch.Tensor:
    """The first 100 binarized MNIST test images, as the committed evaluation saw them."""
    stored = np.load(ROOT / "pretrained" / "mnist-test-100.npz")
    bits = np.unpackbits(stored["bits"], axis=1)[:, : int(stored["width"])]
    return torch.from_numpy(bits.astype(np.float32))


def _guide_estimates(column: str = "estimate") -> np.ndarray:
    rows = [r for r in read_estimates(PRETRAINED) if r["proposal"] == "guide"]
    return np.asarray([r[column] for r in sorted(rows, key=lambda r: r["index"])])


def test_the_pretrained_model_is_a_small_run_directory_with_its_log_and_evaluation():
    names = {p.name for p in PRETRAINED.iterdir()}
    assert {MODEL_FILE, METRICS_FILE, EVALUATION_FILE, ESTIMATES_FILE} <= names
    assert CHECKPOINT_FILE not in names
    size = sum(p.stat().st_size for p in PRETRAINED.iterdir())
    assert size < 5_000_000
    result = json.loads(RESULT.read_text())
    assert result["size"] == size  # what the README says is what is committed
    run = load_run(PRETRAINED, device="cpu")
    assert run.weights == result["weights"] == "ema"
    assert run.config.dataset == "mnist" and run.data.data_dim == 784


def test_the_committed_estimates_are_the_table_number():
    summary = read_evaluation(PRETRAINED)["proposals"]["guide"]
    estimates = _guide_estimates()
    assert estimates.size == summary["num_points"] == 10_000
    assert -estimates.mean() == pytest.approx(summary["nll"], abs=1e-9)
    table = json.loads((ROOT / "bench" / "results" / "mnist_nll.json").read_text())
    best = next(r for r in table["rows"] if r["row"] == "best")
    assert best["nll"] == pytest.approx(summary["nll"], abs=1e-9)


def test_the_pretrained_model_gives_its_committed_estimates_of_100_test_images():
    """Same images, K and seed: the same per-image estimates, up to float rounding.

    The tolerance, 0.01 nats, is below the estimates' Monte Carlo standard errors (checked) and
    far above what float32 sums in another order change (about 1e-4 nats).
    """
    run = load_run(PRETRAINED, device="cpu")
    num_samples = read_evaluation(PRETRAINED)["num_samples"]
    x = _stored_images()
    again = evaluate_run(
        run, num_samples=num_samples, x=x, write=False, device="cpu", compile="off"
    )
    got = again.evaluation.results["guide"].estimate
    expected = _guide_estimates()[: len(x)]
    assert np.median(_guide_estimates("standard_error")[: len(x)]) > 0.01
    np.testing.assert_allclose(got, expected, rtol=0, atol=0.01)
    assert abs(got.mean() - expected.mean()) < 1e-3


@pytest.mark.skipif(
    "PYRO_VAE_MNIST_DIR" not in os.environ, reason="set PYRO_VAE_MNIST_DIR to test real MNIST"
)
def test_the_stored_images_are_the_first_test_images_of_mnist():

    run = load_run(PRETRAINED, device="cpu")
    splits = run.load_data(data_dir=os.environ["PYRO_VAE_MNIST_DIR"])
    x = _stored_images()
    assert torch.equal(splits.test[: len(x)], x)
