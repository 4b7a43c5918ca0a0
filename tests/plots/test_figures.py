import numpy as np
import pytest
import torch

from pyro_vae import Config, build_vae
from pyro_vae.errors import InputError
from pyro_vae.plots.figures import (
    curves_figure,
    estimators_figure,
    image_grid,
    interpolation_figure,
    khat_figure,
    latent_figure,
    manifold_figure,
    reconstructions_figure,
    samples_figure,
)


def test_image_grid_is_upright():
    img = torch.zeros(2, 64)
    img[:, :8] = 1.0  # top rows inked
    fig = image_grid(img, (8, 8))
    data = fig.axes[0].images[0].get_array()
    assert data[1, 1:9].min() == 1.0 and data[8, 1:9].max() == 0.0


def test_samples_figure():
    fig = samples_figure(build_vae(Config(latent_dim=2, hidden_dims=(8,)), 64), 9, (8, 8))
    assert "samples" in fig.axes[0].get_title()


def _vae(latent_dim=2):
    return build_vae(Config(latent_dim=latent_dim, hidden_dims=(8,)), 64).eval()


def test_manifold_axes_grow_right_and_up():
    fig = manifold_figure(_vae(), (8, 8), steps=5)
    ax = fig.axes[0]
    xs = [float(t.get_text()) for t in ax.get_xticklabels()]
    ys = [float(t.get_text()) for t in ax.get_yticklabels()]
    assert xs == sorted(xs) and xs[0] < 0 < xs[-1]
    assert ys == sorted(ys, reverse=True)  # image rows run downwards: z_2 shrinks
    # the middle quantile of N(0, 1) is 0 and the outer ones are +-1.28 for 5 steps
    assert xs[len(xs) // 2] == pytest.approx(0.0, abs=1e-2) and xs[-1] == pytest.approx(
        1.28, abs=1e-2
    )


def test_manifold_tile_is_the_decoded_grid_point():
    vae = _vae()
    fig = manifold_figure(vae, (8, 8), steps=3)
    pixels = fig.axes[0].images[0].get_array()
    z = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([[5 / 6, 5 / 6]]))  # top right
    expected = vae.likelihood.mean(z).detach().reshape(8, 8).numpy()
    top_right = pixels[1:9, 1 + 2 * 9 : 1 + 2 * 9 + 8]
    np.testing.assert_allclose(top_right, expected, atol=1e-6)


def test_manifold_needs_two_latent_dimensions():
    with pytest.raises(InputError, match="latent_dim=2"):
        manifold_figure(_vae(3), (8, 8))


def test_latent_figure_uses_principal_components_beyond_two_dimensions():
    fig = latent_figure(_vae(5), torch.rand(40, 64), torch.arange(40) % 4)
    ax = fig.axes[0]
    assert "principal component 1" in ax.get_xlabel()
    assert len(ax.get_legend().get_texts()) == 4
    assert latent_figure(_vae(2), torch.rand(10, 64)).axes[0].get_xlabel() == "z_1"


def test_reconstructions_and_interpolation_layouts():
    vae = _vae()
    x = torch.rand(6, 64)
    left, right = reconstructions_figure(vae, x, (8, 8)).axes
    assert left.images[0].get_array().shape == right.images[0].get_array().shape
    grid = interpolation_figure(vae, x, (8, 8), steps=4).axes[0].images[0].get_array()
    assert grid.shape == (1 + 3 * 9, 1 + 6 * 9)  # 3 pairs, input + 4 steps + input
    np.testing.assert_allclose(grid[1:9, 1:9], x[0].reshape(8, 8).numpy(), atol=1e-6)


def test_curves_with_and_without_training_columns():
    rows = [
        {"epoch": e, "val_elbo": -90.0 + e, "val_reconstruction": -80.0, "val_kl": 10.0}
        for e in (1, 2)
    ]
    assert len(curves_figure(rows).axes[0].lines) == 1
    full = [
        {
            **r,
            "train_elbo": -89.0,
            "train_reconstruction": -79.0,
            "train_kl": 10.0,
            "train_objective": -91.0,
        }
        for r in rows
    ]
    assert [len(ax.lines) for ax in curves_figure(full).axes] == [3, 2, 2]
    with pytest.raises(InputError, match="no finished epoch"):
        curves_figure([])


