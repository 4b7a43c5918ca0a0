import ast
import io
import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from pyro_vae import Config, InputError, build_vae, load_run, train
from pyro_vae.storage.rundir import (
    CONFIG_FILE,
    MODEL_FILE,
    DataInfo,
    read_checkpoint,
    write_config,
    write_model,
)


@pytest.fixture
def run_dir(tmp_path):
    """A run directory holding an untrained tiny model."""
    cfg = Config(latent_dim=2, hidden_dims=(8,))
    vae = build_vae(cfg, 64)
    write_config(tmp_path, cfg, DataInfo(64, (8, 8)))
    write_model(tmp_path, vae)
    return tmp_path, vae


def test_model_round_trip_is_bit_exact(run_dir):
    path, vae = run_dir
    loaded = load_run(path)
    original, restored = vae.state_dict(), loaded.vae.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    assert loaded.data.image_shape == (8, 8)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_in_place_of_the_weights_is_refused_and_never_run(run_dir, monkeypatch):
    path, _ = run_dir
    monkeypatch.chdir(path)
    (path / MODEL_FILE).write_bytes(pickle.dumps({"w": _Exploit()}))
    torch.save({"w": torch.ones(1)}, path / "other.pt")
    with pytest.raises(InputError, match="not a valid safetensors"):
        load_run(path)
    assert not (path / "pwned").exists()


def test_a_config_that_cannot_be_read_is_one_clear_error(run_dir, monkeypatch):
    path, _ = run_dir
    real = Path.read_text

    def denied(self, *args, **kwargs):
        if self.name == CONFIG_FILE:
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)  # as root, chmod cannot deny a read
    with pytest.raises(InputError, match=r"cannot read .*config.json \(Permission denied\)"):
        load_run(path)


def test_truncated_weights_are_refused(run_dir):
    path, _ = run_dir
    data = (path / MODEL_FILE).read_bytes()
    (path / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupted"):
        load_run(path)


def test_weights_from_another_model_are_refused(run_dir):
    path, _ = run_dir
    write_model(path, build_vae(Config(latent_dim=3, hidden_dims=(8,)), 64))
    with pytest.raises(InputError, match="does not fit the model"):
        load_run(path)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d["settings"].update(latent_dim="big"), "latent_dim must be an integer"),
        (lambda d: d["settings"].update(evil=1), "unknown setting"),
        (lambda d: d["settings"].update(hidden_dims=[10**8]), "too large"),
        (lambda d: d["data"].update(data_dim=-1), "data section is invalid"),
        (lambda d: d.update(format="other"), "not a pyro-vae-run/1 config"),
        (lambda d: d.pop("settings"), "lacks its settings"),
    ],
    ids=["wrong-type", "unknown-key", "absurd-size", "bad-data-dim", "wrong-format", "no-settings"],
)
def test_bad_config_json_is_refused(run_dir, edit, needle):
    path, _ = run_dir
    doc = json.loads((path / CONFIG_FILE).read_text())
    edit(doc)
    (path / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(InputError, match=needle):
        load_run(path)


def test_missing_pieces(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(InputError, match="not a pyro-vae run directory"):
        load_run(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_run(tmp_path)


def test_checkpoint_holds_everything_to_resume(tmp_path, tiny):
    train(tiny.replace(epochs=1), tmp_path / "run")
    state = read_checkpoint(tmp_path / "run")
    assert state["epoch"] == 1 and state["step"] == 0
    assert not any("rng" in key for key in state)  # each step seeds its own noise
    assert set(state["model"]) == set(load_run(tmp_path / "run").vae.state_dict())
    adam = state["optimizer"]
    assert len(adam["state"]) == len(state["model"])  # one Adam over every parameter
    assert all({"exp_avg", "exp_avg_sq"} <= set(s) for s in adam["state"].values())
    assert adam["param_groups"][0]["lr"] == tiny.learning_rate


def _python_files() -> list[Path]:
    root = Path(__file__).resolve().parents[2]
    return [p for folder in ("pyro_vae", "bench") for p in sorted((root / folder).rglob("*.py"))]


def test_nothing_in_the_project_unpickles():
    """No pickle-based loader anywhere; torch.load only with weights_only=True."""
    unpicklers = {"pickle", "cPickle", "dill", "joblib", "shelve", "marshal"}
    files = _python_files()
    assert len(files) > 20
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
                assert not names & unpicklers, f"{path}:{node.lineno} imports {names}"
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in unpicklers, f"{path}:{node.lineno}"
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "load" and ast.unparse(node.func.value) == "torch":
                    safe = any(
                        k.arg == "weights_only" and ast.unparse(k.value) == "True"
                        for k in node.keywords
                    )
                    assert safe, f"{path}:{node.lineno} calls torch.load without weights_only"
                if node.func.attr == "load" and ast.unparse(node.func.value) in ("np", "numpy"):
                    allow = [k for k in node.keywords if k.arg == "allow_pickle"]
                    assert not allow or ast.unparse(allow[0].value) == "False", f"{path}"


def test_the_suite_runs_with_torch_load_forced_to_weights_only():
    assert os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD") == "1"
    buffer = io.BytesIO()
    pickle.dump(_Exploit(), buffer, protocol=2)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer)  # the environment variable wins over the default


def test_a_loaded_runs_data_say_where_the_data_are(run_dir):
    path, _ = run_dir
    data = load_run(path).data
    assert data.image_shape == (8, 8)
    with pytest.raises(AttributeError, match=r"records the shape of its data, not the data"):
        data.test  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        data.nothing  # noqa: B018
