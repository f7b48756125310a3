"""``python -m benchmarks.latency_stages``: every message is timed, and the
stages are computed from the right timestamps (its numbers are measured,
never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency_stages import breakdown, percentiles  # noqa: E402


def test_breakdown_of_made_up_timestamps():
    # call, sent, queued, woken, gil, callback (ns): one inline delivery
    # (woken == queued) and one through the pump.
    rows = [[1_000, 0, 100_000, 100_000, 102_000, 110_000],
            [3_000, 0, 200_000, 230_000, 231_000, 241_000]]
    result = breakdown(rows, aio=False)
    # (of two values, the 50th percentile is the higher one)
    assert percentiles([0, 30_000]) == {"p50": 30.0, "p90": 30.0, "p99": 30.0, "p99.9": 30.0}
    assert percentiles([5_000] * 9 + [9_000]) == {"p50": 5.0, "p90": 9.0, "p99": 9.0, "p99.9": 9.0}
    assert result["post call"]["p50"] == 3.0
    assert result["post -> libbmq thread"]["p50"] == 200.0
    assert sorted(result["-> delivering thread awake"].values()) == [30.0] * 4
    assert result["-> GIL held"]["p50"] == 2.0  # 2 and 1
    assert result["-> callback"]["p50"] == 10.0  # 8 and 10
    assert result["end to end"]["p99"] == 241.0


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_a_small_run_times_every_stage(bmq_broker_uri, aio):
    command = [sys.executable, "-m", "benchmarks.latency_stages", "--broker", bmq_broker_uri, "--json",
               "--queue", f"bmq://bmq.test.mem.priority/stages-smoke-{aio}", "--count", "300", "--rate", "2000"]
    result = subprocess.run(command + (["--aio"] if aio else []), capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    stages = json.loads(result.stdout)
    expected = {"post call", "post -> libbmq thread", "-> delivering thread awake", "-> GIL held", "-> callback",
                "end to end"} | ({"-> event loop awake", "-> coroutine"} if aio else set())
    assert set(stages) == expected
    for name, values in stages.items():
        assert 0 <= values["p50"] <= values["p90"] <= values["p99"] <= values["p99.9"], (name, values)
    assert stages["end to end"]["p50"] >= stages["post -> libbmq thread"]["p50"]
