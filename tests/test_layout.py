"""The shape of the package: no import cycles, one module that knows the run directory's files,
benchmarks that use the Python API, modules of one idea each."""

import ast
import inspect
from pathlib import Path

import pytest

from pyro_vae import rundir

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyro_vae"
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}


def _imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports anywhere (module level or inside functions).

    ``from pyro_vae import name`` counts as importing the package itself (``__init__``) unless
    ``name`` is a module of the package. Importing ``pyro_vae.x`` runs ``__init__`` first, as any
    submodule import does; that implicit step is not counted.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pyro_vae":
                    found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "pyro_vae":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:
                for alias in node.names:
                    found.add(alias.name if alias.name in MODULES else "__init__")
    return found - {path.stem}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes, or ``None`` when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_among_the_package_modules():
    graph = {name: _imported_modules(path) for name, path in MODULES.items()}
    assert graph["__init__"] >= {"training", "rundir", "evaluation"}  # the walk sees imports
    assert "plot_kinds" in graph["training"]  # ... function-level ones included
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_config_imports_no_part_module():
    parts = {"priors", "guides", "likelihoods", "networks", "objectives", "data", "vae", "exact"}
    assert not _imported_modules(MODULES["config"]) & parts


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module's code (docstrings left out), with their line numbers.

    Parts of f-strings come back prefixed with ``f:``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    return [
        (node.lineno, ("f:" if id(node) in in_fstrings else "") + node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"rundir"}))
def test_only_the_run_directory_module_spells_its_file_names(name):
    names = (*rundir.RUN_FILES, rundir.LOCK_FILE)
    for line, text in _code_strings(MODULES[name]):
        spelled = [n for n in names if n in text]
        assert not spelled, f"pyro_vae/{name}.py:{line} spells {spelled}: ask pyro_vae.rundir"
        assert not text.startswith("f:.png"), f"pyro_vae/{name}.py:{line}: use rundir.figure_path"


def test_benchmarks_use_the_python_api_not_the_command_line():
    for path in sorted((ROOT / "bench").glob("*.py")):
        assert "cli" not in _imported_modules(path), f"{path.name} imports pyro_vae.cli"


def test_modules_stay_small():
    lines = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    # the loop only, on one device or many processes (the step's arithmetic lives in
    # objectives.Gradients, the processes in parallel)
    assert lines["training"] < 500
    # rundir (every file of a run, and its lifecycle) and evaluation (data set and run level)
    # are the largest; past 650 lines a module holds two ideas
    too_long = {name: n for name, n in lines.items() if n > 650}
    assert not too_long, f"modules holding more than one idea: {too_long}"


def _public_callables():
    """(name, signature) of every public function and method the package's modules export."""
    import importlib
    import pkgutil

    import pyro_vae

    for info in pkgutil.iter_modules(pyro_vae.__path__):
        module = importlib.import_module(f"pyro_vae.{info.name}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{info.name}.{name}", inspect.signature(obj)
            elif inspect.isclass(obj) and "__dataclass_fields__" not in vars(obj):
                if "__init__" in vars(obj):
                    yield f"{info.name}.{name}", inspect.signature(obj.__init__)
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and not attr.startswith("_"):
                        yield f"{info.name}.{name}.{attr}", inspect.signature(member)


def test_options_of_functions_with_more_than_three_parameters_are_keyword_only():
    """A parameter with a default is an option; past the third parameter, options are named."""
    loose = []
    for name, signature in _public_callables():
        params = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
        if len(params) <= 3:
            continue
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        options = [p.name for p in params[3:] if p.kind in positional and p.default is not p.empty]
        if options:
            loose.append(f"{name}: {options}")
    assert not loose, "\n".join(loose)
