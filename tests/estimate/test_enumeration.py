"""Discrete latents summed out by enumeration, or drawn, inside per-datapoint importance weights.

The reference is the mixture of linear-Gaussian models, whose log P(X) is exact. Tolerances come
from the estimates' own standard errors.
"""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from conftest import loose_mixture_guide, make_mixture
from pyro import poutine

from pyro_vae.estimate.enumeration import contract_sites, enumerated, prepare
from pyro_vae.estimate.importance import log_likelihood, log_weight_terms, log_weights


@pytest.fixture(scope="module")
def mix():
    return make_mixture(data_dim=6, latent_dim=2, num_classes=4, seed=0)


@pytest.fixture(scope="module")
def data(mix):
    torch.manual_seed(1)
    return mix.sample_data(12)


@pytest.mark.parametrize("discrete", ["sum", "sample"])
def test_the_exact_posterior_gives_the_exact_value_whether_the_class_is_summed_or_drawn(
    mix, data, discrete
):
    res = log_likelihood(
        mix.model, mix.exact_guide, data, 20, discrete=discrete, dtype=torch.float64
    )
    np.testing.assert_allclose(res.estimate, mix.exact_log_likelihood(data).numpy(), atol=1e-10)
    np.testing.assert_allclose(res.ess, 20.0)


def test_an_observed_class_gives_the_joint_log_p_x_y(mix, data):
    y = torch.arange(data.shape[0]) % mix.num_classes
    res = log_likelihood(mix.model, mix.exact_guide, data, 5, args=(y,), dtype=torch.float64)
    joint = mix.posterior_class(data).logits.gather(-1, y[:, None]).squeeze(-1)
    expected = joint + mix.exact_log_likelihood(data)  # log P(y|x) + log P(x)
    np.testing.assert_allclose(res.estimate, expected.numpy(), atol=1e-10)


def _z_only_guide(x):
    with pyro.plate("data", x.shape[0]):
        loc = torch.zeros(x.shape[0], 2, dtype=x.dtype)
        pyro.sample("z", dist.Normal(loc, 1.5).to_event(1))


