"""A phase: one measurement of `make bench`, with the targets and floors its figures are judged by.

A phase is a function that takes the Bench and returns {figure key: value}; `@phase(...)` turns it
into a Phase. benchmarks/phases/__init__.py lists them in the order they run.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    name: str
    fn: Callable
    targets: dict  # key -> (">=" or "<=", number)
    floors: dict  # key -> floor key it is divided by (or a tuple of them, the first the main one)
    doc: dict  # key -> how it is measured, for the table


def phase(*, targets=None, floors=None, doc=None):
    """Declare a measurement. `targets` {"key": (">=", 330)}, `floors` {"key": "floor_key"}."""

    def declare(fn) -> Phase:
        return Phase(fn.__name__, fn, targets or {}, floors or {}, doc or {})

    return declare
