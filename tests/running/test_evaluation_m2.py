"""Evaluating an M2 run: its classifiers, log P(x, y), and log P(X) with the class summed or drawn."""

import numpy as np
import pytest

from pyro_vae import Config, InputError, evaluate_run, train
from pyro_vae.cli.commands import main


@pytest.fixture(scope="module")
def m2_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("m2") / "run"
    config = Config(model="m2", labels=100, epochs=5, latent_dim=2, hidden_dims=(32,))
    train(config, run)
    return run


def test_an_m2_evaluation_reports_both_classifiers_and_three_estimators(m2_run):
    result = evaluate_run(
        m2_run, num_samples=200, proposals=("guide", "guide-drawn", "prior"), limit=40
    )
    classes = result.summary["classes"]
    assert classes["num_labelled"] == 40
    assert 0 <= classes["classifier_error"] < 0.9 and 0 <= classes["bayes_error"] < 0.9
    summed, drawn = (result.evaluation.results[p] for p in ("guide", "guide-drawn"))
    difference = summed.estimate - drawn.estimate
    se = np.sqrt(summed.standard_error**2 + drawn.standard_error**2)
    assert abs(difference.mean()) < 4 * np.sqrt(np.sum(se**2)) / se.size + 1e-3
    # log P(x, y) <= log P(x): the true class holds at most all of P(x)
    assert classes["log_p_x_y"] < summed.estimate.mean() + 4 * np.sqrt(np.sum(se**2)) / se.size
    assert result.summary["proposals"]["guide-drawn"]["proposal"] == "guide-drawn"


def test_the_command_line_prints_the_classes(m2_run, capsys):
    argv = ["evaluate", str(m2_run), "--num-samples", "20", "--limit", "10", "--overwrite"]
    assert main([*argv, "--proposal", "guide,guide-drawn"]) == 0
    out = capsys.readouterr().out
    assert "discrete latents drawn" in out and "Bayes classifier" in out


def test_data_of_another_class_count_are_refused(m2_run, tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((60, 64)) > 0.5).astype(np.float32)
    np.savez(tmp_path / "three.npz", x_train=images, y_train=np.arange(60) % 3)
    data = {"dataset": "npz", "data_file": str(tmp_path / "three.npz")}
    with pytest.raises(InputError, match="knows 10 classes but the labels of npz name 3"):
        evaluate_run(m2_run, num_samples=5, data=data, write=False)
