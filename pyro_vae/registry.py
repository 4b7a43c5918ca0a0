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

Importing the API takes seconds (torch, Pyro). What the command line needs before it runs
anything -- the names, summaries and traits of the built-in entries, to check a command's
options and print its help -- is also kept in ``catalogue.json`` beside this module, written by
``python -m pyro_vae.registry`` and checked against the registries by the tests. Within
:func:`from_catalogue`, :func:`family` answers from that file and nothing is imported; its
registries hold no factories.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from pyro_vae.errors import InputError, where

__all__ = [
    "CATALOGUE_FILE",
    "Registry",
    "RegistryEntry",
    "catalogue",
    "families",
    "family",
    "from_catalogue",
    "read_catalogue",
]

T = TypeVar("T")

#: The committed description of every built-in entry (see :func:`catalogue`).
CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")

_FAMILIES: dict[str, Registry[Any]] = {}
_LOADED: list[bool] = []  # [True] once the whole API has been imported
_DESCRIBED: list[dict[str, Registry[Any]]] = []  # the catalogue's registries, within from_catalogue
#: Families outside the API (their modules import more than it needs): imported when asked for.
_ELSEWHERE = {"figure kind": "pyro_vae.plots.kinds"}


def _load() -> None:
    """Import the whole API once (every module that registers an entry), before a registry read.

    The import happens by name, not by an import statement: this module is at the bottom of
    the package and the API at its top. Within :func:`from_catalogue` nothing is imported.
    """
    if not _LOADED and not _DESCRIBED:
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

    def __init__(
        self,
        family: str,
        option: str,
        defaults: Mapping[str, Any] | None = None,
        *,
        listed: bool = True,
    ) -> None:
        self.family = family
        self.option = option
        self.defaults = MappingProxyType(dict(defaults or {}))
        self._entries: dict[str, RegistryEntry[T]] = {}
        self._described = False  # True for the catalogue's stand-ins (see from_catalogue)
        if listed:  # the catalogue's stand-ins are not
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
        if self._described:
            raise LookupError(f"the catalogue's {self.family} registry holds no factories")
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
    if not _DESCRIBED and name in _ELSEWHERE:
        importlib.import_module(_ELSEWHERE[name])
    known = _DESCRIBED[-1] if _DESCRIBED else _FAMILIES
    try:
        return known[name]
    except KeyError:
        raise KeyError(f"no registry for the family {name!r}; known: {sorted(known)}") from None


def families() -> tuple[str, ...]:
    """The names of every family that has a registry, in the order they were created."""
    _load()
    return tuple(_DESCRIBED[-1] if _DESCRIBED else _FAMILIES)


def catalogue() -> dict[str, Any]:
    """What the command line needs to know of every registry, as JSON: names, summaries, traits.

    Read from the live registries (importing the API); ``python -m pyro_vae.registry`` writes it
    to :data:`CATALOGUE_FILE`.

    Example:
        >>> catalogue()["families"]["prior"]["option"]
        '--prior'
    """
    _load()
    for module in _ELSEWHERE.values():
        importlib.import_module(module)
    return {
        "written_by": "python -m pyro_vae.registry (do not edit: the tests compare it)",
        "families": {
            name: {
                "option": registry.option,
                "defaults": _as_json(dict(registry.defaults)),
                "entries": [
                    {"name": e.name, "summary": e.summary, "traits": _as_json(dict(e.traits))}
                    for e in registry._entries.values()
                ],
            }
            for name, registry in _FAMILIES.items()
        },
    }


def read_catalogue() -> dict[str, Any]:
    """The committed catalogue (:data:`CATALOGUE_FILE`), as :func:`catalogue` wrote it.

    Example:
        >>> read_catalogue()["families"]["likelihood"]["option"]
        '--likelihood'
    """
    return json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))


@contextlib.contextmanager
def from_catalogue() -> Iterator[None]:
    """Within: :func:`family` answers from the committed catalogue, importing nothing.

    For checks that need only names and traits (the command line's options, before torch is
    imported). Its registries check names and answer traits like the live ones (with any entry
    this process has registered beside the catalogue's); they hold no factories (``get`` and
    ``build`` raise ``LookupError``).

    Example:
        >>> with from_catalogue():
        ...     family("prior").check("mixture")
        'mixture'
    """
    described: dict[str, Registry[Any]] = {}
    for name, record in read_catalogue()["families"].items():
        registry: Registry[Any] = Registry(
            name, record["option"], _from_json(record["defaults"]), listed=False
        )
        registry._described = True
        for e in record["entries"]:
            registry.register(e["name"], e["summary"], **_from_json(e["traits"]))(None)
        live = _FAMILIES.get(name)
        for e in live._entries.values() if live is not None else ():  # registered here since
            if e.name not in registry._entries:
                registry._entries[e.name] = RegistryEntry(e.name, None, e.summary, e.traits)
        described[name] = registry
    _DESCRIBED.append(described)
    try:
        yield
    finally:
        _DESCRIBED.pop()


def _as_json(value: Any) -> Any:
    """Traits as JSON values: tuples become lists (read back as tuples by :func:`_from_json`)."""
    if isinstance(value, Mapping):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_as_json(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return value


if __name__ == "__main__":  # pragma: no cover - the developers' command
    from pyro_vae import registry  # the package's module: this one runs as a second copy

    CATALOGUE_FILE.write_text(json.dumps(registry.catalogue(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CATALOGUE_FILE}")
