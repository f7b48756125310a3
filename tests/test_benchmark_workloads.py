"""The benchmark workloads deliver every message and every ACK (their rates
are measured by ``python -m benchmarks``, never asserted here)."""

from __future__ import annotations

import importlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from blazingmq.testing import find_broker_executable

WORKLOAD = Path(__file__).resolve().parent.parent / "benchmarks" / "workload.py"
PERCENTILE_KEYS = ("p50_us", "p90_us", "p99_us", "p99_9_us")


def _benchmarks(module: str) -> ModuleType:
    """A module of the ``benchmarks`` folder (not an installed package)."""
    sys.path.insert(0, str(WORKLOAD.parent.parent))
    try:
        return importlib.import_module(f"benchmarks.{module}")
    finally:
        sys.path.pop(0)


def _assert_latency_report(result: dict, count: int) -> None:
    assert result["posted"] == result["messages"] == count, result
    values = [result[key] for key in PERCENTILE_KEYS]
    assert 0 < values[0] and values == sorted(values), result
    assert result["achieved_rate"] > 0 and result["posting_s"] > 0, result


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
    # Every message was confirmed: nothing is left for another consumer.
    assert _run("drain", "--broker", bmq_broker_uri, "--queue", queue)["messages"] == 0


def test_latency_workloads_post_in_bursts_and_report_ordered_percentiles(bmq_broker_uri):
    queue = "bmq://bmq.bench.mem.priority/workload-latency"
    for workload in ("latency", "aio-latency"):
        result = _run(workload, "--broker", bmq_broker_uri, "--queue", f"{queue}-{workload}",
                      "--count", "300", "--rate", "3000", "--size", "64")
        _assert_latency_report(result, 300)
        assert result["per_tick"] == 3 and result["rate"] == 3000
        assert _run("drain", "--broker", bmq_broker_uri, "--queue", f"{queue}-{workload}")["messages"] == 0


def test_confirm_many_consumer_confirms_every_message(bmq_broker_uri):
    queue = "bmq://bmq.bench.mem.priority/workload-confirm-many"
    produced = _run("produce", "--broker", bmq_broker_uri, "--queue", queue, "--count", "305", "--size", "64",
                    "--batch", "10")
    assert produced["acked"] == 305 and produced["failed"] == 0
    consumed = _run("consume", "--broker", bmq_broker_uri, "--queue", queue, "--count", "305",
                    "--confirm-batch", "100")
    assert consumed["messages"] == 305 and consumed["confirm_batch"] == 100
    assert _run("drain", "--broker", bmq_broker_uri, "--queue", queue)["messages"] == 0


def test_bmqtool_latency_run_at_a_rate(bmq_broker_uri, tmp_path):
    tool = find_broker_executable().parent / "bmqtool.tsk"
    if not tool.exists():
        pytest.skip(f"{tool} (used by the benchmarks only) is not installed")
    rates = _benchmarks("latency_rates")
    result = rates.bmqtool_rate_latency(tool, bmq_broker_uri, "bmq://bmq.bench.mem.priority/workload-tool-rate",
                                        2000, 300, 64, tmp_path)
    _assert_latency_report(result, 300)
    assert result["per_tick"] == 2


def test_histogram_percentiles_follow_the_rule_of_the_sorted_list():
    rates = _benchmarks("latency_rates")
    workload = _benchmarks("workload")
    # bmqtool's report: {"latency in ns": count}, keys as strings.
    histogram = {"1000": 50, "2000": 40, "5000": 9, "90000": 1}
    assert [rates.histogram_percentile(histogram, p) for p in (0, 50, 90, 99, 99.9, 100)] == [
        1000, 2000, 5000, 90000, 90000, 90000]
    generator = random.Random(7)
    for _ in range(50):
        values = [generator.choice([1000, 2000, 3000, 250000]) * generator.randint(1, 4)
                  for _ in range(generator.randint(1, 3000))]
        counts: dict = {}
        for value in values:
            counts[str(value)] = counts.get(str(value), 0) + 1
        expected = workload._percentiles(values)
        for key, p in zip(PERCENTILE_KEYS, (50, 90, 99, 99.9)):
            assert rates.histogram_percentile(counts, p) / 1000.0 == expected[key]
    with pytest.raises(ValueError):
        rates.histogram_percentile({"1000": 0}, 50)
    with pytest.raises(ValueError):
        rates.histogram_percentile(histogram, 101)


def test_highest_rate_search_steps_up_then_halves_the_last_gap():
    """The search's decisions, on runs made up for it (no broker: what a
    real implementation sustains is not something a test can choose)."""
    rates = _benchmarks("latency_rates")
    limit = {"fast": 120_000, "slow": 30_000, "none": 0}
    tried: dict = {name: [] for name in limit}

    def runner(name):
        def run(rate, count, queue):
            tried[name].append(rate)
            ok = rate <= limit[name]
            return {"messages": count, "posted": count, "achieved_rate": rate if ok else rate * 0.5,
                    "p50_us": 100.0, "p90_us": 200.0, "p99_us": 300.0 if ok else 90_000.0, "p99_9_us": 400.0}
        return run

    drained = []
    search = rates.RateSearch({name: runner(name) for name in limit}, "bmq://d/q-", 0.01, 10,
                              lambda: None, drained.append)
    for name in limit:
        for rate in rates.FIXED_RATES:
            search.measure(name, rate)
    fast = search.highest("fast")
    assert fast["rate_reached"] == 100_000 and tried["fast"][4:] == [100_000, 150_000, 125_000]
    assert fast["first_not_sustained"] == 150_000 and fast["p99_us"] == 300.0
    slow = search.highest("slow")  # between 20k (sustained) and 50k: 35k, not sustained
    assert slow["rate_reached"] == 20_000 and tried["slow"][4:] == [35_000]
    assert "error" in search.highest("none")
    assert rates.verdict({"messages": 9, "posted": 10, "achieved_rate": 1000, "p99_us": 1.0}, 1000)[0] is False
    assert drained == []  # every made-up run received all it posted


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


def test_latency_rate_rows_for_the_report():
    """The JSON rows --compare matches by label, from made-up results."""
    rates = _benchmarks("latency_rates")
    run = {"p50_us": 1.0, "p90_us": 2.0, "p99_us": 3.0, "p99_9_us": 4.0, "achieved_rate": 1000.0,
           "sustained": True, "verdict": "sustained"}
    results = {rates.row_for(1000): {"ours": run, "aio": dict(run, p99_us=30.0), "bmqtool": run},
               rates.HIGHEST_ROW: {"ours": dict(run, rate_reached=150_000), "bmqtool": dict(run, rate_reached=50_000)}}
    lines, rows = rates.table(results)
    by_label = {row["label"]: row for row in rows}
    assert by_label["latency p99 at 1k (us)"]["values"] == {"ours": 3.0, "official": None, "bmqtool": 3.0}
    assert by_label["aio latency p99 at 1k (us)"]["values"] == {"ours": 30.0, "bmqtool": 3.0}
    assert by_label["latency p99.9 at highest (us)"]["lower_is_better"] is True
    assert by_label["highest sustained rate (msgs/s)"]["values"]["ours"] == 150_000
    assert any(line.lstrip().startswith("150k (max) ours") for line in lines), lines


def test_runner_refuses_an_unknown_row_set():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "throughput,bogus"],
                            cwd=WORKLOAD.parent.parent, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "unknown row set(s) bogus" in result.stderr
