"""The conditional VAE: its programs, its prior network and what it refuses."""

import pytest
import torch
from pyro.infer import Trace_ELBO

from pyro_vae import Config, InputError, build_vae
from pyro_vae.models.cvae import ConditionalVAE, build_cvae


@pytest.fixture
def cvae():
    torch.manual_seed(0)
    return build_cvae(target_dim=10, condition_dim=4, latent_dim=3, hidden_dims=(16,))


def test_the_programs_take_target_and_condition_or_rows_of_both(cvae):
    y, x = torch.bernoulli(torch.full((5, 10), 0.5)), torch.rand(5, 4)
    torch.manual_seed(1)
    apart = Trace_ELBO().loss(cvae.model, cvae.guide, y, x)
    torch.manual_seed(1)
    together = Trace_ELBO().loss(cvae.model, cvae.guide, torch.cat([y, x], 1))
    assert apart == pytest.approx(together)
    with pytest.raises(ValueError, match=r"rows \[Y, X\] of 10 \+ 4 values \(got 10 values\)"):
        cvae.guide(y)


def test_the_prior_network_reads_the_condition_and_none_leaves_the_prior_unconditional(cvae):
    x = torch.randn(3, 4)
    assert cvae.prior.conditional
    assert not torch.allclose(cvae.prior(x).mean[0], cvae.prior(x).mean[1])
    plain = build_cvae(target_dim=10, condition_dim=4, latent_dim=3, prior_network="none")
    assert not plain.prior.conditional
    assert plain.prior(x).batch_shape == (3,)
    assert torch.equal(plain.prior(x).mean, torch.zeros(3, 3))
    with pytest.raises(InputError, match="vamp.* places its components at data"):
        build_cvae(target_dim=10, condition_dim=4, latent_dim=3, prior_network="none", prior="vamp")


def test_completions_decode_draws_of_the_prior_network(cvae):
    x = torch.rand(2, 4)
    completions = cvae.complete(x, num=6)
    assert completions.shape == (6, 2, 10)
    assert not torch.allclose(completions[0], completions[1])  # z varies between draws
    assert cvae.reconstruct(torch.cat([torch.rand(2, 10), x], 1)).shape == (2, 10)
    with pytest.raises(InputError, match="draws Y given a condition"):
        cvae.sample(4)
    with pytest.raises(InputError, match="decodes a latent together with a condition"):
        cvae.decode(torch.zeros(2, 3))


def test_build_vae_makes_the_cvae_of_a_config():
    config = Config(model="cvae", condition="label", latent_dim=2, hidden_dims=(8,))
    vae = build_vae(config, 74, 10, condition_dim=10)
    assert isinstance(vae, ConditionalVAE)
    assert (vae.target_dim, vae.condition_dim) == (64, 10)
    with pytest.raises(InputError, match="needs a condition beside each target"):
        build_vae(config, 74)
