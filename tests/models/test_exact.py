"""The estimators against the closed-form log P(X) of the linear-Gaussian model.

Every tolerance below comes from a standard error: of a mean over independent rows (each row of
a repeated batch gets its own proposal draws), or of a binomial share for coverage.
"""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from conftest import make_linear_gaussian, mean_and_se

from pyro_vae import Config, InputError, build_vae, log_likelihood
from pyro_vae.models.exact import LinearGaussianVAE


def perturbed_guide(vae: LinearGaussianVAE, scale: float, shift: float):
    """The exact posterior widened by ``scale`` and moved by ``shift`` posterior sds per axis."""

    def guide(x):
        post = vae.posterior(x)
        tril = post.scale_tril[0]  # the same for every x: keep it unbatched (fast solves)
        with pyro.plate("data", x.shape[0]):
            pyro.sample(
                "z",
                dist.MultivariateNormal(
                    post.loc + shift * tril.diagonal(), scale_tril=scale * tril
                ),
            )

    return guide


def test_marginal_and_posterior_match_bayes_rule():
    vae = make_linear_gaussian(data_dim=7, latent_dim=3, sigma=0.6, seed=0)
    x = vae.sample_data(5)
    cov = vae.weight @ vae.weight.T + 0.36 * torch.eye(7, dtype=torch.float64)
    full = dist.MultivariateNormal(vae.bias, covariance_matrix=cov).log_prob(x)
    torch.testing.assert_close(vae.exact_log_likelihood(x), full)
    # log p(z|x) = log p(z) + log p(x|z) - log p(x) at arbitrary z
    z = torch.randn(4, 5, 3, dtype=torch.float64)
    joint = vae.prior().log_prob(z) + vae.likelihood(z).log_prob(x)
    torch.testing.assert_close(vae.posterior(x).log_prob(z), joint - full)


@pytest.mark.parametrize("num_samples", [1, 7, 1000])
def test_the_exact_posterior_gives_equal_weights_and_the_exact_value(num_samples):
    vae = make_linear_gaussian(data_dim=10, latent_dim=4, sigma=0.5, seed=1)
    x = vae.sample_data(6)
    res = log_likelihood(vae.model, vae.exact_guide, x, num_samples, dtype=torch.float64)
    np.testing.assert_allclose(res.estimate, vae.exact_log_likelihood(x).numpy(), atol=1e-10)
    np.testing.assert_allclose(res.mean_log_weight, res.estimate, atol=1e-10)
    np.testing.assert_allclose(res.ess, num_samples, rtol=1e-9)
    if num_samples > 1:
        np.testing.assert_allclose(res.standard_error, 0.0, atol=1e-6)
    assert not res.bad_khat.any()


def test_float32_evaluation_is_exact_to_float_precision():
    vae = make_linear_gaussian(data_dim=10, latent_dim=4, sigma=0.5, seed=1)
    x = vae.sample_data(6)
    exact = vae.exact_log_likelihood(x).numpy()
    vae32 = vae.float()
    res = log_likelihood(vae32.model, vae32.exact_guide, x.float(), 500)
    np.testing.assert_allclose(res.estimate, exact, rtol=1e-5)


def test_importance_sampling_is_biased_low_and_converges_as_k_grows():
    vae = make_linear_gaussian(data_dim=8, latent_dim=2, sigma=0.7, seed=0)
    x = vae.sample_data(5)
    repeats = 200  # every row of the repeated batch draws its own proposals
    exact = np.tile(vae.exact_log_likelihood(x).numpy(), repeats)
    guide = perturbed_guide(vae, scale=1.5, shift=1.0)
    bias, se = [], []
    for k in (1, 10, 100, 1000):
        res = log_likelihood(vae.model, guide, x.repeat(repeats, 1), k, dtype=torch.float64)
        m, s = mean_and_se(res.estimate - exact)
        bias.append(m)
        se.append(s)
        assert m <= 3 * s  # Jensen: E[log p^] <= log p
    for i in range(3):  # the mean rises with K ...
        assert bias[i + 1] - bias[i] > -3 * np.hypot(se[i], se[i + 1])
    assert bias[1] - bias[0] > 3 * np.hypot(se[0], se[1])
    assert bias[2] - bias[1] > 3 * np.hypot(se[1], se[2])
    # ... and approaches the exact value: the bias shrinks about like 1/K
    assert abs(bias[3]) < 3 * se[3] + abs(bias[1]) / 20


