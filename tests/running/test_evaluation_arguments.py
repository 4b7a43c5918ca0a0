"""evaluate_run and compare_run refuse what the command line could never pass, before any work."""

import pytest
import torch

from pyro_vae import Config, InputError, compare_run, evaluate_run, load_run, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("arguments") / "run"
    train(Config(epochs=1, latent_dim=2, hidden_dims=(8,)), run)
    return run


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proposals": "prior"}, r"proposals must be a sequence of guide, guide-drawn, prior, ais"),
        ({"proposals": ("guide", "importance")}, r"proposals must be a sequence"),
        ({"proposals": ()}, r"proposals must be a sequence"),
        ({"limit": 0}, r"limit must be an integer from 1, got 0"),
        ({"seed": -1}, r"seed must be an integer from 0 to 4294967295, got -1"),
        ({"seed": 2**40}, r"seed must be an integer from 0 to 4294967295"),
        ({"num_samples": 0}, r"num_samples must be an integer from 1, got 0"),
        ({"num_samples": 10.0}, r"num_samples must be an integer from 1, got 10.0"),
        ({"batch_size": True}, r"batch_size must be an integer from 1, got True"),
    ],
)
def test_bad_options_are_refused_naming_the_argument_and_nothing_is_written(
    run_dir, options, message
):
    with pytest.raises(InputError, match=message):
        evaluate_run(run_dir, **{"num_samples": 10, **options})
    assert not (run_dir / "evaluation.json").exists()


def test_a_comparison_checks_its_sample_counts(run_dir, tmp_path):
    with pytest.raises(InputError, match=r"ks must be an integer from 1, got 0"):
        compare_run(run_dir, ks=[10, 0], output=tmp_path / "c.csv")
    with pytest.raises(InputError, match=r"proposals must be a sequence"):
        compare_run(run_dir, ks=[10], proposals="guide", output=tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists()


def _images(run_dir):
    generator = torch.Generator().manual_seed(0)
    return torch.bernoulli(
        torch.full((4, load_run(run_dir).data.data_dim), 0.3), generator=generator
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x: (x * 255).to(torch.uint8), r"x holds uint8 values: pass float32 or float64"),
        (lambda x: x.half(), r"x holds float16 values"),
        (lambda x: x * 0.5, r"x has values other than 0 and 1"),
        (lambda x: torch.where(x > 0, torch.nan, x), r"x contains \d+ NaN or infinite values"),
    ],
    ids=["uint8", "float16", "grey-levels-under-bernoulli", "nan"],
)
def test_data_given_as_x_are_checked_as_the_runs_own_data_were(run_dir, change, message):
    x = _images(run_dir)
    evaluate_run(run_dir, num_samples=5, x=x, write=False)  # the binary images themselves pass
    with pytest.raises(InputError, match=message):
        evaluate_run(run_dir, num_samples=5, x=change(x), write=False)


def test_a_run_directory_that_cannot_be_written_is_refused_before_the_work(run_dir, monkeypatch):
    import pyro_vae.estimate.dataset as dataset
    import pyro_vae.storage.files as files

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    def never(*args, **kwargs):
        raise AssertionError("the estimates were computed")

    monkeypatch.setattr(files.tempfile, "mkstemp", refused)  # as root, chmod cannot refuse
    monkeypatch.setattr(dataset, "estimate_dataset", never)
    with pytest.raises(InputError, match=r"cannot write into .*run \(Permission denied\)"):
        evaluate_run(run_dir, num_samples=5)


def test_evaluations_of_the_same_points_accumulate(tmp_path):
    import json

    from pyro_vae.storage.rundir import read_estimates

    run = tmp_path / "run"
    train(Config(epochs=1, latent_dim=2, hidden_dims=(8,)), run)
    first = evaluate_run(run, num_samples=20, limit=6)
    added = evaluate_run(run, num_samples=20, limit=6, proposals=("prior",))
    assert added.kept == ("guide",)
    stored = json.loads((run / "evaluation.json").read_text())
    assert list(stored["proposals"]) == ["guide", "prior"]
    assert stored["proposals"]["guide"]["nll"] == first.summary["proposals"]["guide"]["nll"]
    rows = read_estimates(run)
    assert [r["proposal"] for r in rows] == ["guide"] * 6 + ["prior"] * 6
    with pytest.raises(InputError, match=r"holds guide estimates of these points: pass"):
        evaluate_run(run, num_samples=50, limit=6)
    again = evaluate_run(run, num_samples=50, limit=6, overwrite=True)
    assert again.kept == ("prior",)
    stored = json.loads((run / "evaluation.json").read_text())
    assert stored["proposals"]["guide"]["num_samples"] == 50
    assert stored["proposals"]["prior"]["num_samples"] == 20
    with pytest.raises(InputError, match=r"holds an earlier evaluation"):  # other points
        evaluate_run(run, num_samples=20, limit=5, proposals=("prior",))
    other = evaluate_run(run, num_samples=20, limit=5, proposals=("prior",), overwrite=True)
    assert other.kept == ()
    assert list(json.loads((run / "evaluation.json").read_text())["proposals"]) == ["prior"]
