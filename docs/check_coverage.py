"""Check that the built API reference documents every public name.

    python docs/check_coverage.py build/docs/html

Reads the Sphinx inventory (``objects.inv``) of the built HTML and fails,
listing them, when a name of ``__all__`` of ``blazingmq``,
``blazingmq.aio``, ``blazingmq.exceptions``, ``blazingmq.otel``,
``blazingmq.session_events`` or ``blazingmq.testing``, or a public method of ``Session``, has no entry.
Run by ``.ci/run`` after the docs build.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Iterator, Set

from sphinx.util.inventory import InventoryFile

MODULES = [
    "blazingmq",
    "blazingmq.aio",
    "blazingmq.exceptions",
    "blazingmq.otel",
    "blazingmq.session_events",
    "blazingmq.testing",
]


def documented(html_dir: Path) -> Set[str]:
    with open(html_dir / "objects.inv", "rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    names: Set[str] = set()
    for role, entries in inventory.items():
        if role.startswith("py:"):
            names.update(entries)
    return names


def public_names() -> Iterator[str]:
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if module_name == "blazingmq" and name in ("exceptions", "session_events"):
                yield f"blazingmq.{name}"  # documented as modules
            else:
                yield f"{module_name}.{name}"
    import blazingmq
    import blazingmq.aio

    for cls, prefix in ((blazingmq.Session, "blazingmq.Session"), (blazingmq.aio.Session, "blazingmq.aio.Session")):
        for name in vars(cls):
            if not name.startswith("_"):
                yield f"{prefix}.{name}"


def main(html_dir: str) -> int:
    names = documented(Path(html_dir))
    missing = sorted(name for name in public_names() if name not in names)
    if missing:
        print("not in the API reference (docs/api/*.rst):", *missing, sep="\n  ", file=sys.stderr)
        return 1
    print(f"API reference: all {len(set(public_names()))} public names documented")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/docs/html"))
