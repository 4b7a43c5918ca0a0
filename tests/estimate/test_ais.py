"""Annealed importance sampling and BDMC against models whose log P(X) is exact.

Tolerances come from the estimates' own standard errors (of a mean over datapoints with
independent chains).
"""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from conftest import make_linear_gaussian, mean_and_se

from pyro_vae.estimate.ais import annealed_importance_sampling, linear_schedule, sigmoid_schedule
from pyro_vae.estimate.bdmc import bidirectional_monte_carlo, simulate


def test_schedules_rise_from_zero_to_one():
    for betas in (sigmoid_schedule(10), linear_schedule(10)):
        assert betas[0] == 0 and betas[-1] == 1 and bool((betas.diff() > 0).all())
    with pytest.raises(ValueError, match="rise strictly"):
        annealed_importance_sampling(
            lambda x: None, None, torch.zeros(1, 1), schedule=torch.tensor([0.0, 0.7, 0.5, 1.0])
        )


def test_a_uniform_draw_of_zero_does_not_accept_a_diverged_proposal():
    from pyro_vae.estimate.ais import _metropolis

    log_ratio = torch.tensor([-1e18, float("nan"), -float("inf"), 0.5, -0.1])
    zero = torch.zeros(5)
    assert _metropolis(log_ratio, zero).tolist() == [False, False, False, True, True]
    almost_one = torch.full((5,), 0.99)
    assert _metropolis(log_ratio, almost_one).tolist() == [False, False, False, True, False]


def test_an_infinite_log_ratio_is_a_diverged_proposal_too():
    from pyro_vae.estimate.ais import _metropolis

    assert not _metropolis(torch.tensor([float("inf")]), torch.zeros(1)).item()


def _gamma_programs():
    """A Gamma latent with a LogNormal guide: a diverging trajectory leaves their support."""

    def model(x=None, batch_size=None):
        n = x.shape[0] if x is not None else batch_size
        with pyro.plate("data", n):
            z = pyro.sample("z", dist.Gamma(2.0, 1.0))
            return pyro.sample("x", dist.Normal(z.unsqueeze(-1), 0.05).to_event(1), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.LogNormal(x.mean(-1).clamp(min=1e-3).log(), 0.3))

    return model, guide


def test_a_diverging_trajectory_is_a_rejected_proposal_not_an_exception():
    model, guide = _gamma_programs()
    torch.manual_seed(0)
    x, _ = simulate(model, 6)
    assert pyro.infer.util.is_validation_enabled()  # a check raises on such values
    # a step far too large for a posterior of width ~0.02, held fixed: trajectories overflow
    options = {"num_chains": 8, "num_steps": 30, "leapfrog_steps": 20, "tuning_chains": 0}
    res = annealed_importance_sampling(model, guide, x, step_size=0.5, **options)
    assert np.all(np.isfinite(res.estimate)) and np.all(res.acceptance < 0.2)
    tuned = annealed_importance_sampling(model, guide, x, **{**options, "tuning_chains": 4})
    assert np.all(np.isfinite(tuned.estimate))
    assert tuned.acceptance.mean() > res.acceptance.mean()


@pytest.mark.slow  # about 15 s (CI runs it in its second step)
def test_the_warm_up_fits_the_step_size_so_short_schedules_move_the_chains():
    # the posterior is ~100x narrower than the starting step size of 0.05
    vae = make_linear_gaussian(data_dim=20, latent_dim=10, sigma=0.05, seed=0)
    torch.manual_seed(1)
    x = vae.sample_data(40)
    exact = vae.exact_log_likelihood(x).numpy()

    def guide(x):  # the posterior's mean, a third of its width
        posterior = vae.posterior(x)
        width = posterior.covariance_matrix.diagonal(dim1=-2, dim2=-1).sqrt()
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(posterior.loc, 0.3 * width).to_event(1))

    errors = {}
    for warmup, steps in ((0, 10), (20, 10), (20, 30), (20, 100)):
        torch.manual_seed(0)
        res = annealed_importance_sampling(
            vae.model, guide, x, num_steps=steps, warmup_steps=warmup, dtype=torch.float64
        )
        errors[warmup, steps] = mean_and_se(exact - res.estimate)
        if (warmup, steps) == (0, 10):
            assert res.acceptance.mean() < 0.05  # without it, the chains stay where they start
    cold, warm = errors[0, 10], errors[20, 10]
    assert warm[0] < cold[0] - 3 * np.hypot(cold[1], warm[1])
    for short, long in ((10, 30), (30, 100)):  # a longer schedule is no worse
        a, b = errors[20, short], errors[20, long]
        assert b[0] < a[0] + 2 * np.hypot(a[1], b[1])


def test_without_transitions_ais_is_importance_sampling_with_its_start():
    # the exact posterior as the guide: every importance weight equals P(x)
    vae = make_linear_gaussian(data_dim=6, latent_dim=3, sigma=0.5, seed=1)
    x = vae.sample_data(4)
    res = annealed_importance_sampling(
        vae.model, vae.exact_guide, x, num_chains=5, num_steps=0, dtype=torch.float64
    )
    np.testing.assert_allclose(res.estimate, vae.exact_log_likelihood(x).numpy(), atol=1e-8)
    np.testing.assert_allclose(res.ess, 5.0)


