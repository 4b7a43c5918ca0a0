"""The flat layout's module paths still import, warn with the new path, and give the same objects."""

import importlib
import subprocess
import sys
import warnings

import pytest

import pyro_vae
from pyro_vae import _moved
from pyro_vae.estimate import ais, importance
from pyro_vae.running import evaluation
from pyro_vae.storage import rundir


def _fresh_import(path: str) -> tuple[object, list[warnings.WarningMessage]]:
    """Import ``path`` as a first import would, recording the warnings."""
    sys.modules.pop(path, None)
    parent, _, child = path.rpartition(".")
    vars(sys.modules[parent]).pop(child, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        __import__(path)  # an import statement's frame, unlike importlib.import_module's
    module = sys.modules[path]
    return module, [w for w in caught if issubclass(w.category, FutureWarning)]


def test_every_old_path_points_at_modules_that_exist():
    for old, new_paths in _moved.MOVED.items():
        for new in new_paths:
            module = importlib.import_module(f"pyro_vae.{new}")
            assert module.__all__, f"pyro_vae.{new} (for pyro_vae.{old}) exports nothing"


@pytest.mark.parametrize("old", sorted(set(_moved.MOVED) - {"data", "plots", "cli"}))
def test_an_old_module_path_imports_with_a_warning_naming_the_new_one(old):
    module, caught = _fresh_import(f"pyro_vae.{old}")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"pyro_vae.{old} moved to" in message
    for new in _moved.MOVED[old]:
        assert f"pyro_vae.{new}" in message
    assert caught[0].filename == __file__  # the warning names the importing line
    for name in module.__all__:  # every name the new modules export, the same object
        homes = [importlib.import_module(f"pyro_vae.{new}") for new in _moved.MOVED[old]]
        assert any(getattr(home, name, None) is getattr(module, name) for home in homes)


def test_from_an_old_path_import_a_name_gives_the_object_itself():
    sys.modules.pop("pyro_vae.ais", None)
    with pytest.warns(FutureWarning, match=r"pyro_vae\.ais moved to pyro_vae\.estimate\.ais"):
        from pyro_vae.ais import annealed_importance_sampling
    assert annealed_importance_sampling is ais.annealed_importance_sampling


def test_an_old_module_split_in_two_finds_each_name_where_it_went():
    module, _ = _fresh_import("pyro_vae.evaluation")
    assert module.evaluate_run is evaluation.evaluate_run  # now in running/
    assert module.compare_estimators is not None  # now in estimate/dataset
    estimators, _ = _fresh_import("pyro_vae.estimators")
    assert estimators.log_likelihood is importance.log_likelihood


def test_star_import_from_an_old_path_gives_the_old_names():
    sys.modules.pop("pyro_vae.rundir", None)
    namespace: dict[str, object] = {}
    with pytest.warns(FutureWarning):
        exec("from pyro_vae.rundir import *", namespace)
    assert namespace["load_run"] is rundir.load_run
    assert set(rundir.__all__) <= set(namespace)


def test_an_old_module_as_an_attribute_of_the_package_warns_too():
    sys.modules.pop("pyro_vae.rundir", None)
    vars(pyro_vae).pop("rundir", None)
    with pytest.warns(FutureWarning, match=r"pyro_vae\.storage\.rundir"):
        module = pyro_vae.rundir
    assert module.load_run is rundir.load_run


@pytest.mark.parametrize(
    ("package", "name", "new"),
    [
        ("pyro_vae.data", "load_data", "pyro_vae.data.splits"),
        ("pyro_vae.data", "epoch_batches", "pyro_vae.data.batches"),
        ("pyro_vae.plots", "bdmc_figure", "pyro_vae.plots.figures"),
        ("pyro_vae.cli", "EXIT_INPUT_ERROR", "pyro_vae.cli.commands"),
    ],
)
def test_an_old_module_that_is_now_a_folder_forwards_its_names(package, name, new):
    folder = importlib.import_module(package)
    vars(folder).pop(name, None)
    with pytest.warns(FutureWarning, match=rf"{package}\.{name} moved to {new}\.{name}"):
        value = getattr(folder, name)
    assert value is getattr(importlib.import_module(new), name)


def test_a_name_no_module_had_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        pyro_vae.data.no_such_name  # noqa: B018
    with pytest.raises(AttributeError, match="no_such_module"):
        pyro_vae.no_such_module  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("pyro_vae.no_such_module")
    old, _ = _fresh_import("pyro_vae.ais")
    with pytest.raises(AttributeError, match="no_such_name"):
        old.no_such_name  # noqa: B018


def test_the_new_paths_and_the_command_line_import_without_a_warning():
    code = "import pyro_vae, pyro_vae.cli, pyro_vae.data, pyro_vae.plots.kinds"
    code += "; from pyro_vae.data.splits import load_data; from pyro_vae.cli import main"
    done = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "FutureWarning" not in done.stderr, done.stderr


def test_a_folder_does_not_forward_the_modules_its_new_modules_import():
    # pickle's whichmodule asks every module for names such as "torch" (inductor's cache does)
    import pyro_vae.data

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(pyro_vae.data, "torch")
