import pytest
import torch

from pyro_vae import Config, InputError, load_run, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("rundata") / "run"
    result = train(Config(epochs=1, latent_dim=2, hidden_dims=(8,)), run_dir)
    return run_dir, result.data


def test_a_loaded_run_reads_the_data_train_held(trained):
    run_dir, data = trained
    run = load_run(run_dir)
    again = run.load_data()
    for split in ("train", "validation", "test"):
        assert torch.equal(getattr(again, split), getattr(data, split))
    with pytest.raises(AttributeError, match=r"run\.load_data\(\) reads them again \(\.test"):
        run.data.test  # noqa: B018 - the hint is the point


def test_reading_it_elsewhere_is_checked(trained, tmp_path):
    import numpy as np

    run = load_run(trained[0])
    with pytest.raises(TypeError, match="unknown data settings"):
        run.load_data(latent_dim="3")
    wide = tmp_path / "wide.npz"
    np.savez(wide, x_train=np.random.default_rng(0).integers(0, 2, (50, 10)).astype(np.float32))
    with pytest.raises(InputError, match="takes 64 values per datapoint but the data have 10"):
        run.load_data(dataset="npz", data_file=str(wide))
