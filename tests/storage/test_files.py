import json
import os

import pytest
import torch

from pyro_vae import InputError
from pyro_vae.storage.files import atomic_write_bytes, flatten_state, unflatten_state


def test_nested_state_round_trip():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.ones(3))])
    opt.param_groups[0]["params"][0].grad = torch.ones(3)
    opt.step()
    state = {
        "optim": opt.state_dict(),
        "rng": torch.get_rng_state(),
        "rows": [{"a": 1.5}],
        "none": None,
    }
    skeleton, tensors = flatten_state(state)
    json.dumps(skeleton)  # JSON-ready
    back = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert torch.equal(back["rng"], state["rng"])
    assert torch.equal(back["optim"]["state"][0]["exp_avg"], state["optim"]["state"][0]["exp_avg"])
    assert back["rows"] == [{"a": 1.5}] and back["none"] is None


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and os.listdir(tmp_path) == ["f.bin"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InputError, match=r"No space left on device.*previous f.bin is kept"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def test_written_files_get_the_mode_of_any_new_file(tmp_path):
    mask = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "f.bin", b"data")
    finally:
        os.umask(mask)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o640
    atomic_write_bytes(tmp_path / "g.bin", b"data")
    assert (tmp_path / "g.bin").stat().st_mode & 0o777 == 0o666 & ~mask
