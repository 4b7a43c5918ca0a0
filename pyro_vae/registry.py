"""Name -> factory tables for the swappable parts (one registry per family).

Every family of parts (priors, guides, likelihoods, networks, objectives, datasets) keeps one
:class:`Registry`. The command line, config files and the Python API all look parts up through it,
so an unknown name gets the same error everywhere, listing the valid choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from pyro_vae.errors import InputError

__all__ = ["Registry", "RegistryEntry"]

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One registered part: its name, its factory and a one-line summary."""

    name: str
    factory: T
    summary: str


class Registry(Generic[T]):
    """A table of named factories for one family of parts.

    Args:
        family: what the entries are, e.g. ``"prior"``; used in error messages.
        option: the command-line option that selects an entry, e.g. ``"--prior"``.

    Example:
        >>> shapes = Registry[int]("shape", "--shape")
        >>> @shapes.register("square", "four equal sides")
        ... def square() -> int:
        ...     return 4
        >>> shapes.get("square")()
        4
        >>> shapes.names()
        ('square',)
    """

    def __init__(self, family: str, option: str) -> None:
        self.family = family
        self.option = option
        self._entries: dict[str, RegistryEntry[T]] = {}

    def register(self, name: str, summary: str) -> Callable[[T], T]:
        """Decorator that registers ``factory`` under ``name``."""

        def decorate(factory: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._entries[name] = RegistryEntry(name, factory, summary)
            return factory

        return decorate

    def get(self, name: str) -> T:
        """Return the factory registered as ``name``; raise :class:`InputError` if unknown."""
        self.check(name)
        return self._entries[name].factory

    def check(self, name: str) -> str:
        """Return ``name`` if it is registered, else raise an error listing the valid names."""
        if name not in self._entries:
            valid = ", ".join(self._entries)
            raise InputError(
                f"unknown {self.family} {name!r}: choose one of {valid} (option {self.option})"
            )
        return name

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def entries(self) -> Iterator[RegistryEntry[T]]:
        """Iterate over the registered entries, in registration order."""
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
