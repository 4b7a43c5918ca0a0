"""Bits per dimension: a discretized likelihood's own, a dequantized density's bound."""

import json
import math

import numpy as np
import pytest

from pyro_vae import Config, evaluate_run, load_run, train


@pytest.fixture
def eight_bit(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "grey.npz"
    np.savez(path, x_train=(rng.integers(0, 4, (200, 16)) * 85).astype(np.uint8))
    return str(path)


def _small(**settings):
    return Config(epochs=2, latent_dim=2, hidden_dims=(16,), **settings)


def test_a_dequantized_density_reports_a_bound_in_bits_per_dimension(tmp_path, eight_bit):
    run_dir = tmp_path / "run"
    train(_small(dataset="npz", data_file=eight_bit, likelihood="gaussian-learned"), run_dir)
    assert load_run(run_dir).data.dequantize_bits == 8
    summary = evaluate_run(run_dir, num_samples=50, proposals=("guide", "prior")).summary
    bpd = summary["bits_per_dim"]
    assert bpd["bound"] and bpd["offset"] == 8
    for name, s in summary["proposals"].items():
        assert bpd["proposals"][name] == pytest.approx(s["nll"] / (16 * math.log(2)) + 8)
        assert bpd["proposals"][name] > 0  # a bound on a probability's -log: positive


def test_a_run_from_before_dequantization_resumes_as_it_trained(tmp_path, eight_bit):
    run_dir = tmp_path / "run"
    config = _small(dataset="npz", data_file=eight_bit, likelihood="gaussian", dequantize="off")
    train(config.replace(epochs=1), run_dir)
    stored = json.loads((run_dir / "config.json").read_text())
    del stored["settings"]["dequantize"]  # what an earlier version wrote
    (run_dir / "config.json").write_text(json.dumps(stored))
    resumed = train(config.replace(dequantize="auto"), run_dir, resume=True)
    assert len(resumed.metrics) == 2 and resumed.data.dequantize_bits == 0