def test_estimators_figure_draws_the_exact_value():
    rows = [
        {
            "num_samples": k,
            "proposal": p,
            "log_likelihood": -10.0 - 1 / k,
            "mc_standard_error": 0.1,
            "exact_log_likelihood": -10.0,
        }
        for k in (1, 10)
        for p in ("guide", "prior")
    ]
    ax = estimators_figure(rows).axes[0]
    assert any(list(line.get_ydata()) == [-10.0, -10.0] for line in ax.lines)
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"exact log P(X)"}


def test_estimators_figure_draws_ais_as_a_line_per_schedule():
    rows = [
        {
            "num_samples": k,
            "proposal": "guide",
            "log_likelihood": -12.0 + k / 10,
            "mc_standard_error": 0.1,
            "num_steps": 0,
        }
        for k in (1, 10)
    ] + [
        {
            "num_samples": 4,
            "proposal": "ais",
            "log_likelihood": value,
            "mc_standard_error": 0.05,
            "num_steps": t,
        }
        for t, value in ((1000.0, -10.5), (100.0, -11.0))
    ]
    ax = estimators_figure(rows).axes[0]
    flat = [line for line in ax.lines if len(set(line.get_ydata())) == 1]
    assert sorted(line.get_ydata()[0] for line in flat) == [-11.0, -10.5]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "AIS, T = 100 (4 chains)" in labels and "AIS, T = 1000 (4 chains)" in labels
    assert ax.get_xlim()[1] >= 10  # the K axis still spans the importance-sampling rows
    only_ais = estimators_figure(rows[2:]).axes[0]
    assert only_ais.get_xscale() == "log" and len(only_ais.lines) == 2


def test_khat_figure_marks_the_thresholds_and_skips_missing_values():
    rows = [{"proposal": "guide", "estimate": -90.0, "khat": k} for k in (0.2, 0.9, float("nan"))]
    fig = khat_figure(rows, num_samples=30)
    ax = fig.axes[0]
    levels = {round(line.get_ydata()[0], 3) for line in ax.lines}
    assert levels == {0.5, 0.7, 1.0, 0.323}  # min(1 - 1/log10(30), 0.7) = 0.323
    assert [t.get_text()[:5] for t in fig.axes[1].get_yticklabels()] == ["< 0.5", "< 0.7", "> 1 n"]
    assert len(ax.collections[0].get_offsets()) == 2
    # the legend counts with the threshold the evaluation's table uses for this K
    assert "50% > 0.32" in ax.get_legend().get_texts()[0].get_text()
    legend = khat_figure(rows).axes[0].get_legend().get_texts()[0].get_text()
    assert "50% > 0.70" in legend  # K unknown: the 0.7 level
    with pytest.raises(InputError, match="num_samples=100"):
        khat_figure([{"proposal": "guide", "estimate": -1.0, "khat": float("nan")}])


def test_khat_figure_draws_huge_values_on_the_top_edge():
    rows = [{"proposal": "prior", "estimate": -300.0, "khat": 40.0}]
    rows += [{"proposal": "guide", "estimate": -90.0, "khat": k} for k in (0.3, 1.2)]
    ax = khat_figure(rows).axes[0]
    assert ax.get_ylim()[1] < 2.2
    tops = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    assert any(np.allclose(o[:, 1], 2.0) for o in tops)
    assert "above 2" in ax.get_ylabel()


def test_the_latent_figure_draws_an_even_sample_of_many_points():
    from pyro_vae import Config, build_vae
    from pyro_vae.plots.figures import latent_figure

    vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), 16)
    fig = latent_figure(vae, torch.rand(2500, 16), torch.arange(2500) % 3)
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2000
    assert "2,000 of 2,500 points" in ax.get_title()


def test_the_estimators_figure_marks_unreliable_rows_and_the_khat_figure_one_threshold():
    from pyro_vae.plots.figures import estimators_figure, khat_figure

    rows = [
        {"num_samples": k, "proposal": "prior", "log_likelihood": -100.0 - 10 / k,
         "mc_standard_error": 0.01, "reliable": int(k > 10)}
        for k in (1, 10, 100)
    ]  # fmt: skip
    ax = estimators_figure(rows).axes[0]
    assert "open: k-hat says unreliable" in [t.get_text() for t in ax.get_legend().get_texts()]
    khat_rows = [{"proposal": "guide", "estimate": -90.0 - i, "khat": i / 10} for i in range(9)]
    ax = khat_figure(khat_rows, num_samples=1000).axes[0]  # threshold 0.67, next to 0.7
    levels = [line.get_ydata()[0] for line in ax.get_lines()]
    assert not any(abs(level - 0.7) < 1e-9 for level in levels)
