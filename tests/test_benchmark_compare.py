"""``python -m benchmarks --compare``: the per-row change between two
reports (pure JSON processing: no broker needed, nothing timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _report(path: Path, rows: list) -> Path:
    path.write_text(json.dumps({"count": 10, "table": rows, "results": {}}))
    return path


def test_compare_two_reports_shows_each_change(tmp_path):
    old = _report(tmp_path / "old.json", [
        {"label": "produce 1 KiB (msgs/s)", "values": {"ours": 100000, "bmqtool": 120000}, "lower_is_better": False},
        {"label": "latency p50 (us)", "values": {"ours": 300, "bmqtool": 250}, "lower_is_better": True},
        {"label": "gone (msgs/s)", "values": {"ours": 5}, "lower_is_better": False},
    ])
    new = _report(tmp_path / "new.json", [
        {"label": "produce 1 KiB (msgs/s)", "values": {"ours": 110000, "bmqtool": 120000}, "lower_is_better": False},
        {"label": "latency p50 (us)", "values": {"ours": 240, "bmqtool": 250}, "lower_is_better": True},
        {"label": "new row (msgs/s)", "values": {"ours": 7}, "lower_is_better": False},
    ])
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--compare", str(old), str(new)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    produce = next(line for line in lines if line.startswith("produce 1 KiB"))
    assert "100000" in produce and "110000" in produce and "+10.0% better" in produce
    assert any(line.strip().startswith("bmqtool") and line.endswith("0.0%") for line in lines)
    latency = next(line for line in lines if line.startswith("latency p50"))
    assert "-20.0% better" in latency  # lower latency is better
    assert any(line.startswith("new row") and line.endswith("-") for line in lines)
    assert any(line.startswith("gone") and line.endswith("-") for line in lines)


def test_compare_refuses_a_file_that_is_not_a_report(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--compare", str(bad), str(bad)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "not a report of python -m benchmarks" in result.stderr
