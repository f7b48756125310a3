"""``python -m benchmarks --compare OLD.json [NEW.json]``: the change of
every row and column of a report against an earlier one, so that a change to
the code can show what it did.  Reads the ``table`` of the JSON reports the
runner writes; rows are matched by label, columns by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

COLUMNS = ("ours", "official", "bmqtool")


def load_table(path: Path) -> List[Dict[str, Any]]:
    """The rows of a report written by ``python -m benchmarks``."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read benchmark report {path}: {error}") from None
    table = report.get("table") if isinstance(report, dict) else None
    if not isinstance(table, list):
        raise SystemExit(f"{path} is not a report of python -m benchmarks (no 'table')")
    return [row for row in table if isinstance(row, dict) and "label" in row]


def _change(old: Optional[float], new: Optional[float], lower_is_better: bool) -> str:
    """``+12.5% better``-style text; '-' when either side is missing."""
    if old is None or new is None or old == 0:
        return "-"
    percent = (new - old) / abs(old) * 100.0
    if abs(percent) < 0.05:
        return "0.0%"
    better = (percent < 0) if lower_is_better else (percent > 0)
    return f"{percent:+.1f}% {'better' if better else 'worse'}"


def compare_tables(old: Sequence[Dict[str, Any]], new: Sequence[Dict[str, Any]]) -> List[str]:
    """Lines of a table: for each row of ``new`` (and rows only ``old``
    has), each column's old value, new value and change."""
    old_by_label = {row["label"]: row for row in old}
    new_labels = [row["label"] for row in new]
    lines = [f"{'':42}{'column':>10}{'old':>12}{'new':>12}  change"]
    for row in list(new) + [row for row in old if row["label"] not in new_labels]:
        label = row["label"]
        before = old_by_label.get(label, {}).get("values", {})
        after = row.get("values", {}) if label in new_labels else {}
        lower_is_better = bool(row.get("lower_is_better"))
        for column in COLUMNS:
            old_value, new_value = before.get(column), after.get(column)
            if old_value is None and new_value is None:
                continue
            lines.append(
                f"{label:42}{column:>10}{_cell(old_value):>12}{_cell(new_value):>12}  "
                f"{_change(old_value, new_value, lower_is_better)}"
            )
            label = ""  # the label once per row
    lines.append("(better: a higher rate, or a lower latency or memory)")
    return lines


def _cell(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}"


def compare_files(old: Path, new: Path) -> List[str]:
    """Compare two reports written by ``python -m benchmarks``."""
    return [f"change from {old} to {new}:"] + compare_tables(load_table(old), load_table(new))
