import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import Predictive

from pyro_vae import Config, build_vae


@pytest.fixture
def vae():
    return build_vae(Config(latent_dim=3, hidden_dims=(16,)), data_dim=64)


def test_model_and_guide_follow_the_site_convention(vae):
    x = torch.bernoulli(torch.full((5, 64), 0.4))
    guide_tr = poutine.trace(vae.guide).get_trace(x)
    model_tr = poutine.trace(poutine.replay(vae.model, trace=guide_tr)).get_trace(x)
    z_site, x_site = model_tr.nodes["z"], model_tr.nodes["x"]
    assert guide_tr.nodes["z"]["value"].shape == (5, 3)
    assert z_site["fn"].batch_shape == (5,) and z_site["fn"].event_shape == (3,)
    assert x_site["is_observed"] and torch.equal(x_site["value"], x)
    assert x_site["fn"].event_shape == (64,)
    for tr in (guide_tr, model_tr):
        frames = {f.name for f in tr.nodes["z"]["cond_indep_stack"]}
        assert frames == {"data"}
    # both programs register the same parameters with pyro.module
    params = {n for n, s in guide_tr.nodes.items() if s["type"] == "param"}
    assert params == {n for n, s in model_tr.nodes.items() if s["type"] == "param"}
    assert len(params) == len(list(vae.parameters()))


def test_model_without_data_generates(vae):
    x = vae.model(batch_size=4)
    assert x.shape == (4, 64) and set(x.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="batch_size"):
        vae.model()


def test_works_with_pyro_predictive(vae):
    x = torch.bernoulli(torch.full((6, 64), 0.5))
    draws = Predictive(vae.model, guide=vae.guide, num_samples=3, return_sites=["z"])(x)
    assert draws["z"].shape == (3, 6, 3)


def test_sample_reconstruct_encode_shapes(vae):
    x = torch.rand(7, 64)
    assert vae.sample(9).shape == (9, 64)
    recon = vae.reconstruct(x)
    assert recon.shape == (7, 64) and bool(((recon >= 0) & (recon <= 1)).all())
    assert vae.encode(x).shape == (7, 3)


def test_default_architecture_is_784_200_200_50():
    vae = build_vae(Config(), data_dim=784)
    enc = [m.out_features for m in vae.encoder.net if isinstance(m, torch.nn.Linear)]
    dec = [m.out_features for m in vae.likelihood.decoder if isinstance(m, torch.nn.Linear)]
    assert enc == [200, 200, 100] and dec == [200, 200, 784]
    assert [type(m).__name__ for m in vae.encoder.net][1:4:2] == ["Tanh", "Tanh"]


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_likelihoods_give_finite_log_densities(likelihood):
    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,), likelihood=likelihood), data_dim=16)
    x = torch.bernoulli(torch.full((4, 16), 0.5))
    loss = pyro.infer.Trace_ELBO().loss(vae.model, vae.guide, x)
    assert torch.isfinite(torch.tensor(loss))
