"""Consumer rows: consuming with a confirm per message, at 64 B and 1 KiB.

Per size: ``consume <size> (msgs/s)`` for ours, the PyPI wheel and bmqtool;
``consume <size>, confirm_many (msgs/s)`` for ours confirming from the main
thread with ``Session.confirm_many`` (100 messages per call), and
``aio consume <size> (msgs/s)`` for ``blazingmq.aio``.  Every Python
consumer receives each message as one ``Message`` object and confirms it.

Same broker state for all: each consumer reads a queue of its own, filled
just before (not timed) the same way for all, by bmqtool with ten messages
per PUT event; the broker is idle when the consumer starts (the runner
waits for it).  bmqtool fills and drains a queue of 8x the count, because
its rate comes from its once-a-second statistics (see ``_bmqtool_consume``
in ``__main__``); the Python consumers are timed from their first message
to their last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from .step import Step, bind

SIZES = ((64, "64 B"), (1024, "1 KiB"))
CONFIRM_BATCH = 100

Workload = Callable[..., Dict[str, Any]]  # (python, workload name, broker, queue, *options) -> result


def plan(*, broker_uri: str, domain: str, pythons: Mapping[str, Path], count: int, tag: str, prefix: str,
         workload: Workload, fill: Callable[[str, int, int], Any],
         tool_consume: Optional[Callable[[str, int, int], Dict[str, Any]]]) -> List[List[List[Step]]]:
    """Per size, the turns of its consumers (each turn: fill its queue,
    then consume it), for the runner to rotate from round to round.
    ``fill(queue, count, size)`` fills a queue; ``tool_consume(queue,
    count, size)`` is bmqtool's fill-and-consume run."""
    groups: List[List[List[Step]]] = []
    for size, size_label in SIZES:
        turns: List[List[Step]] = []
        row = f"consume {size_label} (msgs/s)"

        def consumer(name: str, python: Path, label: str, row: str, workload_name: str, *options: str) -> None:
            queue = f"bmq://{domain}/{name}-consume-{size}-{tag}"
            turns.append([
                Step(f"({prefix}filling {queue.rsplit('/', 1)[-1]} with {count} x {size_label})",
                     bind(fill, queue, count, size), "", ""),
                Step(f"{prefix}{label}: consume {count} x {size_label} with confirm", bind(
                    workload, python, workload_name, broker_uri, queue, "--count", str(count), *options), row, "ours"
                    if name.startswith("ours") else name),
            ])

        for name, python in pythons.items():
            consumer(name, python, name, row, "consume")
        if "ours" in pythons:
            consumer("ours-confirm-many", pythons["ours"], f"ours (confirm_many, {CONFIRM_BATCH} per call)",
                     f"consume {size_label}, confirm_many (msgs/s)", "consume",
                     "--confirm-batch", str(CONFIRM_BATCH))
            consumer("ours-aio", pythons["ours"], "ours (blazingmq.aio)", f"aio consume {size_label} (msgs/s)",
                     "aio-consume")
        if tool_consume is not None:
            queue = f"bmq://{domain}/tool-consume-{size}-{tag}"
            turns.append([Step(f"{prefix}bmqtool: consume {8 * count} x {size_label} with confirm",
                               bind(tool_consume, queue, count, size), row, "bmqtool")])
        groups.append(turns)
    return groups
