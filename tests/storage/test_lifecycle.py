import pytest

from pyro_vae import InputError
from pyro_vae.storage.lifecycle import (
    clear_run_files,
    holds_run,
    locked,
    make_run_dir,
    refuse_existing_run,
)
from pyro_vae.storage.rundir import CONFIG_FILE, MODEL_FILE, figure_path


def test_a_folder_holds_a_run_once_its_config_is_written_and_is_refused_then(tmp_path):
    assert not holds_run(tmp_path)
    refuse_existing_run(tmp_path)  # nothing to refuse
    (tmp_path / CONFIG_FILE).write_text("{}")
    assert holds_run(tmp_path)
    with pytest.raises(InputError, match=r"already holds a run: pass resume=True .* overwrite"):
        refuse_existing_run(tmp_path)


def test_clearing_a_replaced_run_removes_its_files_and_figures_and_nothing_else(tmp_path):
    for name in (CONFIG_FILE, MODEL_FILE, "notes.txt"):
        (tmp_path / name).write_text("x")
    figure_path(tmp_path, "samples").write_bytes(b"png")
    figure_path(tmp_path, "mine").write_bytes(b"png")
    with pytest.raises(InputError, match="already holds a run"):
        clear_run_files(tmp_path, False, ["samples"])
    assert (tmp_path / MODEL_FILE).exists()  # refused: nothing removed
    clear_run_files(tmp_path, True, ["samples"])
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["mine.png", "notes.txt"]


def test_a_run_directory_cannot_be_made_over_a_file(tmp_path):
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(InputError, match="exists and is not a directory"):
        make_run_dir(tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "mine"
    make_run_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()


def test_taking_the_lock_removes_what_a_killed_write_left(tmp_path):
    stale = tmp_path / f".{MODEL_FILE}.abc123.tmp"
    stale.write_bytes(b"half")
    kept = tmp_path / MODEL_FILE
    kept.write_bytes(b"whole")
    with locked(tmp_path):
        assert not stale.exists() and kept.read_bytes() == b"whole"
