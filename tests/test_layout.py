"""The shape of the package: folders in layers that import only downward, no import cycles, one
module that knows the run directory's files, tests that mirror the package, benchmarks that use
the Python API, modules of one idea each."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from pyro_vae.storage import rundir

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyro_vae"


def _dotted(path: Path) -> str:
    """``pyro_vae/estimate/ais.py`` -> ``"estimate.ais"``; a folder's ``__init__`` -> its name."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


#: Every module of the package by dotted name ("estimate.ais"; the package itself: "__init__").
MODULES = {_dotted(p): p for p in sorted(PACKAGE.rglob("*.py"))}

#: The folders from the bottom up. A module imports only modules of its own folder or of a lower
#: layer; folders of one layer stand side by side and do not import each other. "" is the ground
#: floor: the modules in pyro_vae/ itself (errors, registry, config, ...).
LAYERS = (
    ("",),
    ("hardware",),
    ("parts",),
    ("models", "data"),
    ("estimate", "storage"),
    ("plots",),
    ("running",),
    ("cli",),
)
RANK = {folder: rank for rank, layer in enumerate(LAYERS) for folder in layer}
#: The public API (``__init__``, and ``_api`` that it loads on first use) and ``python -m
#: pyro_vae`` sit on top of everything and may import anything.
TOP = {"__init__", "_api", "__main__"}


def _folder(module: str) -> str:
    head = module.split(".")[0]
    return head if (PACKAGE / head).is_dir() else ""


def _imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports anywhere (module level or inside functions).

    ``from pyro_vae import name`` counts as importing the package itself (``__init__``) unless
    ``name`` is a module of the package; ``from pyro_vae.parts import priors`` imports
    ``parts.priors``. Importing ``pyro_vae.x.y`` runs ``__init__`` first, as any submodule
    import does; that implicit step is not counted.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pyro_vae":
                    found.add(".".join(parts[1:]) or "__init__")
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import; spell the module's full path"
            parts = node.module.split(".")
            if parts[0] != "pyro_vae":
                continue
            base = ".".join(parts[1:])
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                found.add(sub if sub in MODULES else base or "__init__")
    return found - {_dotted(path)} if path.is_relative_to(PACKAGE) else found


