import numpy as np
import pytest
import torch
from conftest import small_config

from pyro_vae import GUIDES, PRIORS, Config, build_vae
from pyro_vae.estimate.dataset import (
    compare_estimators,
    estimate_dataset,
    evaluate_log_likelihood,
    exact_log_likelihood,
)
from pyro_vae.models.exact import LinearGaussianVAE


@pytest.fixture
def vae():
    return build_vae(Config(latent_dim=2, hidden_dims=(16,)), data_dim=20)


@pytest.fixture
def x():
    return torch.bernoulli(torch.full((45, 20), 0.3))


def test_batches_cover_every_point_in_order(vae, x):
    torch.manual_seed(0)
    one = estimate_dataset(vae.model, vae.guide, x, 2000, batch_size=45)
    torch.manual_seed(1)
    many = estimate_dataset(vae.model, vae.guide, x, 2000, batch_size=7)
    assert many.estimate.shape == (45,)
    # independent draws of the same quantities: equal within their standard errors, point by point
    se = np.hypot(one.standard_error, many.standard_error)
    assert (np.abs(one.estimate - many.estimate) < 5 * se + 1e-4).all()


def test_each_proposal_is_reproducible_from_the_seed(vae, x):
    first = evaluate_log_likelihood(vae, x, 50, proposals=("guide", "prior"), seed=3)
    prior_only = evaluate_log_likelihood(vae, x, 50, proposals=("prior",), seed=3)
    np.testing.assert_array_equal(
        first.results["prior"].estimate, prior_only.results["prior"].estimate
    )
    summary = first.summary()
    assert summary["num_points"] == 45 and summary["num_samples"] == 50
    assert "exact_log_likelihood" not in summary
    assert len(first.per_point_rows()) == 90


def test_float64_evaluation_leaves_the_model_alone(vae, x):
    evaluation = evaluate_log_likelihood(vae, x, 20, dtype=torch.float64)
    assert next(vae.parameters()).dtype == torch.float32
    assert evaluation.results["guide"].estimate.dtype == np.float64


def test_the_exact_value_comes_with_a_linear_gaussian_model():
    torch.manual_seed(0)
    vae = LinearGaussianVAE(data_dim=6, latent_dim=2, sigma=0.5)
    x = vae.sample_data(10)
    np.testing.assert_allclose(exact_log_likelihood(vae, x), vae.exact_log_likelihood(x).numpy())
    rows = compare_estimators(vae, x, ks=[10, 100], proposals=("guide",))
    assert [r["num_samples"] for r in rows] == [10, 100]
    assert rows[0]["exact_log_likelihood"] == pytest.approx(
        float(vae.exact_log_likelihood(x).mean())
    )
    # the bound tightens towards the exact value
    assert rows[0]["log_likelihood"] <= rows[1]["log_likelihood"] + 3 * rows[1]["mc_standard_error"]


@pytest.mark.parametrize("guide", GUIDES.names())
@pytest.mark.parametrize("prior", PRIORS.names())
def test_float64_evaluation_works_for_every_prior_and_guide(prior, guide):
    config = small_config(prior, guide)
    vae = build_vae(config, 6)
    x = torch.bernoulli(torch.full((4, 6), 0.4))
    evaluation = evaluate_log_likelihood(
        vae, x, 40, proposals=("guide", "prior"), dtype=torch.float64
    )
    for res in evaluation.results.values():
        assert np.isfinite(res.estimate).all()
    assert torch.get_default_dtype() == torch.float32  # left as it was
    assert next(vae.parameters()).dtype == torch.float32  # the caller's model untouched


def test_extra_arguments_travel_with_their_rows_whatever_the_batch_size():
    from conftest import make_mixture

    mix = make_mixture(seed=5)
    torch.manual_seed(0)
    x = mix.sample_data(7)
    y = torch.arange(7) % mix.num_classes
    joint = mix.posterior_class(x).logits.gather(-1, y[:, None]).squeeze(-1)
    expected = (joint + mix.exact_log_likelihood(x)).numpy()  # log P(x, y)
    for batch_size in (3, 7):
        res = estimate_dataset(
            mix.model,
            mix.exact_guide,
            x,
            4,
            args=(y,),
            batch_size=batch_size,
            dtype=torch.float64,
            seed=0,
        )
        np.testing.assert_allclose(res.estimate, expected, atol=1e-10)
    ais = estimate_dataset(
        mix.model,
        mix.exact_guide,
        x,
        0,
        args=(y,),
        proposal="ais",
        batch_size=3,
        dtype=torch.float64,
        ais={"num_chains": 4, "num_steps": 0},
    )
    np.testing.assert_allclose(ais.estimate, expected, atol=1e-10)
    with pytest.raises(ValueError, match="extra argument 0 has 6 rows"):
        estimate_dataset(mix.model, mix.exact_guide, x, 4, args=(y[:6],))