@pytest.mark.slow
def test_ais_from_the_prior_reaches_the_exact_value_in_ten_dimensions():
    # the target of the issue: T = 1,000 from the prior within 0.05 nats per point on average
    vae = make_linear_gaussian(data_dim=12, latent_dim=10, sigma=0.7, seed=2)
    torch.manual_seed(0)
    x = vae.sample_data(200)
    exact = vae.exact_log_likelihood(x).numpy()
    res = annealed_importance_sampling(
        vae.model, None, x, num_chains=32, num_steps=1000, start="prior", dtype=torch.float64
    )
    naive = annealed_importance_sampling(
        vae.model, None, x, num_chains=32, num_steps=0, start="prior", dtype=torch.float64
    )
    mean, se = mean_and_se(res.estimate - exact)
    assert se < 0.02  # 200 points tell an error of 0.05 nats from none
    # unbiased for P(x), so never high beyond its error; low in log space by about
    # var(log w) / 2C (0.7 / 64 here, 0.01 nats)
    assert mean < 3 * se
    assert abs(mean) < 0.05
    assert (naive.estimate - exact).mean() < mean - 10  # naive Monte Carlo is far below
    assert 0.5 < res.acceptance.mean() < 0.8  # adapted towards 0.65


def test_step_sizes_are_per_datapoint_and_tuned_by_the_extra_chains_only():
    vae = make_linear_gaussian(data_dim=6, latent_dim=3, sigma=0.5, seed=5)
    x = vae.sample_data(3)
    options = dict(num_chains=4, num_steps=40, start="prior", dtype=torch.float64)
    fixed = annealed_importance_sampling(vae.model, None, x, tuning_chains=0, **options)
    assert fixed.step_size.shape == (3,)
    np.testing.assert_allclose(fixed.step_size, 0.05)  # nothing tunes it
    tuned = annealed_importance_sampling(vae.model, None, x, tuning_chains=3, **options)
    assert tuned.num_samples == 4 and tuned.ess.max() <= 4  # the tuning chains carry no weight
    assert (tuned.step_size != 0.05).all()
    with pytest.raises(ValueError, match="tuning_chains"):
        annealed_importance_sampling(vae.model, None, x, tuning_chains=-1, **options)


