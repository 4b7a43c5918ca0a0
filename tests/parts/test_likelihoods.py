import pyro
import pyro.distributions as dist
import pytest
import torch

from pyro_vae import Config, build_vae
from pyro_vae.parts.likelihoods import LIKELIHOODS, bernoulli_pixels
from pyro_vae.parts.networks import NetworkSpec, output_bias


def build_likelihood(name, data_dim, network="mlp"):
    spec = NetworkSpec(network, (8,), "tanh")
    return LIKELIHOODS.build(name, latent_dim=2, data_dim=data_dim, network=spec, sigma=0.1)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4], ids=["moderate", "large", "extreme"])
def test_bernoulli_pixels_match_torch_bernoulli(scale):
    logits = (torch.randn(7, 3, 20, dtype=torch.float64) * scale).requires_grad_()
    x = torch.bernoulli(torch.full((3, 20), 0.4, dtype=torch.float64))  # broadcast over dim 0
    fast = bernoulli_pixels(logits).log_prob(x)
    slow = dist.Bernoulli(logits=logits).to_event(1).log_prob(x)
    assert fast.shape == (7, 3)
    torch.testing.assert_close(fast, slow)
    (grad_fast,) = torch.autograd.grad(fast.sum(), logits)
    (grad_slow,) = torch.autograd.grad(slow.sum(), logits)
    torch.testing.assert_close(grad_fast, grad_slow)


def test_bernoulli_pixels_behave_like_a_pyro_distribution():
    d = bernoulli_pixels(torch.zeros(4, 6))
    assert d.event_shape == (6,) and d.batch_shape == (4,)
    assert d.expand((2, 4)).batch_shape == (2, 4)
    assert type(d.expand((2, 4))) is type(d)
    x = d.sample()
    assert set(x.unique().tolist()) <= {0.0, 1.0}

    def model():
        with pyro.plate("data", 4):
            pyro.sample("x", bernoulli_pixels(torch.zeros(6)), obs=x)

    trace = pyro.poutine.trace(model).get_trace()
    trace.compute_log_prob()
    torch.testing.assert_close(trace.nodes["x"]["log_prob"], torch.full((4,), 6 * -0.6931472))


@pytest.mark.parametrize("name", LIKELIHOODS.names())
def test_every_likelihood_returns_a_distribution_over_flat_data(name):
    likelihood = build_likelihood(name, 12)
    p = likelihood(torch.zeros(5, 3, 2))
    assert p.batch_shape == (5, 3) and p.event_shape == (12,)
    assert likelihood.mean(torch.zeros(5, 2)).shape == (5, 12)


@pytest.mark.parametrize("network", ["mlp", "conv"])
@pytest.mark.parametrize(
    "name", [n for n in LIKELIHOODS.names() if LIKELIHOODS.trait(n, "support") != "discrete"]
)  # the discretized ones start several maps: tests/parts/test_likelihoods_discretized.py
def test_init_from_data_starts_the_decoder_at_the_pixel_marginals(name, network):
    lik = build_likelihood(name, 64, network)
    x = torch.rand(50, 64)
    x[:, 0] = 0.0  # a pixel that is never on: its logit is kept finite
    assert lik.init_from_data(x)
    bias = output_bias(lik.decoder)
    torch.testing.assert_close(bias.detach(), lik.link(x.mean(0)))
    assert torch.isfinite(bias).all() and bias.requires_grad
    if network == "mlp":  # with the last layer's weights at zero, the means are the marginals
        with torch.no_grad():
            lik.decoder[-1].weight.zero_()
        marginals = {"binary": x.mean(0).clamp(1e-3, 1 - 1e-3), "real": x.mean(0)}
        if lik.support in marginals:  # (a continuous Bernoulli's mean is not its parameter)
            torch.testing.assert_close(
                lik.mean(torch.randn(3, 2)), marginals[lik.support].expand(3, 64)
            )


def test_a_likelihood_without_an_output_bias_is_left_alone():
    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), 16)
    vae.likelihood.decoder[-1] = torch.nn.Linear(8, 16, bias=False)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    assert not vae.init_from_data(torch.rand(5, 16))
    assert all(torch.equal(before[k], v) for k, v in vae.state_dict().items())
