"""Fitting the CVAE's baseline first: best epoch kept, held fixed, scored exactly, resumed."""

import pytest
import torch

from pyro_vae import Config, evaluate_run, load_run, train
from pyro_vae.data.splits import load_data
from pyro_vae.errors import InputError
from pyro_vae.models.baseline import build_baseline
from pyro_vae.running.baseline import baseline_nll, fit_baseline

CVAE = {"model": "cvae", "condition": "quadrants:2", "latent_dim": 2, "hidden_dims": (32,)}


def test_fitting_lowers_the_validation_nll_and_keeps_the_best_epoch():
    config = Config(**CVAE)
    splits = load_data(config, "binary")
    torch.manual_seed(0)
    baseline = build_baseline(
        target_dim=splits.target_dim, condition_dim=splits.condition_dim, hidden_dims=(32,)
    )
    start = float(baseline_nll(baseline, splits.validation).mean())
    fit = fit_baseline(baseline, splits, epochs=4, seed=0)
    kept = float(baseline_nll(baseline, splits.validation).mean())
    assert fit.epochs == 4 and 1 <= fit.best_epoch <= 4
    assert kept == pytest.approx(fit.validation_nll, abs=1e-4)  # the kept weights are the best's
    assert kept < start - 1.0


def test_a_run_fits_it_once_holds_it_fixed_and_evaluation_scores_it_exactly(tmp_path):
    run_dir = tmp_path / "run"
    first = train(Config(epochs=1, baseline_epochs=3, **CVAE), run_dir)
    fitted = {k: v.clone() for k, v in first.vae.baseline.state_dict().items()}
    resumed = train(Config(epochs=3, baseline_epochs=3, **CVAE), run_dir, resume=True)
    assert len(resumed.metrics) == 3
    for name, value in resumed.vae.baseline.state_dict().items():  # not refitted, not trained
        assert torch.equal(value, fitted[name]), name
    summary = evaluate_run(run_dir, num_samples=20, proposals=("guide",), limit=40).summary
    run = load_run(run_dir)
    points = run.load_data().test[:40]
    by_hand = baseline_nll(run.vae.baseline, points)
    assert summary["baseline"]["nll"] == pytest.approx(float(by_hand.mean()), abs=1e-4)


def test_a_run_with_a_baseline_resumes_to_the_uninterrupted_run(tmp_path):
    config = Config(epochs=2, baseline_epochs=2, **CVAE)
    whole = train(config, tmp_path / "whole")
    train(config.replace(epochs=1), tmp_path / "cut")
    train(config, tmp_path / "cut", resume=True)
    assert (tmp_path / "whole/model.safetensors").read_bytes() == (
        tmp_path / "cut/model.safetensors"
    ).read_bytes()
    assert whole.vae.baseline is not None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "vae", "condition": "none"}, "is for the conditional VAE"),
        ({"prior_network": "none"}, "feeds the prior network"),
        ({"baseline_epochs": -1}, "must be >= 0"),
    ],
)
def test_settings_a_baseline_cannot_take_are_refused(options, message):
    settings = {**CVAE, "baseline_epochs": 2, **options}
    with pytest.raises(InputError, match=message):
        Config(**settings).validate()
