"""Colour images end to end: a conv VAE with the PixelCNN++ likelihood on the photo patches."""

import math

import pytest

from pyro_vae import Config, evaluate_run, load_run, train
from pyro_vae.plots.kinds import write_training_figures
from pyro_vae.running.evaluation import run_test_data

COLOUR = {
    "dataset": "photos",
    "likelihood": "dmol",
    "mixtures": 2,
    "network": "conv",
    "hidden_dims": (32,),
    "latent_dim": 4,
    "activation": "relu",
    "epochs": 1,
}


@pytest.mark.parametrize("likelihood", ["dmol", "discretized-logistic"])
def test_a_colour_run_trains_evaluates_in_bits_and_draws(tmp_path, likelihood):
    run_dir = tmp_path / "run"
    result = train(Config(**{**COLOUR, "likelihood": likelihood}), run_dir)
    assert math.isfinite(result.test_elbo)
    run = load_run(run_dir)
    assert run.data.image_shape == (3, 32, 32) and run.data.channels == 3
    summary = evaluate_run(run_dir, num_samples=20, proposals=("guide",), limit=10).summary
    bpd = summary["bits_per_dim"]
    nll = summary["proposals"]["guide"]["nll"]
    assert bpd["dims"] == 3072
    assert bpd["proposals"]["guide"] == pytest.approx(nll / (3072 * math.log(2)))
    assert bpd["proposals"]["guide"] > 0  # the -log of a probability of the data
    written = write_training_figures(run, run_test_data(run))
    assert any(path.name.startswith("samples") for path in written)
