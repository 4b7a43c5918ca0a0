import pytest
import torch

from pyro_vae import InputError, evaluate_run, export_run, load_run, train
from pyro_vae.cli.commands import main
from pyro_vae.storage.rundir import (
    CHECKPOINT_FILE,
    EVALUATION_FILE,
    MODEL_FILE,
    figure_files,
    read_estimates,
)


@pytest.fixture(scope="module")
def averaged_run(tmp_path_factory):
    """A trained digits run with an average of its weights, evaluated with it, and a figure."""
    from pyro_vae import Config

    run = tmp_path_factory.mktemp("export") / "run"
    config = Config(epochs=2, latent_dim=2, hidden_dims=(16,), batch_size=100, ema=0.9)
    train(config, run, figures=True)
    evaluate_run(run, num_samples=20, limit=10, device="cpu")
    return run


def _state(run):
    return run.vae.state_dict()


def test_an_export_keeps_the_average_alone_and_evaluates_as_the_run_did(averaged_run, tmp_path):
    done = export_run(averaged_run, tmp_path / "shared")
    copy = tmp_path / "shared"
    assert done.weights == "ema" and done.path == copy
    assert not (copy / CHECKPOINT_FILE).exists()
    assert any(CHECKPOINT_FILE in reason for reason in done.left_out)
    assert set(figure_files(averaged_run)) <= set(done.files) and figure_files(copy)
    assert done.size == sum(p.stat().st_size for p in copy.iterdir())
    # one set of weights: about half the model file
    assert (copy / MODEL_FILE).stat().st_size < 0.6 * (averaged_run / MODEL_FILE).stat().st_size
    loaded, source = load_run(copy), load_run(averaged_run)
    assert loaded.weights == "ema"
    for name, value in _state(source).items():
        assert torch.equal(_state(loaded)[name], value)
    with pytest.raises(InputError, match="exported with the average of its weights alone"):
        load_run(copy, weights="raw")
    # the copied evaluation is reproduced from the copy
    stored = [r["estimate"] for r in read_estimates(copy)]
    again = evaluate_run(copy, num_samples=20, limit=10, device="cpu", overwrite=True)
    assert again.summary["weights"] == "ema"
    assert [r["estimate"] for r in read_estimates(copy)] == pytest.approx(stored, abs=1e-4)


def test_an_export_of_the_raw_weights_leaves_out_the_evaluation_of_the_average(
    averaged_run, tmp_path
):
    done = export_run(averaged_run, tmp_path / "raw", weights="raw")
    assert done.weights == "raw" and EVALUATION_FILE not in done.files
    assert any("evaluation of the ema weights" in reason for reason in done.left_out)
    loaded = load_run(tmp_path / "raw")
    assert loaded.weights == "raw"
    raw = load_run(averaged_run, weights="raw")
    for name, value in _state(raw).items():
        assert torch.equal(_state(loaded)[name], value)


def test_resuming_an_export_says_what_it_is(averaged_run, tmp_path):
    export_run(averaged_run, tmp_path / "shared")
    with pytest.raises(InputError, match="exported model without its training state"):
        train(None, tmp_path / "shared", resume=True)


def test_an_export_goes_to_a_new_or_empty_folder_only_and_touches_nothing_else(
    averaged_run, tmp_path
):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match="is not empty: choose a new folder"):
        export_run(averaged_run, taken)
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]
    with pytest.raises(InputError, match="is the run itself"):
        export_run(averaged_run, averaged_run)
    with pytest.raises(InputError, match="choose auto, ema or raw"):
        export_run(averaged_run, tmp_path / "never", weights="best")
    assert not (tmp_path / "never").exists()
    (tmp_path / "empty").mkdir()
    export_run(averaged_run, tmp_path / "empty")
    assert load_run(tmp_path / "empty").weights == "ema"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no building folder


def test_the_command_exports_and_says_what_it_wrote(averaged_run, tmp_path, capsys):
    assert main(["export", str(averaged_run), str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert f"to {tmp_path / 'cli'} (ema weights)" in out and MODEL_FILE in out
    assert "left out checkpoint.safetensors" in out
    assert main(["export", str(averaged_run), str(tmp_path / "cli")]) == 2
    assert "is not empty" in capsys.readouterr().err
