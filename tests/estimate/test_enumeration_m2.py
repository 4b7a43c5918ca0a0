"""A semi-supervised VAE written the way Pyro's own example writes it, outside the package.

Its own networks, a one-hot class, ``config_enumerate`` on the guide and ``TraceEnum_ELBO`` for
training: the estimators take the program unchanged. Without a closed form, the checks are
agreements between estimators that reach log p(x) by different roads.
"""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import SVI, TraceEnum_ELBO, config_enumerate
from sklearn.datasets import load_digits
from torch import nn

from pyro_vae.estimate.ais import annealed_importance_sampling
from pyro_vae.estimate.importance import log_likelihood

CLASSES, LATENT = 10, 2


def _cat(a, b):
    shape = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    return torch.cat([a.expand(*shape, -1), b.expand(*shape, -1)], -1)


class ExampleM2(nn.Module):
    def __init__(self, data_dim):
        super().__init__()
        self.encoder_y = nn.Sequential(nn.Linear(data_dim, 64), nn.Softplus(), nn.Linear(64, 10))
        self.encoder_z = nn.Sequential(
            nn.Linear(data_dim + CLASSES, 64), nn.Softplus(), nn.Linear(64, 2 * LATENT)
        )
        self.decoder = nn.Sequential(
            nn.Linear(LATENT + CLASSES, 64), nn.Softplus(), nn.Linear(64, data_dim)
        )

    def model(self, xs, ys=None):
        pyro.module("ss_vae", self)
        with pyro.plate("data", xs.shape[0]):
            zs = pyro.sample("z", dist.Normal(xs.new_zeros(LATENT), 1.0).to_event(1))
            prior = xs.new_full((CLASSES,), 1.0 / CLASSES)
            ys = pyro.sample("y", dist.OneHotCategorical(prior), obs=ys)
            logits = self.decoder(_cat(zs, ys))
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(1), obs=xs)

    def guide(self, xs, ys=None):
        pyro.module("ss_vae", self)
        with pyro.plate("data", xs.shape[0]):
            if ys is None:
                probs = self.encoder_y(xs).softmax(-1)
                ys = pyro.sample("y", dist.OneHotCategorical(probs))
            loc, raw = self.encoder_z(_cat(xs, ys)).chunk(2, -1)
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-3).to_event(1))


@pytest.fixture(scope="module")
def trained():
    digits = load_digits()
    x = torch.tensor(digits.data > 7, dtype=torch.float32)
    y = nn.functional.one_hot(torch.tensor(digits.target), CLASSES).float()
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    m2 = ExampleM2(x.shape[1])
    guide = config_enumerate(m2.guide, "parallel", expand=True)
    svi = SVI(
        m2.model,
        guide,
        pyro.optim.Adam({"lr": 3e-3}),
        TraceEnum_ELBO(max_plate_nesting=1, strict_enumeration_warning=False),
    )
    for step in range(300):
        rows = slice(100 * (step % 16), 100 * (step % 16) + 100)
        labelled = step % 4 == 0  # a quarter of the steps see labels
        svi.step(x[rows], y[rows] if labelled else None)
    test = slice(1700, 1724)
    return m2, guide, x[test], y[test]


def test_the_class_summed_and_drawn_reach_the_same_log_p_x(trained):
    m2, guide, x, _ = trained
    torch.manual_seed(0)
    summed = log_likelihood(m2.model, guide, x, 4000)
    drawn = log_likelihood(m2.model, guide, x, 4000, discrete="sample")
    difference = summed.estimate - drawn.estimate
    se = np.sqrt(summed.standard_error**2 + drawn.standard_error**2)
    assert np.all(np.abs(difference) < 5 * se + 1e-4)
    assert abs(difference.mean()) < 4 * np.sqrt(np.sum(se**2)) / se.size + 1e-4


def test_log_p_x_y_over_all_classes_sums_to_log_p_x(trained):
    m2, guide, x, _ = trained
    torch.manual_seed(1)
    joint = [
        log_likelihood(
            m2.model,
            guide,
            x,
            2000,
            args=(nn.functional.one_hot(torch.full((x.shape[0],), c), CLASSES).float(),),
        )
        for c in range(CLASSES)
    ]
    by_class = np.stack([j.estimate for j in joint])
    total = np.logaddexp.reduce(by_class, axis=0)
    marginal = log_likelihood(m2.model, guide, x, 4000)
    # the delta-method error of the log of a sum of independent estimates
    weights = np.exp(by_class - total)
    se_total = np.sqrt(np.sum((weights * np.stack([j.standard_error for j in joint])) ** 2, 0))
    se = np.sqrt(se_total**2 + marginal.standard_error**2)
    assert np.all(np.abs(total - marginal.estimate) < 5 * se + 1e-4)


def test_ais_takes_the_program_unchanged_and_agrees_with_importance_sampling(trained):
    m2, guide, x, _ = trained
    torch.manual_seed(2)
    reference = log_likelihood(m2.model, guide, x, 4000)
    ais = annealed_importance_sampling(m2.model, guide, x, num_chains=16, num_steps=100)
    difference = ais.estimate - reference.estimate
    mean = difference.mean()
    se = difference.std(ddof=1) / np.sqrt(difference.size)
    assert abs(mean) < 4 * se + 0.05


def test_ais_from_the_prior_sums_the_class_that_the_guide_marks(trained):
    # the example's model does not mark y; its guide does, and AIS sums it in both programs
    m2, guide, x, _ = trained
    torch.manual_seed(3)
    reference = log_likelihood(m2.model, guide, x[:8], 4000)
    ais = annealed_importance_sampling(
        m2.model, guide, x[:8], num_chains=16, num_steps=200, start="prior"
    )
    difference = ais.estimate - reference.estimate
    assert abs(difference.mean()) < 4 * difference.std(ddof=1) / np.sqrt(8) + 0.1
    with pytest.raises(ValueError, match="'y' is discrete"):
        annealed_importance_sampling(m2.model, None, x[:2], num_steps=2, start="prior")
