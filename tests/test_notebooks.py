"""The notebooks run end to end in their small mode, and are stored without outputs.

They are executed with nbclient, the engine underneath nbconvert, papermill and nbmake: it needs
no pytest plugin or parameter-cell convention, and the small mode is one environment variable
(``PYRO_VAE_NOTEBOOK_MODE=small``) that each notebook reads in its first code cell.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_six_notebooks():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_", "06_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


# the first notebook in the default run; the others (15-25 s each) in CI's slow step
_RUNS = [p if i == 0 else pytest.param(p, marks=pytest.mark.slow) for i, p in enumerate(NOTEBOOKS)]


@pytest.mark.parametrize("path", _RUNS, ids=lambda p: p.stem)
def test_notebook_runs_in_small_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("PYRO_VAE_NOTEBOOK_MODE", "small")
    monkeypatch.delenv("PYRO_VAE_MNIST_DIR", raising=False)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, "a notebook that teaches with figures showed none"