@pytest.mark.slow  # about 15 s (CI runs it in its second step)
def test_ais_from_the_guide_on_a_model_with_two_latent_sites():
    torch.manual_seed(3)
    w = torch.randn(2, 5, dtype=torch.float64)
    sigma = 0.5

    def model(x=None, batch_size=None):
        n = x.shape[0] if x is not None else batch_size
        with pyro.plate("data", n):
            z1 = pyro.sample("z1", dist.Normal(torch.zeros(2, dtype=w.dtype), 1.0).to_event(1))
            z2 = pyro.sample("z2", dist.Normal(z1, 1.0).to_event(1))
            return pyro.sample("x", dist.Normal(z2 @ w, sigma).to_event(1), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            z1 = pyro.sample("z1", dist.Normal(x[:, :2] * 0.3, 1.0).to_event(1))
            pyro.sample("z2", dist.Normal(z1, 0.8).to_event(1))

    x, _ = simulate(model, 30)
    cov = 2.0 * w.T @ w + sigma**2 * torch.eye(5, dtype=w.dtype)  # z2 ~ N(0, 2 I)
    exact = dist.MultivariateNormal(torch.zeros(5, dtype=w.dtype), cov).log_prob(x).numpy()
    res = annealed_importance_sampling(
        model, guide, x, num_chains=8, num_steps=200, dtype=torch.float64
    )
    mean, se = mean_and_se(res.estimate - exact)
    assert abs(mean) < 4 * se


@pytest.mark.slow  # about 13 s (CI runs it in its second step)
def test_bdmc_brackets_the_exact_value_and_the_gap_shrinks():
    vae = make_linear_gaussian(data_dim=8, latent_dim=4, sigma=0.7, seed=4)
    x, latents = simulate(vae.model, 20)
    exact = vae.exact_log_likelihood(x).numpy()
    sandwiches = bidirectional_monte_carlo(
        vae.model,
        None,
        x,
        latents,
        schedules=(10, 300),
        num_chains=8,
        start="prior",
        dtype=torch.float64,
    )
    for s in sandwiches:
        low, low_se = mean_and_se(s.lower.estimate - exact)
        high, high_se = mean_and_se(s.upper.estimate - exact)
        assert low < 3 * low_se and high > -3 * high_se  # lower <= exact <= upper
    gaps = [float(s.gap.mean()) for s in sandwiches]
    assert gaps[1] < gaps[0] / 2


@pytest.mark.parametrize("start", ["guide", "prior"])
def test_the_fast_path_of_a_vae_computes_what_its_pyro_programs_do(start):
    from pyro_vae import Config, build_vae
    from pyro_vae.estimate.targets import Target, VAETarget, target_for, tempered

    vae = build_vae(Config(latent_dim=3, hidden_dims=(8,)), data_dim=6)
    x = torch.bernoulli(torch.full((5, 6), 0.4))
    fast = target_for(vae.model, vae.guide, x)
    assert isinstance(fast, VAETarget)
    generic = Target(vae.model, vae.guide, x)
    sites = fast.latents(4, start)
    transforms = {name: transform for name, (_, transform) in sites.items()}
    u = {name: transform.inv(value) for name, (value, transform) in sites.items()}
    options = {"chains": 4, "start": start, "beta": 0.3, "rest": 0.7, "grad": True}
    for a, b in zip(
        tempered(fast, transforms, u, **options),
        tempered(generic, transforms, u, **options),
        strict=True,
    ):
        if isinstance(a, dict):
            a, b = a["z"], b["z"]
        torch.testing.assert_close(a, b)


def _quadrature(vae, x, half_width=8.0, points=641):
    """log P(x) of a 2-D latent model by a Riemann sum of p(x|z) p(z) on a square grid.

    Also returns the largest log integrand on the grid's border relative to its maximum, which
    says whether the square holds the mass.
    """
    grid = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    cell = 2 * float(torch.log(grid[1] - grid[0]))
    z = torch.cartesian_prod(grid, grid)
    border = (z.abs() == half_width).any(-1)
    with torch.no_grad():
        log_prior = vae.prior().log_prob(z)
        likelihood = vae.likelihood(z)
        values, edges = [], []
        for xi in x:
            integrand = likelihood.log_prob(xi) + log_prior
            top = integrand.max()
            values.append(float(torch.logsumexp(integrand, 0)) + cell)
            edges.append(float(integrand[border].max() - top))
    return np.array(values), max(edges)


@pytest.mark.slow  # trains, then 30 s (CI runs it in its second step)
def test_ais_on_the_two_dimensional_digits_model_agrees_with_quadrature(tmp_path):
    from pyro_vae import Config, load_run, train

    train(Config(latent_dim=2, hidden_dims=(64,), epochs=5), tmp_path / "run")
    run = load_run(tmp_path / "run")
    vae = run.vae.double()
    x = run.load_data().test[:20].double()
    exact, edge = _quadrature(vae, x)
    coarse, _ = _quadrature(vae, x, points=321)
    assert edge < -20  # the square holds all the mass
    assert np.abs(exact - coarse).max() < 1e-3  # and the grid resolves the posterior
    torch.manual_seed(0)
    res = annealed_importance_sampling(
        vae.model, vae.guide, x, num_chains=8, num_steps=300, dtype=torch.float64
    )
    mean, se = mean_and_se(res.estimate - exact)
    assert abs(mean) < 4 * se
    assert se < 0.05  # and the test can tell: AIS is within a few hundredths of a nat


@pytest.mark.slow  # 25-35 s each (CI runs it in its second step)
@pytest.mark.parametrize("start", ["prior", "guide"])
def test_ais_sums_an_enumerated_class_out_of_its_target(start):
    from conftest import loose_mixture_guide, make_mixture

    mix = make_mixture(seed=3)
    torch.manual_seed(0)
    x = mix.sample_data(24)
    exact = mix.exact_log_likelihood(x).numpy()
    guide = loose_mixture_guide(mix) if start == "guide" else None
    res = annealed_importance_sampling(
        mix.model, guide, x, num_chains=16, num_steps=200, start=start, dtype=torch.float64
    )
    mean, se = mean_and_se(res.estimate - exact)
    assert abs(mean) < 4 * se + 0.02
    assert np.all(res.acceptance > 0.5)


@pytest.mark.slow
def test_bdmc_brackets_the_exact_value_of_a_model_with_a_discrete_latent():
    from conftest import loose_mixture_guide, make_mixture

    mix = make_mixture(seed=4)
    torch.manual_seed(0)
    x, latents = simulate(mix.model, 16)
    assert set(latents) == {"y", "z"}  # the class is drawn too; reverse AIS starts from z
    exact = mix.exact_log_likelihood(x).numpy()
    sandwiches = bidirectional_monte_carlo(
        mix.model,
        loose_mixture_guide(mix),
        x,
        latents,
        schedules=(10, 300),
        num_chains=8,
        dtype=torch.float64,
    )
    for s in sandwiches:
        low, low_se = mean_and_se(s.lower.estimate - exact)
        high, high_se = mean_and_se(s.upper.estimate - exact)
        assert low < 3 * low_se and high > -3 * high_se
    gaps = [float(s.gap.mean()) for s in sandwiches]
    assert gaps[1] < gaps[0] / 2


def test_a_discrete_site_that_is_not_marked_for_enumeration_is_refused_by_ais():
    def model(x):
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Bernoulli(0.5))
            z = pyro.sample("z", dist.Normal(y, 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    with pytest.raises(ValueError, match="'y' is discrete .* mark it") as error:
        annealed_importance_sampling(model, None, torch.zeros(3), num_steps=2, start="prior")
    assert "\n" not in str(error.value)
