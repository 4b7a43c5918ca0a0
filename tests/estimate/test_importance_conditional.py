"""log P(Y|X) of conditional programs: the condition passed as an extra argument.

The reference is the conditional linear-Gaussian model, whose log P(Y|X) is exact; tolerances
come from the estimates' own standard errors. A CVAE written the way Pyro's tutorial writes it
(condition first, target second, its own networks) is evaluated as it is.
"""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from conftest import mean_and_se
from torch import nn

from pyro_vae.estimate.ais import annealed_importance_sampling
from pyro_vae.estimate.bdmc import bidirectional_monte_carlo, simulate
from pyro_vae.estimate.importance import elbo_terms, log_likelihood
from pyro_vae.models.exact import ConditionalLinearGaussian


@pytest.fixture(scope="module")
def cond():
    torch.manual_seed(0)
    return ConditionalLinearGaussian(target_dim=6, condition_dim=3, latent_dim=2).double()


@pytest.fixture(scope="module")
def data(cond):
    torch.manual_seed(1)
    x = torch.randn(12, 3, dtype=torch.float64)
    return cond.sample_data(x), x


def loose_guide(cond, inflate=2.0):
    """P(z|X, Y) with its covariance inflated: a proposal whose weights vary."""

    def guide(y, x):
        with pyro.plate("data", x.shape[0]):
            exact = cond.posterior(y, x)
            pyro.sample("z", dist.MultivariateNormal(exact.loc, inflate * exact.covariance_matrix))

    return guide


def test_the_exact_posterior_gives_the_exact_conditional_value(cond, data):
    y, x = data
    res = log_likelihood(cond.model, cond.exact_guide, y, 10, args=(x,), dtype=torch.float64)
    np.testing.assert_allclose(res.estimate, cond.exact_log_likelihood(y, x).numpy(), atol=1e-10)


@pytest.mark.parametrize("proposal", ["guide", "prior"])
def test_importance_sampling_and_naive_monte_carlo_meet_log_p_y_given_x(cond, data, proposal):
    y, x = data
    torch.manual_seed(2)
    guide = loose_guide(cond) if proposal == "guide" else None
    res = log_likelihood(
        cond.model, guide, y, 20_000, args=(x,), proposal=proposal, dtype=torch.float64
    )
    error = res.estimate - cond.exact_log_likelihood(y, x).numpy()
    assert np.all(np.abs(error) < 5 * res.standard_error + 1e-9)
    mean_se = np.sqrt(np.sum(res.standard_error**2)) / error.size
    assert abs(error.mean()) < 4 * mean_se


def test_the_elbo_of_the_conditional_model_bounds_it(cond, data):
    y, x = data
    torch.manual_seed(3)
    terms = elbo_terms(cond.model, loose_guide(cond), y, args=(x,), num_particles=4000)
    exact = cond.exact_log_likelihood(y, x).numpy()
    assert np.all(terms.elbo.numpy() < exact)


@pytest.mark.slow
def test_ais_and_bdmc_meet_the_exact_conditional_value(cond):
    torch.manual_seed(4)
    x = torch.randn(16, 3, dtype=torch.float64)
    y, latents = simulate(cond.model, 16, args=(x,))
    exact = cond.exact_log_likelihood(y, x).numpy()
    res = annealed_importance_sampling(
        cond.model, None, y, args=(x,), num_chains=8, num_steps=200, start="prior",
        dtype=torch.float64,
    )  # fmt: skip
    mean, se = mean_and_se(res.estimate - exact)
    assert abs(mean) < 4 * se + 0.02
    (sandwich,) = bidirectional_monte_carlo(
        cond.model, loose_guide(cond), y, latents, args=(x,), schedules=(200,), num_chains=8,
        dtype=torch.float64,
    )  # fmt: skip
    low, low_se = mean_and_se(sandwich.lower.estimate - exact)
    high, high_se = mean_and_se(sandwich.upper.estimate - exact)
    assert low < 3 * low_se and high > -3 * high_se
    assert float(sandwich.gap.mean()) < 0.5


class TutorialStyleCVAE(nn.Module):
    """A CVAE as Pyro's tutorial writes one: ``model(xs, ys)``, the condition first, its own
    networks, the prior network reading the condition, missing pixels of the input set to -1."""

    def __init__(self, width=16, given=4, latent=2):
        super().__init__()
        self.latent, self.given = latent, given
        self.prior_net = nn.Linear(width, 2 * latent)
        self.generation_net = nn.Sequential(nn.Linear(latent, width), nn.Sigmoid())
        self.recognition_net = nn.Linear(2 * width, 2 * latent)

    def model(self, xs, ys=None):
        pyro.module("generation_net", self)
        with pyro.plate("data", xs.shape[0]):
            loc, raw = self.prior_net(xs).chunk(2, -1)
            zs = pyro.sample("z", dist.Normal(loc, raw.exp()).to_event(1))
            probs = self.generation_net(zs)
            # the tutorial scores the missing pixels only: those given are masked out
            mask = (xs == -1).expand(probs.shape)
            pyro.sample("y", dist.Bernoulli(probs).mask(mask).to_event(1), obs=ys)

    def guide(self, xs, ys=None):
        with pyro.plate("data", xs.shape[0]):
            loc, raw = self.recognition_net(torch.cat([xs, ys], -1)).chunk(2, -1)
            pyro.sample("z", dist.Normal(loc, raw.exp()).to_event(1))


def test_a_tutorial_style_cvae_is_evaluated_as_it_is():
    torch.manual_seed(5)
    net = TutorialStyleCVAE()
    images = torch.bernoulli(torch.full((6, 16), 0.4))
    xs = torch.where(torch.arange(16) < 4, images, torch.tensor(-1.0))  # 4 pixels given
    # the estimators take the first argument as the batch and the rest as args
    guided = log_likelihood(net.model, net.guide, xs, 500, args=(images,))
    naive = log_likelihood(net.model, None, xs, 500, args=(images,), proposal="prior")
    assert guided.estimate.shape == (6,) and np.isfinite(guided.estimate).all()
    # a bound below, an estimate above it, and the two estimators agree within their errors
    bound = elbo_terms(net.model, net.guide, xs, args=(images,), num_particles=500).elbo.numpy()
    assert np.all(guided.estimate > bound - 5 * guided.standard_error)
    se = np.sqrt(guided.standard_error**2 + naive.standard_error**2)
    assert np.all(np.abs(guided.estimate - naive.estimate) < 5 * se + 1e-6)
    ais = annealed_importance_sampling(
        net.model, net.guide, xs, args=(images,), num_chains=4, num_steps=50
    )
    assert np.all(np.abs(ais.estimate - naive.estimate) < 5 * naive.standard_error + 0.1)
