"""Name -> factory tables for the swappable parts (one registry per family), with their traits.

Every family of parts (priors, guides, likelihoods, networks, objectives, datasets, models)
keeps one :class:`Registry`. The command line, config files and the Python API all look parts up
through it, so an unknown name gets the same error everywhere, listing the valid choices.

An entry carries, beside its factory and a one-line summary, the *traits* the rest of the
package needs to know about the part without building it: whether Pyro's JIT can compile it,
which data a likelihood accepts, how many components a mixture has by default. Code asks an
entry for a trait (:meth:`Registry.trait`); it never tests a part's name.

Factories take explicit keyword arguments (``latent_dim``, ``data_dim``, ``components``, ...),
never a whole :class:`~pyro_vae.Config`. :meth:`Registry.build` passes each factory the
arguments its signature names, so a new part is one class or function plus one entry::

    @PRIORS.register("laplace", "a Laplace prior", jit=True)
    class LaplacePrior(nn.Module):
        def __init__(self, latent_dim: int) -> None: ...

Each registry is also listed by family name (:func:`family`), which is how
:class:`~pyro_vae.Config` checks the names it holds without importing a part module. A registry
fills as the modules of its entries are imported; the first time any registry is read, the
whole API (:mod:`pyro_vae._api`) is imported, so that every entry is there however the package
was entered (``import pyro_vae`` itself imports nothing heavy).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from pyro_vae.errors import InputError, where

__all__ = ["Registry", "RegistryEntry", "families", "family"]

T = TypeVar("T")

_FAMILIES: dict[str, Registry[Any]] = {}
_LOADED: list[bool] = []  # [True] once the whole API has been imported


def _load() -> None:
    """Import the whole API once (every module that registers an entry), before a registry read.

    The import happens by name, not by an import statement: this module is at the bottom of
    the package and the API at its top.
    """
    if not _LOADED:
        _LOADED.append(True)  # first: the API's own imports read registries as they fill them
        importlib.import_module("pyro_vae._api")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One registered part: its name, its factory, a one-line summary and its traits."""

    name: str
    factory: T
    summary: str
    traits: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class Registry(Generic[T]):
    """A table of named factories for one family of parts.

    Args:
        family: what the entries are, e.g. ``"prior"``; used in error messages and as the key
            under which :func:`family` finds the registry.
        option: the command-line option that selects an entry, e.g. ``"--prior"``.
        defaults: the value of each trait for entries that do not declare it.

    Example:
        >>> shapes = Registry[int]("shape", "--shape", defaults={"sides": 0})
        >>> @shapes.register("square", "four equal sides", sides=4)
        ... def square(size: int) -> int:
        ...     return 4 * size
        >>> shapes.build("square", size=3, colour="red")  # arguments it does not take are left
        12
        >>> shapes.trait("square", "sides"), shapes.names()
        (4, ('square',))
    """

    def __init__(self, family: str, option: str, defaults: Mapping[str, Any] | None = None) -> None:
        self.family = family
        self.option = option
        self.defaults = MappingProxyType(dict(defaults or {}))
        self._entries: dict[str, RegistryEntry[T]] = {}
        _FAMILIES.setdefault(family, self)

    def register(self, name: str, summary: str, **traits: Any) -> Callable[[T], T]:
        """Decorator that registers ``factory`` under ``name`` with the given traits."""
        unknown = sorted(set(traits) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"{self.family} {name!r}: unknown traits {unknown}; {self.family} entries may "
                f"declare {sorted(self.defaults)}"
            )

        def decorate(factory: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.family} {name!r} is already registered")
            merged = MappingProxyType({**self.defaults, **traits})
            self._entries[name] = RegistryEntry(name, factory, summary, merged)
            return factory

        return decorate

    def unregister(self, name: str) -> None:
        """Remove the entry ``name`` (for tests and interactive sessions)."""
        self._entries.pop(self.check(name))

    def get(self, name: str) -> T:
        """Return the factory registered as ``name``; raise :class:`InputError` if unknown."""
        _load()
        self.check(name)
        return self._entries[name].factory

    def entry(self, name: str) -> RegistryEntry[T]:
        """Return the whole entry registered as ``name``; raise :class:`InputError` if unknown."""
        self.check(name)
        return self._entries[name]

    def trait(self, name: str, trait: str) -> Any:
        """The value of ``trait`` for the entry ``name`` (its family's default if undeclared)."""
        return self.entry(name).traits[trait]

    def build(self, name: str, **arguments: Any) -> Any:
        """Call the factory ``name`` with those of ``arguments`` that its signature names.

        A factory that takes ``**kwargs`` gets them all. This lets every factory of a family
        declare just the sizes it needs, while the caller offers everything it knows.
        """
        factory = self.get(name)
        if not callable(factory):
            raise TypeError(f"{self.family} {name!r} is not callable; use get() for it")
        return factory(**_accepted(factory, arguments))

    def check(self, name: str) -> str:
        """Return ``name`` if it is registered, else raise an error listing the valid names."""
        _load()
        if name not in self._entries:
            valid = ", ".join(self._entries)
            given = where(self.option.lstrip("-").replace("-", "_"))
            raise InputError(f"unknown {self.family} {name!r}: choose one of {valid} ({given})")
        return name

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        _load()
        return tuple(self._entries)

    def entries(self) -> Iterator[RegistryEntry[T]]:
        """Iterate over the registered entries, in registration order."""
        _load()
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        _load()
        return name in self._entries


def _accepted(factory: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    parameters = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(arguments)
    names = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return {k: v for k, v in arguments.items() if k in names}


def family(name: str) -> Registry[Any]:
    """The registry of the family ``name`` (``"prior"``, ``"guide"``, ...).

    Example:
        >>> import pyro_vae
        >>> family("prior") is pyro_vae.PRIORS
        True
    """
    _load()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise KeyError(f"no registry for the family {name!r}; known: {sorted(_FAMILIES)}") from None


def families() -> tuple[str, ...]:
    """The names of every family that has a registry, in the order they were created."""
    _load()
    return tuple(_FAMILIES)
