"""The benchmark workloads deliver every message and every ACK (their rates
are measured by ``python -m benchmarks``, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

WORKLOAD = Path(__file__).resolve().parent.parent / "benchmarks" / "workload.py"


def _run(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(WORKLOAD), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_produce_consume_and_latency_workloads(bmq_broker_uri):
    queue = "bmq://bmq.bench.mem.priority/workload-smoke"
    produced = _run("produce", "--broker", bmq_broker_uri, "--queue", queue, "--count", "300", "--size", "64")
    assert produced["acked"] == 300 and produced["failed"] == 0
    consumed = _run("consume", "--broker", bmq_broker_uri, "--queue", queue, "--count", "300")
    assert consumed["messages"] == 300
    latency = _run("latency", "--broker", bmq_broker_uri, "--queue", queue + "-latency",
                   "--count", "200", "--rate", "2000")
    assert latency["messages"] == 200
    assert 0 < latency["p50_us"] <= latency["p99_us"]


def test_failover_workload_through_the_cluster(bmq_cluster):
    """The leader-kill row: the runner kills the leader while this posts
    (losses are the failover tests' business: the broker's TTL race would
    make a count here flaky)."""
    sys.path.insert(0, str(WORKLOAD.parent.parent))
    try:
        from benchmarks.__main__ import _failover
    finally:
        sys.path.pop(0)
    result = _failover(bmq_cluster, Path(sys.executable), "bmq://bmq.test.persistent.priority/workload-failover",
                       1500, 1000.0)
    assert result["messages"] == 1500 and result["nacks"] == 0, result
    assert result["ack_stall_ms"] > 0 and result["duplicates"] >= 0 and result["lost"] >= 0, result
    assert all(node.running for node in bmq_cluster.nodes)  # the leader was started again


def test_batched_produce_soak_and_stall_workloads(bmq_broker_uri, tmp_path):
    from blazingmq.testing import start_broker

    queue = "bmq://bmq.bench.mem.priority/workload-batch"
    produced = _run("produce", "--broker", bmq_broker_uri, "--queue", queue, "--count", "305", "--batch", "10")
    assert produced["acked"] == 305 and produced["failed"] == 0
    consumed = _run("consume", "--broker", bmq_broker_uri, "--queue", queue, "--count", "305")
    assert consumed["messages"] == 305

    soak = _run("soak", "--broker", bmq_broker_uri, "--queue", queue + "-soak", "--count", "2000", "--window", "100")
    assert soak["messages"] == soak["acked"] == 2000 and soak["failed"] == 0
    assert len(soak["samples"]) == 10 and soak["python_objects_growth"] < 1000

    with start_broker(tmp_path / "broker") as broker:
        stalled = _run("stall", "--broker", broker.uri, "--queue", queue + "-stall", "--count", "2000",
                       "--broker-pid", str(broker.process.pid), "--pause", "1")
    assert stalled["acked"] == 2000 and stalled["failed"] == 0
    assert stalled["seconds"] >= 1.0  # the pause really happened


def test_aio_produce_and_consume_workloads(bmq_broker_uri):
    queue = "bmq://bmq.bench.mem.priority/workload-aio"
    loops = ["asyncio"]
    try:
        import uvloop  # noqa: F401

        loops.append("uvloop")
    except ImportError:  # pragma: no cover - uvloop is in the test extra
        pass
    for loop in loops:
        produced = _run("aio-produce", "--broker", bmq_broker_uri, "--queue", queue, "--count", "300",
                        "--window", "50", "--loop", loop)
        assert produced["acked"] == 300 and produced["failed"] == 0
        consumed = _run("aio-consume", "--broker", bmq_broker_uri, "--queue", queue, "--count", "300",
                        "--loop", loop)
        assert consumed["messages"] == 300


def _broker_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / (1024.0 * 1024.0)


def test_drain_empties_a_queue_and_the_bench_broker_reuses_the_memory(bmq_broker):
    # The runner empties the queues nobody measures, and the bench domain
    # keeps confirmed messages for 1 s only (deduplication window): with the
    # broker's default 5 minutes, each round below would add its 64 MiB of
    # payloads to the broker (the first runner with 3 rounds grew it to 18 GB).
    queue = "bmq://bmq.bench.mem.priority/workload-drain"
    sizes = []
    for _ in range(4):
        produced = _run("produce", "--broker", bmq_broker.uri, "--queue", queue, "--count", "1000",
                        "--size", "65536")
        assert produced["acked"] == 1000 and produced["failed"] == 0
        assert _run("drain", "--broker", bmq_broker.uri, "--queue", queue)["messages"] == 1000
        time.sleep(1.5)  # past the deduplication window
        sizes.append(_broker_rss_mb(bmq_broker.process.pid))
    assert _run("drain", "--broker", bmq_broker.uri, "--queue", queue)["messages"] == 0
    # Rounds 2-4 reuse what round 1 took (3 x 64 MiB more if they did not).
    assert sizes[-1] - sizes[0] < 64, sizes
