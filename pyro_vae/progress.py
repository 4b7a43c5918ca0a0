"""Progress that shows wherever the output goes: a bar on a terminal, a line a minute elsewhere.

tqdm's bar redraws one line, which a log file or a pipe keeps as one ever-growing line (or,
without a terminal, the bar is off and a long evaluation prints nothing). :func:`progress`
gives the bar on a terminal and, elsewhere, one plain line every :data:`EVERY` seconds with the
work done and an estimate of the time left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm  # text bars: shown only on a terminal, so no widget dependency

__all__ = ["EVERY", "duration", "on_terminal", "progress"]

T = TypeVar("T")

#: Seconds between two progress lines off a terminal.
EVERY = 60.0


def on_terminal() -> bool:
    """Whether stderr, where progress goes, is a terminal."""
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """A time span as people read it.

    Example:
        >>> duration(42), duration(3 * 60 + 5), duration(7300)
        ('42 s', '3 min 5 s', '2 h 1 min')
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def progress(
    items: Iterable[T], *, total: int, what: str, unit: str, enabled: bool = True
) -> Iterable[T]:
    """``items``, reported as they are consumed: tqdm's bar on a terminal, else a line a minute.

    Args:
        items: the work, one item at a time.
        total: how many items there are.
        what: what the work is, for the line (``"guide K=5000"``).
        unit: what an item is (``"points"``).
        enabled: ``False`` reports nothing.

    Example:
        >>> list(progress(range(3), total=3, what="squares", unit="numbers", enabled=False))
        [0, 1, 2]
    """
    if not enabled:
        return items
    if on_terminal():
        return tqdm(items, total=total, desc=what, unit=unit.rstrip("s"), leave=False)
    return _lines(items, total, what, unit)


def _lines(items: Iterable[T], total: int, what: str, unit: str) -> Iterator[T]:
    started = last = time.perf_counter()
    for done, item in enumerate(items):
        now = time.perf_counter()
        if done and now - last >= EVERY:
            last, spent = now, now - started
            left = spent / done * (total - done)
            print(
                f"{what}: {done}/{total} {unit}, {duration(spent)}, about {duration(left)} left",
                file=sys.stderr,
                flush=True,
            )
        yield item
