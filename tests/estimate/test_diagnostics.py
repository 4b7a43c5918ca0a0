import math

import numpy as np
import pytest

from pyro_vae.estimate.diagnostics import (
    ess_from_sums,
    khat_threshold,
    pareto_khat,
    pareto_khat_from_tail,
    pareto_tail_size,
    standard_error_from_ess,
    standard_error_reliable,
)


@pytest.mark.parametrize("tail_index", [0.3, 0.5, 0.75, 1.0])
def test_khat_recovers_a_known_tail_index(tail_index):
    # weights w = 1 + Lomax(1/k) have a Pareto right tail with index k
    rng = np.random.default_rng(42)
    lw = np.log1p(rng.pareto(1.0 / tail_index, size=(8, 20_000)))
    khat = pareto_khat(lw)
    assert khat.shape == (8,)
    # the k-hat of 8 independent draws scatters around the true index; their mean is close
    assert abs(khat.mean() - tail_index) < 3 * khat.std(ddof=1) / np.sqrt(8) + 0.03


def test_khat_of_light_tails_is_small():
    rng = np.random.default_rng(0)
    assert pareto_khat(rng.standard_normal(5000) * 0.1) < 0.3


def test_khat_from_the_tail_equals_khat_from_everything():
    rng = np.random.default_rng(7)
    lw = rng.standard_normal((5, 3000)) * 2
    tail = np.sort(lw, axis=-1)[:, -pareto_tail_size(3000) :]
    np.testing.assert_allclose(pareto_khat_from_tail(tail, 3000), pareto_khat(lw))


def test_ess_and_standard_error():
    lw = np.log(np.array([1.0, 1.0, 1.0, 1.0]))
    ess = ess_from_sums(np.logaddexp.reduce(lw), np.logaddexp.reduce(2 * lw))
    assert ess == pytest.approx(4.0)
    one = np.array([0.0, -np.inf, -np.inf, -np.inf])
    assert ess_from_sums(np.logaddexp.reduce(one), np.logaddexp.reduce(2 * one)) == pytest.approx(
        1.0
    )
    # delta method against the direct formula sd(w) / (sqrt(K) mean(w))
    rng = np.random.default_rng(1)
    w = rng.lognormal(size=1000)
    ess = w.sum() ** 2 / (w**2).sum()
    direct = w.std(ddof=1) / (np.sqrt(w.size) * w.mean())
    assert standard_error_from_ess(ess, w.size) == pytest.approx(direct)
    assert np.isnan(standard_error_from_ess(np.array(1.0), 1))


def test_threshold():
    assert khat_threshold(5000) == pytest.approx(0.7)
    assert khat_threshold(100) == pytest.approx(0.5)


def test_khat_from_the_tail_works_in_blocks_of_rows():
    rng = np.random.default_rng(3)
    num_samples = 300_000  # more than one row per block would hold
    tail = np.sort(rng.standard_normal((3, num_samples)), axis=-1)[
        :, -pareto_tail_size(num_samples) :
    ]
    blocked = pareto_khat_from_tail(tail, num_samples)
    assert blocked.shape == (3,)
    for i in range(3):
        assert blocked[i] == pytest.approx(pareto_khat_from_tail(tail[i : i + 1], num_samples)[0])


def test_khat_is_nan_where_no_tail_can_be_fitted():
    assert np.isnan(pareto_khat(np.zeros((2, 10)))).all()  # too few samples
    assert np.isnan(pareto_khat(np.zeros(1000)))  # all weights tied


def test_one_sample_per_point_gives_no_standard_error_and_no_trust():
    import torch

    from pyro_vae import Config, build_vae
    from pyro_vae.estimate.importance import log_likelihood

    assert not standard_error_reliable(np.array([np.nan]), np.array([1.0]), 1).any()
    assert standard_error_reliable(np.array([np.nan]), np.array([2.0]), 2).all()  # equal weights
    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=4)
    summary = log_likelihood(vae.model, vae.guide, torch.ones(3, 4), 1).summary()
    assert math.isnan(summary["mc_standard_error"]) and summary["reliable"] is False
