"""Devices: resolving ``--device``, tensors that follow the model, device-free run directories.

Without a GPU the tests check what a CPU can: every tensor the library creates goes where the
model is. They run the whole pipeline with torch's default device set to ``meta`` (tensors there
have no data) while the model stays on the CPU, so a tensor created without the model's device
would meet a CPU tensor and fail. The tests marked ``cuda`` run where torch sees a GPU.
"""

import numpy as np
import pytest
import torch

from pyro_vae import Config, load_run, train
from pyro_vae.errors import InputError
from pyro_vae.hardware.devices import device_of, resolve_device
from pyro_vae.running.evaluation import bdmc_run, compare_run, evaluate_run

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU")


def test_auto_is_a_gpu_when_there_is_one_else_the_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "cuda0", "CPU", "cuda:", "cuda:-1", ""])
def test_a_name_that_is_no_device_is_refused_with_the_choices(name):
    with pytest.raises(InputError, match=r"unknown device .*choose one of auto, cpu, cuda"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_is_one_line_that_names_the_fix(name):
    with pytest.raises(InputError, match=r"sees no CUDA GPU.*device='auto' or one of cpu"):
        resolve_device(name)


def test_cuda_on_the_command_line_without_a_gpu_exits_2_and_creates_nothing(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from pyro_vae.cli.commands import main

    out = tmp_path / "run"
    assert main(["train", "--device", "cuda", "--out", str(out), "--epochs", "1"]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "--device auto" in message
    assert not out.exists()


@pytest.fixture
def meta_default():
    """Tensors created without a device land on ``meta`` (no data) for the test's duration."""
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(None)


def test_every_tensor_the_library_creates_follows_the_model(tmp_path, meta_default):
    # the JIT is off: torch.jit.trace turns Python numbers into tensors on the default device,
    # which here is one that cannot compute (on a real device it compiles as usual)
    config = Config(latent_dim=2, hidden_dims=(16,), epochs=1, compile="off")
    result = train(config, tmp_path / "run", device="cpu", figures=True)
    assert device_of(result.vae) == torch.device("cpu") and result.figures
    ais = {"num_steps": 4, "num_chains": 2, "tuning_chains": 1}
    ev = evaluate_run(
        tmp_path / "run",
        num_samples=20,
        limit=8,
        proposals=("guide", "prior", "ais"),
        ais=ais,
        device="cpu",
    )
    assert np.isfinite(ev.summary["proposals"]["ais"]["log_likelihood"])
    compare_run(tmp_path / "run", ks=[5], limit=8, device="cpu")
    rows = bdmc_run(tmp_path / "run", num_points=4, schedules=[3], num_chains=2, device="cpu")
    assert np.isfinite(rows[0]["gap"])


def test_run_directories_hold_cpu_tensors_and_load_anywhere(tmp_path):
    train(Config(latent_dim=2, hidden_dims=(8,), epochs=1), tmp_path / "run", device="cpu")
    run = load_run(tmp_path / "run", device="cpu")
    assert device_of(run.vae) == torch.device("cpu")
    with pytest.raises(InputError, match="unknown device"):
        load_run(tmp_path / "run", device="gpu")


@cuda
def test_a_gpu_run_evaluates_on_the_cpu_and_back(tmp_path):
    config = Config(latent_dim=2, hidden_dims=(16,), epochs=2)
    on_gpu = train(config, tmp_path / "gpu", device="cuda")
    assert device_of(on_gpu.vae).type == "cuda"
    cpu_run = load_run(tmp_path / "gpu", device="cpu")
    gpu_run = load_run(tmp_path / "gpu", device="cuda")
    for a, b in zip(cpu_run.vae.parameters(), gpu_run.vae.parameters(), strict=True):
        assert torch.equal(a, b.cpu())  # the same weights, bit for bit
    kw = {"num_samples": 500, "limit": 50, "write": False}
    cpu = evaluate_run(cpu_run, device="cpu", **kw).evaluation.results["guide"]
    gpu = evaluate_run(gpu_run, device="cuda", **kw).evaluation.results["guide"]
    # different random streams: equal within the estimators' own errors
    se = np.sqrt(cpu.standard_error**2 + gpu.standard_error**2)
    assert np.mean(np.abs(cpu.estimate - gpu.estimate) < 5 * se + 1e-3) > 0.95


@cuda
def test_training_on_a_gpu_is_reproducible_and_resumes_exactly(tmp_path):
    config = Config(latent_dim=2, hidden_dims=(16,), epochs=2)
    one = train(config, tmp_path / "one", device="cuda")
    two = train(config, tmp_path / "two", device="cuda")
    assert one.metrics[-1]["val_elbo"] == two.metrics[-1]["val_elbo"]
    train(config.replace(epochs=1), tmp_path / "half", device="cuda")
    resumed = train(config, tmp_path / "half", resume=True, device="cuda")
    assert resumed.metrics[-1]["val_elbo"] == one.metrics[-1]["val_elbo"]
