"""The scale rows of ``python -m benchmarks`` (``benchmarks/scale.py``): every
workload runs tiny against the test broker and delivers everything; the
rows and the chart are made from what they report.  Rates are never
asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from blazingmq.testing import find_broker_executable

ROOT = Path(__file__).resolve().parent.parent
SCALE_WORKLOAD = ROOT / "benchmarks" / "scale_workload.py"


def _run(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(SCALE_WORKLOAD), *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _runner():
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import scale
        from benchmarks.__main__ import _bmqtool, _rate_from_stats, _run as run_process
    finally:
        sys.path.pop(0)
    return scale, scale.Helpers(run_process, _bmqtool, _rate_from_stats, lambda pid: None)


def test_queue_and_session_workloads(bmq_broker_uri):
    queues = _run("queues", "--broker", bmq_broker_uri, "--queue", "bmq://bmq.bench.mem.priority/scale-smoke-q",
                  "--queues", "3", "--count", "31")
    assert queues["acked"] == queues["received"] == 31 and queues["failed"] == 0, queues
    assert queues["open_s"] > 0 and queues["rss_per_queue_kib"] >= 0 and queues["threads"] > 1, queues
    aio = _run("queues-aio", "--broker", bmq_broker_uri, "--queue", "bmq://bmq.bench.mem.priority/scale-smoke-a",
               "--queues", "3")
    assert aio["queues"] == 3 and aio["open_s"] > 0 and aio["close_s"] > 0, aio
    sessions = _run("sessions", "--broker", bmq_broker_uri, "--queue", "bmq://bmq.bench.mem.priority/scale-smoke-s",
                    "--sessions", "3", "--count", "31")
    assert sessions["acked"] == 31 and sessions["failed"] == 0, sessions
    # Each session brings its own threads (libbmq's and the SDK's).
    assert sessions["threads_per_session"] >= 1 and sessions["rss_mb"] > 0, sessions


def test_properties_reach_the_consumer(bmq_broker_uri):
    queue = "bmq://bmq.bench.mem.priority/scale-smoke-properties"
    produced = _run("produce", "--broker", bmq_broker_uri, "--queue", queue, "--count", "40", "--size", "64",
                    "--properties", "10")
    assert produced["acked"] == 40 and produced["failed"] == 0, produced
    consumed = _run("consume", "--broker", bmq_broker_uri, "--queue", queue, "--count", "40", "--properties", "10")
    assert consumed["messages"] == 40 and consumed["last_at"] >= consumed["first_at"], consumed
    # The consumer checks the number of properties of every message.
    produced = _run("produce", "--broker", bmq_broker_uri, "--queue", queue, "--count", "1", "--properties", "2")
    wrong = subprocess.run([sys.executable, str(SCALE_WORKLOAD), "consume", "--broker", bmq_broker_uri, "--queue",
                            queue, "--count", "1", "--properties", "10"], capture_output=True, text=True, timeout=120)
    assert wrong.returncode != 0 and "had 2 properties, not 10" in wrong.stderr


def test_every_step_of_a_tiny_plan_and_its_rows(bmq_broker, tmp_path):
    """All curves, tiny, ours and bmqtool's: the same steps as the runner's,
    then the rows, the text table and the chart made from them."""
    scale, helpers = _runner()
    tool = find_broker_executable().parent / "bmqtool.tsk"
    if not tool.exists():
        pytest.skip(f"{tool} not found (bmqtool is needed by the benchmarks only)")
    plan = scale.Plan(queues=(1, 2), queue_messages=20, sessions=(2,), session_messages=20,
                      sizes=((64, 20), (scale.MAX_PAYLOAD, 1)), fanout_messages=30, property_messages=30)
    results: dict = {}
    for step in scale._steps(plan, bmq_broker.uri, bmq_broker.pid, tool, helpers, results, tmp_path):
        step.run()
    # (bmqtool's consumer rates of so few messages are lower bounds: noted, not failed)
    assert [line for line in scale.failures(results) if not line.startswith("note:")] == []
    fanout = results["scale fanout"]
    assert fanout["ours"]["points"][0]["per_app"] == [30, 30, 30]
    assert fanout["bmqtool"]["points"][0]["per_app"] == [30, 30, 30]
    largest = [p for p in results["scale size consume"]["ours"]["points"] if p["size"] == scale.MAX_PAYLOAD]
    assert largest[0]["messages"] == 1
    assert [p["properties"] for p in results["scale properties consume"]["bmqtool"]["points"]] == [0, 10]

    rows = {row["label"]: row for row in scale.table_rows(results)}
    expected = ["scale: open 2 queues sync (ms)", "scale: open 2 queues gather (ms)",
                "scale: RSS per queue at 2 (KiB)", "scale: 2 queues produce (msgs/s)",
                "scale: 2 queues consume (msgs/s)", "scale: 2 sessions threads", "scale: 2 sessions RSS (MB)",
                "scale: 2 sessions total (msgs/s)", "scale: produce 64 B (MiB/s)", "scale: produce 64 MiB (MiB/s)",
                "scale: consume 64 MiB (MiB/s)", "scale: fanout 3 apps delivered (msgs/s)",
                "scale: produce 64 B, 10 properties (msgs/s)", "scale: consume 64 B, 0 properties (msgs/s)"]
    for label in expected:
        assert rows[label]["values"]["ours"] is not None, label
    for label in ("scale: produce 64 MiB (MiB/s)", "scale: fanout 3 apps delivered (msgs/s)",
                  "scale: consume 64 B, 10 properties (msgs/s)"):
        assert rows[label]["values"]["bmqtool"] is not None and not rows[label]["no_ratio"], label
    assert rows["scale: 2 sessions threads"]["no_ratio"]  # bmqtool has one session per process
    lines = scale.table_lines(list(rows.values()))
    assert len(lines) == len(rows) + 1 and any(line.endswith("x") for line in lines)

    chart = tmp_path / "scale.png"
    scale.chart(results, chart, "test")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