def _upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import in ``graph`` that runs sideways or upward between folders."""
    bad = []
    for module, imported in sorted(graph.items()):
        if module in TOP:
            continue
        here = _folder(module)
        for other in sorted(imported):
            if other == "__init__":
                bad.append(f"{module} imports pyro_vae itself: import from the module instead")
            elif _folder(other) != here and RANK[_folder(other)] >= RANK[here]:
                bad.append(f"{module} ({here or 'ground floor'}) imports {other}")
    return bad


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


def test_the_import_walk_sees_every_kind_of_import():
    graph = {name: _imported_modules(path) for name, path in MODULES.items()}
    assert graph["__init__"] >= {"running.training", "storage.rundir", "running.evaluation"}
    assert "plots.kinds" in graph["running.training"]  # ... function-level ones included
    assert "errors" in graph["registry"]  # ... and the ground floor's


def test_no_import_cycle_among_the_package_modules():
    graph = {name: _imported_modules(path) for name, path in MODULES.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_every_folder_has_its_layer():
    folders = {_folder(name) for name in MODULES}
    assert folders == set(RANK), f"folders without a layer: {folders - set(RANK)}"


def test_the_layer_check_finds_upward_and_sideways_imports():
    assert _upward_imports({"parts.priors": {"registry", "parts.networks"}}) == []
    assert _upward_imports({"parts.priors": {"models.vae"}}) == [
        "parts.priors (parts) imports models.vae"
    ]
    assert _upward_imports({"models.vae": {"data.splits"}})  # side by side
    assert _upward_imports({"config": {"parts.priors"}})  # the ground floor imports no folder
    assert _upward_imports({"estimate.ais": {"__init__"}})


def test_folders_import_only_downward():
    graph = {name: _imported_modules(path) for name, path in MODULES.items()}
    bad = _upward_imports(graph)
    assert not bad, "\n".join(bad)


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


# storage.document: config.json alone, apart so that reading it needs no torch
@pytest.mark.parametrize("name", sorted(set(MODULES) - {"storage.rundir", "storage.document"}))
def test_only_the_run_directory_module_spells_its_file_names(name):
    names = (*rundir.RUN_FILES, rundir.LOCK_FILE)
    for line, text in _code_strings(MODULES[name]):
        spelled = [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", text)]
        assert not spelled, (
            f"pyro_vae/{name}.py:{line} spells {spelled}: ask pyro_vae.storage.rundir"
        )
        assert not text.startswith("f:.png"), f"pyro_vae/{name}.py:{line}: use rundir.figure_path"


def test_the_run_document_spells_only_its_own_file_name():
    others = tuple(n for n in (*rundir.RUN_FILES, rundir.LOCK_FILE) if n != rundir.CONFIG_FILE)
    for line, text in _code_strings(MODULES["storage.document"]):
        assert not [n for n in others if n in text], f"pyro_vae/storage/document.py:{line}"


def test_benchmarks_use_the_python_api_not_the_command_line():
    for path in sorted((ROOT / "bench").glob("*.py")):
        used = {m for m in _imported_modules(path) if _folder(m) == "cli"}
        assert not used, f"{path.name} imports {sorted(used)}"


def test_modules_stay_small():
    lines = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    # the loop only, on one device or many processes (the step's arithmetic lives in
    # objectives.Gradients, the processes in parallel)
    assert lines["running.trainer"] < 500
    # rundir (every file of a run, and its lifecycle) is the largest; past 650 lines a module
    # holds two ideas
    too_long = {name: n for name, n in lines.items() if n > 650}
    assert not too_long, f"modules holding more than one idea: {too_long}"


def _public_callables():
    """(name, signature) of every public function and method the package's modules export."""
    import importlib

    for dotted in sorted(set(MODULES) - TOP):
        module = importlib.import_module(f"pyro_vae.{dotted}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{dotted}.{name}", inspect.signature(obj)
            elif inspect.isclass(obj) and "__dataclass_fields__" not in vars(obj):
                if "__init__" in vars(obj):
                    yield f"{dotted}.{name}", inspect.signature(obj.__init__)
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and not attr.startswith("_"):
                        yield f"{dotted}.{name}.{attr}", inspect.signature(member)


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


#: Test files about the project as a whole, or about many modules at once, and what they test.
ACROSS_MODULES = {
    "test_bad_input.py": "the catalogue of bad input, through the command line",
    "test_docs.py": "README and BENCHMARKS against the code and the results",
    "test_layout.py": "the package's shape",
    "test_notebooks.py": "the notebooks",
    "parts/test_components.py": "every prior x guide x likelihood, composed",
}


def test_tests_mirror_the_package():
    """tests/<folder>/test_<module>[_<topic>].py tests pyro_vae/<folder>/<module>.py."""
    tests = ROOT / "tests"
    strays = []
    for path in sorted(tests.rglob("test_*.py")):
        relative = path.relative_to(tests).as_posix()
        if relative in ACROSS_MODULES:
            continue
        folder = path.parent.relative_to(tests).as_posix().replace("/", ".")
        stem = path.stem.removeprefix("test_")
        names = {f"{folder}.{stem}" if folder != "." else stem}
        names |= {n.rsplit("_", 1)[0] for n in names if "_" in n.rsplit(".", 1)[-1]}
        if not names & set(MODULES):
            strays.append(relative)
    assert not strays, f"test files that mirror no module: {strays}"


def test_every_name_a_benchmark_imports_from_the_package_exists():
    # the benchmarks are not run by the tests: a name moved in the package must not break them
    for path in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyro_vae"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{path.name}: {node.module}.{alias.name}"
