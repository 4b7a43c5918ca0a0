import json

import numpy as np
import pytest
import torch
from conftest import small_config
from matplotlib.image import imread

from pyro_vae import Config, build_vae
from pyro_vae.cli.commands import main
from pyro_vae.errors import InputError
from pyro_vae.parts.guides import GUIDES
from pyro_vae.parts.priors import PRIORS
from pyro_vae.plots.kinds import PLOT_KINDS, FigureSource, draw_figure, standard_kinds
from pyro_vae.storage.rundir import DataInfo, Run, load_run, read_comparison

TINY = ["--epochs", "2", "--latent-dim", "2", "--hidden-dims", "16", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny 2-D digits run with its standard figures, evaluated and compared."""
    run = tmp_path_factory.mktemp("figures") / "run"
    assert main(["train", "--out", str(run), *TINY]) == 0
    assert (
        main(["evaluate", str(run), "--num-samples", "200", "--limit", "60", "--proposal", "both"])
        == 0
    )
    assert main(["compare-estimators", str(run), "--ks", "1,10,100", "--limit", "30"]) == 0
    bdmc = ["bdmc", str(run), "--num-points", "10", "--schedules", "5,20", "--ais-chains", "4"]
    assert main(bdmc) == 0
    return run


def _png(path):
    image = imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 100
    assert image[..., :3].std() > 0.01  # not a blank canvas
    return image


def test_train_writes_the_standard_figures(run_dir):
    for kind in ("curves", "samples", "recon", "interp", "latent", "manifold"):
        _png(run_dir / f"{kind}.png")
    assert not (run_dir / "estimators.png").exists()


CLASS_KINDS = ("classes", "confusion")  # for a model with a class (M2)
CONDITIONAL_KINDS = ("completions",)  # for a conditional model (CVAE)


@pytest.mark.parametrize(
    "kind", [k for k in PLOT_KINDS.names() if k not in CLASS_KINDS + CONDITIONAL_KINDS]
)
def test_every_kind_renders_from_the_cli(kind, run_dir, tmp_path, capsys):
    out = tmp_path / f"{kind}.png"
    assert main(["plot", str(run_dir), "--kind", kind, "-o", str(out)]) == 0
    _png(out)
    assert str(out) in capsys.readouterr().out


def test_no_plots_and_standard_kinds(tmp_path):
    run = tmp_path / "r"
    assert (
        main(["train", "--out", str(run), *TINY[:2], "--latent-dim", "3", "--no-plots", "--quiet"])
        == 0
    )
    assert not list(run.glob("*.png"))
    assert list(standard_kinds(load_run(run))) == ["curves", "samples", "recon", "interp", "latent"]


def test_overwrite_removes_the_old_runs_figures(tmp_path):
    run = tmp_path / "r"
    assert main(["train", "--out", str(run), *TINY]) == 0
    assert (run / "manifold.png").exists()
    argv = ["train", "--out", str(run), "--epochs", "1", "--latent-dim", "3", "--quiet"]
    assert main([*argv, "--overwrite"]) == 0
    assert not (run / "manifold.png").exists() and (run / "samples.png").exists()


def test_manifold_of_a_higher_dimensional_run_is_refused(tmp_path, capsys):
    run = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "--out",
                str(run),
                "--epochs",
                "1",
                "--latent-dim",
                "3",
                "--quiet",
                "--no-plots",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["plot", str(run), "--kind", "manifold"]) == 2
    err = capsys.readouterr().err
    assert "--latent-dim 2" in err and len(err.strip().splitlines()) == 1
    assert main(["plot", str(run), "--kind", "estimators"]) == 2
    assert "run pyro-vae compare-estimators" in capsys.readouterr().err
    assert main(["plot", str(run), "--kind", "khat"]) == 2
    assert "run pyro-vae evaluate" in capsys.readouterr().err
    assert main(["plot", str(run), "--kind", "violin"]) == 2
    assert "unknown figure kind 'violin'" in capsys.readouterr().err
    assert not list(run.glob("*.png"))


def test_csv_rows_come_back_as_numbers(run_dir):
    rows = read_comparison(run_dir)
    assert {r["proposal"] for r in rows} == {"guide", "prior"}
    assert all(isinstance(r["log_likelihood"], float) for r in rows)
    report = json.loads((run_dir / "evaluation.json").read_text())
    assert report["num_points"] == 60


@pytest.mark.parametrize("guide", GUIDES.names())
@pytest.mark.parametrize("prior", PRIORS.names())
def test_every_prior_and_guide_draws_its_image_figures(prior, guide):
    config = small_config(prior, guide)
    vae = build_vae(config, 64).eval()
    x = torch.bernoulli(torch.full((20, 64), 0.3))
    run = Run(None, config, DataInfo(64, (8, 8)), vae)
    source = FigureSource(run, lambda: (x, torch.arange(20) % 4))
    for kind in ("samples", "recon", "manifold", "latent", "interp"):
        figure = draw_figure(kind, source)
        for image in figure.axes[0].images:
            assert np.isfinite(np.asarray(image.get_array(), dtype=float)).all()


def test_figures_need_images(tmp_path):
    config = Config(latent_dim=2, hidden_dims=(8,))
    run = Run(tmp_path, config, DataInfo(5, None), build_vae(config, 5))
    with pytest.raises(InputError, match="not images"):
        draw_figure("samples", FigureSource(run, lambda: (torch.rand(3, 5), None)))


def test_an_m2_run_draws_its_own_figures_and_a_vae_run_refuses_them(run_dir, tmp_path, capsys):
    run = tmp_path / "m2"
    argv = ["train", "--out", str(run), "--model", "m2", "--labels", "50", *TINY]
    assert main(argv) == 0
    kinds = list(standard_kinds(load_run(run)))
    assert kinds == ["curves", "samples", "recon", "classes", "confusion"]
    for kind in kinds:
        _png(run / f"{kind}.png")
    for kind in CLASS_KINDS:
        assert main(["plot", str(run_dir), "--kind", kind, "-o", str(tmp_path / "x.png")]) == 2
        assert "--model m2" in capsys.readouterr().err
    assert main(["plot", str(run), "--kind", "manifold", "-o", str(tmp_path / "m.png")]) == 2


@pytest.mark.parametrize("condition", ["quadrants:1", "label"])
def test_a_cvae_run_draws_its_completions_and_a_vae_run_refuses_them(
    condition, run_dir, tmp_path, capsys
):
    run = tmp_path / "cvae"
    argv = ["train", "--out", str(run), "--model", "cvae", "--condition", condition, *TINY]
    assert main(argv) == 0
    kinds = list(standard_kinds(load_run(run)))
    assert kinds == ["curves", "completions"]
    image = _png(run / "completions.png")
    assert image.shape[0] > image.shape[1] / 2  # rows of images, not one strip
    assert main(["plot", str(run_dir), "--kind", "completions", "-o", str(tmp_path / "x.png")]) == 2
    assert "--model cvae" in capsys.readouterr().err
    assert main(["plot", str(run), "--kind", "samples", "-o", str(tmp_path / "s.png")]) == 2
    assert "draws Y given a condition" in capsys.readouterr().err
