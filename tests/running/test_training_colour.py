"""Colour images end to end: a conv VAE with the PixelCNN++ likelihood on a folder of images."""

import math

import numpy as np
import pytest
from PIL import Image

from pyro_vae import Config, evaluate_run, load_run, train
from pyro_vae.plots.kinds import write_training_figures


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("colour")
    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("blue", 2)):
        for i in range(40):
            picture = rng.integers(0, 80, (8, 8, 3), dtype=np.uint8)
            picture[..., channel] = rng.integers(150, 256, (8, 8), dtype=np.uint8)
            (root / name).mkdir(exist_ok=True)
            Image.fromarray(picture).save(root / name / f"{i}.png")
    return str(root)


@pytest.mark.parametrize("likelihood", ["dmol", "discretized-logistic"])
def test_a_colour_run_trains_evaluates_in_bits_and_draws(tmp_path, colour_folder, likelihood):
    config = Config(
        dataset="folder",
        data_dir=colour_folder,
        likelihood=likelihood,
        mixtures=2 if likelihood == "dmol" else 10,  # the default: the other one reads none
        network="conv",
        hidden_dims=(16,),
        latent_dim=2,
        activation="relu",
        epochs=2,
        batch_size=20,
    )
    run_dir = tmp_path / "run"
    result = train(config, run_dir)
    assert math.isfinite(result.test_elbo)
    run = load_run(run_dir)
    assert run.data.image_shape == (3, 8, 8) and run.data.channels == 3
    summary = evaluate_run(run_dir, num_samples=20, proposals=("guide",)).summary
    bpd = summary["bits_per_dim"]
    nll = summary["proposals"]["guide"]["nll"]
    assert bpd["dims"] == 192 and not bpd["bound"]
    assert bpd["proposals"]["guide"] == pytest.approx(nll / (192 * math.log(2)))
    assert bpd["proposals"]["guide"] > 0  # the -log of a probability of the data
    written = write_training_figures(run, run.load_data())
    assert any(path.name.startswith("samples") for path in written)