def test_naive_monte_carlo_fails_as_the_latent_dimension_grows():
    gaps, gap_se = [], []
    for latent_dim in (2, 10, 50):
        vae = make_linear_gaussian(data_dim=64, latent_dim=latent_dim, sigma=1.0, seed=latent_dim)
        x = vae.sample_data(20)
        exact = vae.exact_log_likelihood(x).numpy()
        naive = log_likelihood(vae.model, None, x, 1000, proposal="prior", dtype=torch.float64)
        guided = log_likelihood(
            vae.model, perturbed_guide(vae, 1.2, 0.3), x, 1000, dtype=torch.float64
        )
        m, s = mean_and_se(exact - naive.estimate)
        gaps.append(m)
        gap_se.append(s)
        assert m > -3 * s  # never above the exact value on average
        # importance sampling with a good guide stays within a nat in every dimension (it is
        # still biased low at d = 50, by a few tenths: the guide's small error per axis adds up)
        g, gs = mean_and_se(guided.estimate - exact)
        assert -1.0 < g < 3 * gs
        if latent_dim == 50:
            assert naive.ess.mean() < 1.5  # one prior sample carries all the weight
            assert naive.bad_khat.mean() > 0.9
    # the naive estimator's bias grows with the latent dimension
    assert gaps[1] - gaps[0] > 3 * np.hypot(gap_se[0], gap_se[1])
    assert gaps[2] - gaps[1] > 3 * np.hypot(gap_se[1], gap_se[2])
    assert gaps[2] > 100  # nats: far beyond any reported standard error


@pytest.mark.parametrize("num_samples", [100, 1000])
def test_the_standard_error_covers_the_exact_value_at_the_nominal_rate(num_samples):
    vae = make_linear_gaussian(data_dim=8, latent_dim=2, sigma=0.7, seed=2)
    x = vae.sample_data(5)
    repeats = 200
    exact = np.tile(vae.exact_log_likelihood(x).numpy(), repeats)
    guide = perturbed_guide(vae, scale=1.5, shift=1.0)
    res = log_likelihood(vae.model, guide, x.repeat(repeats, 1), num_samples, dtype=torch.float64)
    covered = np.abs(res.estimate - exact) <= 1.96 * res.standard_error
    n = covered.size
    assert abs(covered.mean() - 0.95) < 3 * np.sqrt(0.95 * 0.05 / n)


def test_build_vae_makes_the_linear_gaussian_model_by_name():
    config = Config.from_dict({"model": "linear-gaussian", "latent_dim": 3, "hidden_dims": [8]})
    assert config.likelihood == "gaussian"
    vae = build_vae(config, data_dim=12)
    assert isinstance(vae, LinearGaussianVAE)
    assert vae.weight.shape == (12, 3)
    assert vae.sigma == config.sigma


def test_linear_gaussian_refuses_other_likelihoods():
    with pytest.raises(InputError, match="likelihood='gaussian'"):
        Config.from_dict({"model": "linear-gaussian", "likelihood": "bernoulli"})


@pytest.mark.parametrize("tails", ["light", "heavy"])
def test_standard_errors_cover_where_reliable_and_are_flagged_where_not(tails):
    """Coverage of estimate +- 1.96 se over independent repeats, and what the flags say.

    Light tails (a guide wider than the posterior): k-hat is low, no point is flagged, the mean
    is reliable and the intervals cover at the nominal rate. Heavy tails (a guide narrower than
    the posterior): most points have k-hat above the threshold, the delta-method error is too
    small (the intervals cover far less often), and the data set's mean is flagged with a
    warning. The points of a heavy-tailed proposal whose k-hat came out low by chance are those
    whose samples missed the tail: they cover even less often, which is why a mean is flagged
    as soon as more than a few of its points are.
    """
    from pyro_vae.estimate.diagnostics import reliability_warnings

    vae = make_linear_gaussian(data_dim=8, latent_dim=4, sigma=0.7, seed=2)
    x = vae.sample_data(5)
    repeats, num_samples = 200, 1000
    exact = np.tile(vae.exact_log_likelihood(x).numpy(), repeats)
    guide = perturbed_guide(vae, scale=1.5 if tails == "light" else 0.5, shift=0.5)
    res = log_likelihood(vae.model, guide, x.repeat(repeats, 1), num_samples, dtype=torch.float64)
    covered = np.abs(res.estimate - exact) <= 1.96 * res.standard_error
    reliable = res.se_reliable
    nominal = 0.95 - 3 * np.sqrt(0.95 * 0.05 / covered.size)
    if tails == "light":
        assert reliable.all() and res.summary()["reliable"]
        assert abs(covered.mean() - 0.95) < 3 * np.sqrt(0.95 * 0.05 / covered.size)
        assert reliability_warnings([res]) == []
    else:
        assert (~reliable).mean() > 0.75 and not res.summary()["reliable"]
        assert covered.mean() < nominal
        if reliable.sum() >= 10:
            low = 0.95 - 3 * np.sqrt(0.95 * 0.05 / reliable.sum())
            assert covered[reliable].mean() < low
        (warning,) = reliability_warnings([res])
        assert "k-hat above" in warning and "num_samples" in warning
