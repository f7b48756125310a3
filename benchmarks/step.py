"""One measurement of a benchmark plan: what the runner runs, and where its
result goes in the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict


@dataclass
class Step:
    """A run of one implementation for one table row.  A step with an
    empty ``row`` is not recorded (it prepares or cleans up: filling or
    emptying a queue)."""

    label: str
    run: Callable[[], Dict[str, Any]]
    row: str  # the table row this step fills
    column: str  # "ours", "official" or "bmqtool" (or a row set's own name)
    extra: Dict[str, Any] = field(default_factory=dict)


def bind(function: Callable[..., Dict[str, Any]], *args: Any) -> Callable[[], Dict[str, Any]]:
    """``function(*args)``, to be called later."""
    return lambda: function(*args)
