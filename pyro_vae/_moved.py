"""Where the modules of the flat layout went: their old import paths still work, with a warning.

Until this layout, every module sat in ``pyro_vae/`` itself (``pyro_vae.ais``,
``pyro_vae.rundir``, ...); they now sit in folders by concern (``docs/architecture.md``). For
the rest of version 0.1 an old path still imports: ``import pyro_vae.ais`` (or
``from pyro_vae.ais import annealed_importance_sampling``) gives a module that looks every name
up where it lives now, and a ``FutureWarning`` names the new path. The next release removes the
old paths. Three old modules share their name with a new folder (``pyro_vae.data``,
``pyro_vae.plots``, ``pyro_vae.cli``): those folders forward the old names through their
``__getattr__`` (:func:`forward`), with the same warning.

A forwarding module is a view, not the module: setting an attribute on it (monkeypatching)
changes nothing where the code lives. Patch the new path.

Example:
    >>> import sys, warnings
    >>> _ = sys.modules.pop("pyro_vae.ais", None)  # the first import of a session warns
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     from pyro_vae.ais import annealed_importance_sampling
    >>> annealed_importance_sampling.__module__
    'pyro_vae.estimate.ais'
    >>> "pyro_vae.estimate.ais" in str(caught[0].message)
    True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "OldPathFinder", "forward", "install", "old_module"]

_PACKAGE = "pyro_vae"

#: Each module of the flat layout -> where its contents live now, in the order they are searched.
MOVED: dict[str, tuple[str, ...]] = {
    "ais": ("estimate.ais",),
    "arguments": ("cli.arguments",),
    "bdmc": ("estimate.bdmc", "running.evaluation"),
    "cli": ("cli.commands",),
    "contracts": ("parts.contracts",),
    "data": ("data.datasets", "data.splits", "data.batches"),
    "devices": ("hardware.devices",),
    "diagnostics": ("estimate.diagnostics",),
    "estimators": ("estimate.importance",),
    "evaluation": ("estimate.dataset", "running.evaluation"),
    "exact": ("models.exact",),
    "files": ("storage.files",),
    "guides": ("parts.guides",),
    "hierarchical": ("models.hierarchical",),
    "interrupts": ("running.interrupts",),
    "likelihoods": ("parts.likelihoods",),
    "locking": ("storage.locking",),
    "networks": ("parts.networks",),
    "objectives": ("running.objectives",),
    "parallel": ("hardware.parallel",),
    "plot_kinds": ("plots.kinds",),
    "plots": ("plots.figures",),
    "priors": ("parts.priors",),
    "rundir": ("storage.rundir",),
    "training": ("running.training",),
    "vae": ("models.vae",),
}


def _new_paths(old: str) -> list[str]:
    return [f"{_PACKAGE}.{new}" for new in MOVED[old]]


def _message(old: str) -> str:
    new = " and ".join(_new_paths(old))
    return f"{_PACKAGE}.{old} moved to {new}; the old path goes in the next release"


def _lookup(old: str, name: str) -> tuple[str, Any]:
    """The new module that holds ``name`` of the old module ``old``, and its value."""
    for path in _new_paths(old):
        module = importlib.import_module(path)
        if hasattr(module, name):
            value = getattr(module, name)
            home = getattr(value, "__module__", None)  # where it is defined, if imported there
            return (home if isinstance(home, str) and home.startswith(_PACKAGE) else path), value
    raise AttributeError(f"module '{_PACKAGE}.{old}' has no attribute {name!r}")


class _Forwarding(ModuleType):
    """An old module path: every attribute is looked up in the modules that hold it now."""

    def __init__(self, old: str) -> None:
        super().__init__(f"{_PACKAGE}.{old}", f"Moved: see {', '.join(_new_paths(old))}.")
        self._old = old

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _lookup(self._old, name)[1]

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        for path in _new_paths(self._old):
            names.update(getattr(importlib.import_module(path), "__all__", ()))
        return sorted(names)


class _ForwardingLoader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self._old = old

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return _Forwarding(self._old)

    def exec_module(self, module: ModuleType) -> None:
        # stacklevel 2 is the importing line: warnings skips importlib's own frames
        warnings.warn(_message(self._old), FutureWarning, stacklevel=2)
        # the same names as the old module: ``from pyro_vae.ais import *`` keeps working
        module.__all__ = [  # type: ignore[attr-defined]
            name
            for path in _new_paths(self._old)
            for name in getattr(importlib.import_module(path), "__all__", ())
        ]


class OldPathFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths that no file answers any more (see the module docstring)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A forwarding module's spec for ``pyro_vae.<old>``, else ``None`` (not ours)."""
        package, _, old = fullname.rpartition(".")
        if package != _PACKAGE or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _ForwardingLoader(old))


def install() -> None:
    """Put :class:`OldPathFinder` last on ``sys.meta_path`` (once); real modules come first."""
    if not any(isinstance(finder, OldPathFinder) for finder in sys.meta_path):
        sys.meta_path.append(OldPathFinder())


def old_module(name: str) -> ModuleType:
    """``pyro_vae.<name>`` of the flat layout, for the package's ``__getattr__``, with a warning.

    The warning names the line that read the attribute (the import's own would name this one).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = importlib.import_module(f"{_PACKAGE}.{name}")
    warnings.warn(_message(name), FutureWarning, stacklevel=3)
    return module


def forward(package: str, name: str) -> Any:
    """A name of an old module that is now a folder of the same name, with a warning.

    For the ``__getattr__`` of ``pyro_vae.data``, ``pyro_vae.plots`` and ``pyro_vae.cli``.

    Raises:
        AttributeError: if the old module had no such name either (a submodule not yet
            imported is found by the import system after this).
    """
    old = package.rpartition(".")[2]
    if name.startswith("__") or old not in MOVED:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    try:
        path, value = _lookup(old, name)
    except AttributeError:
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
    if isinstance(value, ModuleType):  # a module the new one imports (torch, np): not an old
        # name; pickle's search of every module for an object asks for such names (inductor)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warnings.warn(
        f"{package}.{name} moved to {path}.{name}; the old path goes in the next release",
        FutureWarning,
        stacklevel=3,
    )
    setattr(sys.modules[package], name, value)  # found once: ``from ... import`` asks twice
    return value