CASES = {
    # class enumerated in the guide: w = sum_y p(x, y, z_y) / q(z_y | x, y)
    "guide sums the class": ("guide", "sum", "loose"),
    # class drawn from the guide: w = p(x, y, z) / (q(y|x) q(z|x, y))
    "guide draws the class": ("guide", "sample", "loose"),
    # the guide knows z only; the model's own enumeration sums y
    "model sums the class": ("guide", "sum", "z-only"),
    "prior, class summed": ("prior", "sum", None),
    "prior, class drawn": ("prior", "sample", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_way_of_handling_the_class_meets_the_exact_value(mix, data, case):
    proposal, discrete, guide = CASES[case]
    guide = {"loose": loose_mixture_guide(mix), "z-only": _z_only_guide, None: None}[guide]
    torch.manual_seed(2)
    res = log_likelihood(
        mix.model, guide, data, 20_000, proposal=proposal, discrete=discrete, dtype=torch.float64
    )
    error = res.estimate - mix.exact_log_likelihood(data).numpy()
    # each point within 5 standard errors, and the mean within 4 of its own
    assert np.all(np.abs(error) < 5 * res.standard_error + 1e-9), case
    mean_se = np.sqrt(np.sum(res.standard_error**2)) / error.size
    assert abs(error.mean()) < 4 * mean_se, case


def test_summing_a_uniformly_proposed_class_has_lower_variance_than_drawing_it(mix, data):
    # with q(y|x) uniform, the sum over y is the drawn estimator stratified over the classes
    guide = loose_mixture_guide(mix)
    summed = log_likelihood(mix.model, guide, data, 2000, dtype=torch.float64)
    drawn = log_likelihood(mix.model, guide, data, 2000, discrete="sample", dtype=torch.float64)
    assert np.all(summed.ess > drawn.ess)


def test_two_enumerated_sites_are_contracted_like_an_explicit_double_sum():
    probs_a, probs_b = torch.tensor([0.2, 0.8]), torch.tensor([0.1, 0.3, 0.6])
    locs = torch.tensor([[0.0, 1.0, 2.0], [-1.0, 3.0, 0.5]])

    def model(x):
        with pyro.plate("data", x.shape[0]):
            a = pyro.sample("a", dist.Categorical(probs_a), infer={"enumerate": "parallel"})
            b = pyro.sample("b", dist.Categorical(probs_b), infer={"enumerate": "parallel"})
            pyro.sample("x", dist.Normal(locs[a, b], 1.0), obs=x)

    x = torch.tensor([0.3, 2.5, -1.0])
    lw = log_weights(model, None, x, 4, proposal="prior")
    joint = (
        probs_a.log()[:, None, None]
        + probs_b.log()[None, :, None]
        + dist.Normal(locs[..., None], 1.0).log_prob(x)
    )
    expected = joint.logsumexp(0).logsumexp(0)
    torch.testing.assert_close(lw, expected.expand(4, 3))
    trace = poutine.trace(enumerated(model)).get_trace(x)
    prepare([trace])
    total = contract_sites([(trace, n, 1.0) for n in ("a", "b", "x")], [trace])
    torch.testing.assert_close(total, expected)


def test_the_split_into_likelihood_and_latent_terms_is_refused_where_a_site_is_summed(mix, data):
    with pytest.raises(ValueError, match="use log_weights"):
        log_weight_terms(mix.model, mix.exact_guide, data, 3)


def test_extra_arguments_must_be_batched_with_the_data(mix, data):
    with pytest.raises(ValueError, match="batched with the data"):
        log_likelihood(mix.model, mix.exact_guide, data, 3, args=(torch.zeros(2).long(),))
    with pytest.raises(ValueError, match="discrete must be"):
        log_likelihood(mix.model, mix.exact_guide, data, 3, discrete="exact")


def test_a_site_with_an_extra_batch_dimension_is_refused_in_one_line():
    def model(x):
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
            pyro.sample("x", dist.Normal(y + torch.zeros(5, 1, 1, 1), 1.0), obs=x)

    with pytest.raises(ValueError, match="data plate") as error:
        log_weights(model, None, torch.zeros(3), 2, proposal="prior")
    assert "\n" not in str(error.value)


def test_the_elbo_averages_an_enumerated_class_exactly(mix, data):
    from pyro_vae.estimate.importance import elbo_terms

    exact = elbo_terms(mix.model, mix.exact_guide, data, num_particles=3)
    # with the exact posterior the KL to it vanishes: the ELBO is log p(x) itself
    np.testing.assert_allclose(exact.elbo, mix.exact_log_likelihood(data), atol=1e-9)
    guide = loose_mixture_guide(mix)
    torch.manual_seed(3)
    terms = elbo_terms(mix.model, guide, data, num_particles=4000)
    pyro_elbo = -pyro.infer.TraceEnum_ELBO(
        num_particles=4000, vectorize_particles=True, max_plate_nesting=1
    ).loss(mix.model, guide, data)
    assert abs(float(terms.elbo.sum()) - pyro_elbo) < 0.05 * abs(pyro_elbo) / 100 + 0.5
    assert torch.all(terms.elbo < mix.exact_log_likelihood(data))
    torch.testing.assert_close(terms.elbo, terms.reconstruction - terms.kl)


def test_a_batch_of_one_point_is_contracted_like_any_other(mix, data):
    # a plate of size 1 leaves no dimension in Pyro's packed tensors; the sum must still work
    one = log_weights(mix.model, mix.exact_guide, data[:1], 1).double()
    exact = mix.exact_log_likelihood(data[:1])
    torch.testing.assert_close(one, exact.expand(1, 1), atol=1e-8, rtol=0)
