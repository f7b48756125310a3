"""Side-by-side benchmark: this package vs the C++ ``bmqtool.tsk`` vs the
existing ``blazingmq`` wheel from PyPI, in one run against one local broker.

    python -m benchmarks [--count 200000] [--quick] [--no-official] [--no-bmqtool] [--only SET[,SET...]]
    python -m benchmarks --compare OLD.json [NEW.json]

Row sets (``--only``; default: all): ``throughput`` (producers, and
bmqtool's 64-per-event ceiling), ``consume`` (consumers, 64 B and 1 KiB),
``rates`` (latency vs rate, ``latency_rates.py``), ``soak`` (memory soak,
paused broker), ``cluster`` (through a proxy to a 4-node cluster).

Every Python workload (``workload.py``) runs in its own process: the same
script under this package and under the official wheel (installed on demand
into ``build/bench-official``).  User code receives every message as one
object and every ACK it asked for.  bmqtool runs in ``--mode auto``; its producer
rates are timed like ours, from the queue being open to the last ACK (read from
its INFO log), its consumer rate comes from its once-a-second statistics (the
windows entirely inside the run), its latency from its ``-l hires
--latency-report``.

Every run of a row meets the same broker state (fresh queue, no message held,
size already seen, broker idle, the rest of the machine quiet if it gets so
within 3 s); each timed step records the CPU the broker and every process
outside the benchmark used (``broker_cpu_s``, ``other_cpu_s``).  Absolute
rates on a shared machine are noisy: read the ratios, which come from
back-to-back runs on the same broker.  Writes a JSON report and a PNG
chart to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from blazingmq.testing import Cluster, find_broker_executable, start_broker, start_cluster

from . import consume_rows, latency_rates, scale
from .compare import compare_files, load_table
from .machine_load import StepCpu, wait_for_quiet_machine
from .step import Step
from .step import bind as _bind

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
OFFICIAL_VENV = HERE.parent / "build" / "bench-official"
OFFICIAL_REQUIREMENT = "blazingmq==1.2.2"
DOMAIN = "bmq.bench.mem.priority"
# File-backed: on the cluster, replicated to a majority of the nodes before
# the ACK (strong consistency).
CLUSTER_DOMAIN = "bmq.test.persistent.priority"
KIB = 1024
# A timed step during which processes outside the benchmark used more CPU
# than this (in CPUs) is listed after the table.
NOISY = 0.25


# --------------------------------------------------------------------------
# Running things


@dataclass
class Outcome:
    """What one process printed, and what it cost."""

    stdout: str
    stderr: str
    status: int
    wall: float
    peak_rss_mb: float


def _run(command: List[str], timeout: float = 900.0) -> Outcome:
    """Run ``command``; return its output, exit status, wall time and peak
    RSS (from ``wait4``, so it is this child's own)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = start + timeout
    out_parts: List[str] = []
    err_parts: List[str] = []
    # communicate() would reap the child before wait4 could read its usage.
    def drain(stream: Any, parts: List[str]) -> None:
        parts.append(stream.read())

    readers = [
        threading.Thread(target=drain, args=(process.stdout, out_parts), daemon=True),
        threading.Thread(target=drain, args=(process.stderr, err_parts), daemon=True),
    ]
    for reader in readers:
        reader.start()
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            raise SystemExit(f"timed out: {' '.join(command)}")
        time.sleep(0.02)
    wall = time.perf_counter() - start
    for reader in readers:
        reader.join()
    for stream in (process.stdout, process.stderr):  # (ResourceWarning otherwise)
        if stream is not None:
            stream.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Outcome("".join(out_parts), "".join(err_parts), process.returncode, wall, usage.ru_maxrss / 1024.0)


def _official_python() -> Path:
    python = OFFICIAL_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {OFFICIAL_VENV} with {OFFICIAL_REQUIREMENT} ...", file=sys.stderr, flush=True)
        venv.create(OFFICIAL_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", OFFICIAL_REQUIREMENT], check=True)
    return python


def _workload(python: Path, name: str, broker: str, queue: str, *options: str) -> Dict[str, Any]:
    outcome = _run([str(python), str(WORKLOAD), name, "--broker", broker, "--queue", queue, *options])
    if outcome.status != 0:
        # Recorded, not fatal: the official wheel gives up with BW_LIMIT on
        # large messages, and that is a result too.
        lines = [line for line in outcome.stderr.strip().splitlines() if "Ignore ACK event" not in line]
        return {"error": lines[-1] if lines else f"exit status {outcome.status}", "peak_rss_mb": outcome.peak_rss_mb}
    result = dict(json.loads(outcome.stdout.strip().splitlines()[-1]))
    result.setdefault("peak_rss_mb", outcome.peak_rss_mb)
    return result


# bmqtool's statistics lines: "produced |  66,856 |  67,505 | 65.29 MB || ..."
_STATS_LINE = re.compile(r"^(produced|consumed)\s*\|\s*([\d,]+)\s*\|\s*([\d,]+)\s*\|")


def _rate_from_stats(outcome: Outcome, mode: str, messages: int) -> Tuple[float, str]:
    """Messages per second from bmqtool's once-a-second windows: the mean of
    the windows strictly inside the run (the first and last are partial).
    With fewer than three busy windows the run was too short to tell, and
    the busiest window (or, with none, the wall clock) is a lower bound."""
    deltas = []
    for line in outcome.stdout.splitlines():
        match = _STATS_LINE.match(line.strip())
        if match and match.group(1) == mode:
            deltas.append(int(match.group(3).replace(",", "")))
    busy = [index for index, delta in enumerate(deltas) if delta > 0]
    if not busy:
        return messages / outcome.wall, "lower bound (wall clock: run shorter than a window)"
    inside = deltas[busy[0] + 1: busy[-1]]
    if inside:
        return sum(inside) / len(inside), f"{len(inside)} full windows"
    return float(max(deltas)), "lower bound (run shorter than 3 windows)"


def _bmqtool(tool: Path, broker: str, queue: str, flags: str, *options: str, verbosity: str = "warning") -> Outcome:
    command = [str(tool), "--mode", "auto", "-b", broker, "-q", queue, "-f", flags,
               "--shutdownGrace", "1", "-v", verbosity, *options]
    outcome = _run(command)
    if outcome.status != 0:
        raise SystemExit(f"bmqtool failed:\n{outcome.stderr[-3000:]}")
    return outcome


# bmqtool's log lines start "28NOV2026_11:42:27.826 (140093632530112) INFO ..."
_LOG_TIME = re.compile(r"^(\d\d[A-Z]{3}\d{4}_\d\d:\d\d:\d\d\.\d{3}) ")


def _log_time(outcome: Outcome, marker: str) -> Optional[float]:
    """The time (seconds since the epoch, ms resolution) of bmqtool's first
    INFO log line that contains ``marker``."""
    for line in outcome.stdout.splitlines():
        if marker in line:
            match = _LOG_TIME.match(line)
            if match:
                return datetime.datetime.strptime(match.group(1), "%d%b%Y_%H:%M:%S.%f").timestamp()
    return None


def _bmqtool_produce(tool: Path, broker: str, queue: str, count: int, size: int, per_event: int) -> Dict[str, Any]:
    """bmqtool posting ``count`` messages, ``per_event`` per PUT event, with
    ACKs.

    With one message per event it is the costliest producer for both sides
    and needs both cores of a 2-core machine for its whole run (200k x 1
    KiB: 2.0-2.7 CPU-seconds in bmqtool, 1.3-3.1 in the broker), so its
    time moves with any other load: 2.2-2.4 s on a quiet machine, 3.7 s
    with one core kept busy by another process (which left ours at
    1.4-1.5 s).  Measured without effect: 400k messages held by the broker
    in other queues, the broker after the soaks, its INFO logging (133
    lines), the broker after the idle wait (0% CPU for 15 s after a
    produce-and-drain).  Its rate is timed like ours: from the queue being open to the last
    ACK, both read from its INFO log ("Open queue ... took", "All posted
    messages have been acknowledged").  Its once-a-second statistics count
    posts, which run ahead of the broker's ACKs: their rate is kept as
    ``post_rate``."""
    events = max(1, count // per_event)
    messages = events * per_event
    outcome = _bmqtool(tool, broker, queue, "write,ack", "-m", str(size), "-e", str(per_event),
                       "-r", "1000", "-i", "0", "--eventscount", str(events), verbosity="info")
    post_rate, post_basis = _rate_from_stats(outcome, "produced", messages)
    opened = _log_time(outcome, f"Open queue [uri={queue}] took:")
    acked = _log_time(outcome, "All posted messages have been acknowledged")
    if opened is None or acked is None or acked <= opened:
        raise SystemExit(f"bmqtool's log has no open/last-ACK times:\n{outcome.stdout[-3000:]}")
    return {"msgs_per_s": messages / (acked - opened), "basis": "queue open to last ACK (its log)",
            "seconds": acked - opened, "post_rate": post_rate, "post_rate_basis": post_basis,
            "messages": messages, "peak_rss_mb": outcome.peak_rss_mb}


def _bmqtool_consume(tool: Path, broker: str, queue: str, count: int, size: int) -> Dict[str, Any]:
    # bmqtool drains a queue faster than its one-second statistics can time
    # a short run: it consumes (at least) 8x `count` messages, pre-filled in
    # batches of ten (with 3x, 600k went by in under three windows at
    # 200-300k msgs/s, and the rate came from one or two windows, or was
    # only a lower bound).
    total = max(8 * count, 80)
    _bmqtool(tool, broker, queue, "write,ack", "-m", str(size), "-e", "10", "-r", "1000", "-i", "0",
             "--eventscount", str(total // 10))
    outcome = _bmqtool(tool, broker, queue, "read", "--confirmmsg", "-u", f"100000:{1 << 30}")
    rate, basis = _rate_from_stats(outcome, "consumed", total)
    return {"msgs_per_s": rate, "basis": basis, "messages": total, "peak_rss_mb": outcome.peak_rss_mb}


def _bmqtool_latency(tool: Path, broker: str, queue: str, count: int, size: int, rate: float) -> Dict[str, Any]:
    """bmqtool's own end-to-end latency report, posting ``rate`` messages/s
    (in 1 ms intervals) to a queue it also reads and confirms."""
    report = HERE.parent / "build" / f"bmqtool-latency-{os.getpid()}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    per_ms = max(1, round(rate / 1000.0))
    outcome = _bmqtool(tool, broker, queue, "read,write", "--confirmmsg", "--eventscount", str(count),
                       "-m", str(size), "-e", "1", "-r", str(per_ms), "-i", "1",
                       "-l", "hires", "--latency-report", str(report))
    data = json.loads(report.read_text())
    report.unlink()
    # From its histogram, like ours (its fixed fields have no p90 nor p99.9).
    percentiles = {key: latency_rates.histogram_percentile(data["dataPoints"], p) / 1000.0
                   for key, p in (("p50_us", 50), ("p90_us", 90), ("p99_us", 99), ("p99_9_us", 99.9))}
    return {"rate": per_ms * 1000, **percentiles, "messages": sum(data["dataPoints"].values()),
            "peak_rss_mb": outcome.peak_rss_mb}


def _bmqtool_soak(tool: Path, broker: str, queue: str, count: int, size: int) -> Dict[str, Any]:
    """bmqtool producing and consuming ``count`` messages through one queue
    at about 20k msgs/s; its resident memory is sampled from /proc, and the
    growth taken from the end of the first tenth of the run (warm-up)."""
    command = [str(tool), "--mode", "auto", "-b", broker, "-q", queue, "-f", "read,write", "--confirmmsg",
               "-m", str(size), "-e", "1", "-r", "20", "-i", "1", "--eventscount", str(count),
               "--shutdownGrace", "1", "-v", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: List[Tuple[float, float]] = []
    start = time.perf_counter()
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        samples.append((time.perf_counter() - start, int(line.split()[1]) / 1024.0))
        except OSError:
            break
        time.sleep(0.25)
    if process.returncode != 0 or len(samples) < 4:
        raise SystemExit(f"bmqtool soak failed (status {process.returncode})")
    # The last samples fall in the shutdown grace; the run ended about a
    # second before the process did.
    busy = [sample for sample in samples if sample[0] <= samples[-1][0] - 1.0] or samples
    warm = next(rss for elapsed, rss in busy if elapsed >= busy[-1][0] / 10)
    return {"messages": count, "rss_after_warm_up_mb": warm, "rss_end_mb": busy[-1][1],
            "rss_growth_mb": busy[-1][1] - warm}


# --------------------------------------------------------------------------
# The plan: one step per measurement


def _latency_turns(prefix: str, row: str, broker_uri: str, domain_uri: str, tag: str, count: int, rate: float,
                   pythons: Dict[str, Path], tool: Optional[Path]) -> List[List[Step]]:
    """One latency run at ``rate`` per implementation, for the table row
    ``row``; queues are made under ``domain_uri`` (``bmq://<domain>``)."""
    turns = [[Step(f"{prefix}{name}: latency at {rate:.0f} msgs/s", _bind(
        _workload, python, "latency", broker_uri, f"{domain_uri}/{name}-latency-{tag}",
        "--count", str(count), "--rate", str(rate)), row, name)]
        for name, python in pythons.items()]
    if tool is not None:
        turns.append([Step(f"{prefix}bmqtool: latency at {rate:.0f} msgs/s", _bind(
            _bmqtool_latency, tool, broker_uri, f"{domain_uri}/tool-latency-{tag}", count, KIB, rate), row, "bmqtool")])
    return turns


def _ceiling_row(size_label: str) -> str:
    """The row of bmqtool posting 64 messages per PUT event: the broker's
    ceiling for that size, against which every producer row is shown."""
    return f"produce {size_label}, bmqtool 64/event (msgs/s)"


def _plan(args: argparse.Namespace, broker_uri: str, broker_pid: int,
          pythons: Dict[str, Path], tool: Optional[Path]) -> List[Step]:
    """The runs on the single broker, for the row sets in ``args.only``:
    the comparisons in ``args.repeat`` rounds, within a round the
    implementations taking turns row by row (ours, the wheel, bmqtool for
    each row), so that the runs compared sit next to each other in time;
    the table shows the median of the rounds.

    Every implementation of a row meets the same broker state: a fresh
    queue, a broker holding no message (every queue a producer filled is
    emptied right after it, consumers read queues filled the same way for
    all) and idle (the runner waits), and a broker that has already seen
    that message size (one warm-up run per size first)."""
    steps: List[Step] = []
    count = args.count
    sizes = [(64, count, "64 B"), (KIB, count, "1 KiB"), (64 * KIB, max(1, count // 10), "64 KiB")]
    unique = f"{os.getpid()}"
    only: Set[str] = args.only

    # The soaks first, on a fresh broker: the throughput runs leave millions
    # of messages in its queues, and a busier broker sends bigger ACK and PUSH
    # batches, which grow libbmq's pooled event objects in the client.
    if tool is not None and "soak" in only:
        steps.append(Step(f"bmqtool: soak, {args.soak_count} produced and consumed", _bind(
            _bmqtool_soak, tool, broker_uri, f"bmq://{DOMAIN}/tool-soak-{unique}", args.soak_count, KIB),
            "soak", "bmqtool"))
    if "ours" in pythons and "soak" in only:
        steps.append(Step(f"ours: soak, {args.soak_count} produced and consumed", _bind(
            _workload, pythons["ours"], "soak", broker_uri, f"bmq://{DOMAIN}/ours-soak-{unique}",
            "--count", str(args.soak_count)), "soak", "ours"))

    def drain(queue: str) -> Step:
        # Not recorded: empties a queue that no measured run consumes.
        return Step(f"(emptying {queue.rsplit('/', 1)[-1]})", _bind(
            _workload, Path(sys.executable), "drain", broker_uri, queue), "", "")

    def fill(queue: str, n: int, size: int) -> Dict[str, Any]:
        # The same for every consumer: bmqtool, ten messages per event (or
        # ours, ten per post_many call, without bmqtool).
        if tool is not None:
            _bmqtool(tool, broker_uri, queue, "write,ack", "-m", str(size), "-e", "10", "-r", "1000", "-i", "0",
                     "--eventscount", str(max(1, n // 10)))
            return {}
        return _workload(pythons["ours"], "produce", broker_uri, queue, "--count", str(n), "--size", str(size),
                         "--batch", "10")

    if tool is not None and "throughput" in only:
        # The first run of a size meets a broker that still grows its
        # buffers for it (20k x 64 KiB: 5k msgs/s first, 11-18k after, for
        # bmqtool and ours alike): one run per size first, not recorded.
        for size, n, size_label in sizes:
            queue = f"bmq://{DOMAIN}/warm-up-{size}-{unique}"
            steps.append(Step(f"(warming the broker up: bmqtool produce {n} x {size_label})", _bind(
                _bmqtool_produce, tool, broker_uri, queue, n, size, 1), "", ""))
            steps.append(drain(queue))

    for round_ in range(args.repeat):
        tag = f"{unique}-{round_}"
        prefix = f"round {round_ + 1}/{args.repeat}, " if args.repeat > 1 else ""

        def add_rotated(turns: List[List[Step]]) -> None:
            # One turn per implementation (its run, and the drain after it).
            # Each round starts the row with another implementation, so that
            # the medians do not charge one of them for whatever the first
            # run of a row meets every time.
            shift = round_ % len(turns)
            for turn in turns[shift:] + turns[:shift]:
                steps.extend(turn)

        if "throughput" in only:
            for size, n, size_label in sizes:
                row = f"produce {size_label} (msgs/s)"
                turns: List[List[Step]] = []
                for name, python in pythons.items():
                    queue = f"bmq://{DOMAIN}/{name}-produce-{size}-{tag}"
                    turns.append([Step(f"{prefix}{name}: produce {n} x {size_label} with ACKs", _bind(
                        _workload, python, "produce", broker_uri, queue, "--count", str(n), "--size", str(size)),
                        row, name), drain(queue)])
                if tool is not None:
                    queue = f"bmq://{DOMAIN}/tool-produce-{size}-{tag}"
                    turns.append([Step(f"{prefix}bmqtool: produce {n} x {size_label} with ACKs", _bind(
                        _bmqtool_produce, tool, broker_uri, queue, n, size, 1), row, "bmqtool"), drain(queue)])
                    queue = f"bmq://{DOMAIN}/tool-ceiling-{size}-{tag}"
                    turns.append([Step(f"{prefix}bmqtool: produce {n} x {size_label}, 64 per event (ceiling)",
                                       _bind(_bmqtool_produce, tool, broker_uri, queue, n, size, 64),
                                       _ceiling_row(size_label), "bmqtool"), drain(queue)])
                add_rotated(turns)
            if "ours" in pythons:
                python = pythons["ours"]
                queue = f"bmq://{DOMAIN}/ours-batch-{tag}"
                turns = [[Step(f"{prefix}ours: post_many 10 per call, {count} x 1 KiB", _bind(
                    _workload, python, "produce", broker_uri, queue, "--count", str(count), "--batch", "10"),
                    "produce 1 KiB, 10/event (msgs/s)", "ours"), drain(queue)]]
                if tool is not None:
                    tool_queue = f"bmq://{DOMAIN}/tool-batch-{tag}"
                    turns.append([Step(f"{prefix}bmqtool: produce {count} x 1 KiB, 10 per event", _bind(
                        _bmqtool_produce, tool, broker_uri, tool_queue, count, KIB, 10),
                        "produce 1 KiB, 10/event (msgs/s)", "bmqtool"), drain(tool_queue)])
                queue = f"bmq://{DOMAIN}/ours-aio-{tag}"
                turns.append([Step(f"{prefix}ours: blazingmq.aio produce {count} x 1 KiB with ACKs", _bind(
                    _workload, python, "aio-produce", broker_uri, queue, "--count", str(count)),
                    "aio produce 1 KiB (msgs/s)", "ours"), drain(queue)])
                add_rotated(turns)
        if "consume" in only:
            tool_consume = None
            if tool is not None:
                def tool_consume(queue: str, n: int, size: int, tool: Path = tool) -> Dict[str, Any]:
                    return _bmqtool_consume(tool, broker_uri, queue, n, size)
            for turns in consume_rows.plan(broker_uri=broker_uri, domain=DOMAIN, pythons=pythons, count=count,
                                           tag=tag, prefix=prefix, workload=_workload, fill=fill,
                                           tool_consume=tool_consume):
                add_rotated(turns)

    if "rates" in only:
        steps.extend(latency_rates.plan(
            broker_uri=broker_uri, domain=DOMAIN, pythons=pythons, tool=tool, rounds=args.repeat,
            seconds=args.rates_seconds, min_messages=args.rates_min_messages, size=KIB, tag=unique,
            workload=_workload, wait_idle=lambda: _wait_until_quiet([broker_pid]),
            drain=lambda queue: _workload(Path(sys.executable), "drain", broker_uri, queue),
            report_dir=HERE.parent / "build", rates=args.rates))

    if "ours" in pythons and "soak" in only:
        python = pythons["ours"]
        steps.append(Step(f"ours: {count} posts with the broker paused 3 s", _bind(
            _workload, python, "stall", broker_uri, f"bmq://{DOMAIN}/ours-stall-{unique}",
            "--count", str(count), "--broker-pid", str(broker_pid), "--pause", "3"), "stall", "ours"))
    return steps


# --------------------------------------------------------------------------
# Through a proxy to a cluster


def _during_leader_kill(cluster: Cluster, command: List[str], ready: Optional[str], kill_after: float) -> Outcome:
    """Run ``command`` and SIGKILL the cluster's leader ``kill_after``
    seconds after it printed ``ready`` on stderr (or after it started); the
    leader is started again once the command is done."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_parts: List[str] = []
    if ready is not None:
        assert process.stderr is not None
        for line in process.stderr:
            err_parts.append(line)
            if ready in line:
                break
    time.sleep(kill_after)
    leader = cluster.leader()
    cluster.kill(leader)
    try:
        out, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
        cluster.start(leader)
        cluster.wait_healthy()
    return Outcome(out, "".join(err_parts) + err, process.returncode, time.perf_counter() - start, 0.0)


def _failover(cluster: Cluster, python: Path, queue: str, count: int, rate: float) -> Dict[str, Any]:
    """Our workload (or the wheel's) posting at ``rate`` while the leader is
    killed a third of the way through."""
    command = [str(python), str(WORKLOAD), "failover", "--broker", cluster.proxy_uri, "--queue", queue,
               "--count", str(count), "--rate", str(rate), "--size", str(KIB)]
    outcome = _during_leader_kill(cluster, command, "posting", count / rate / 3)
    if outcome.status != 0:
        lines = [line for line in outcome.stderr.strip().splitlines() if "Ignore ACK event" not in line]
        return {"error": lines[-1] if lines else f"exit status {outcome.status}"}
    return dict(json.loads(outcome.stdout.strip().splitlines()[-1]))


# bmqtool's --log records: "<ISO 8601 time>Z <pid>:<thread> INFO ACK <queue>|<correlation id>|<GUID>|<status>|"
# and "... INFO PUSH <queue>|<GUID>|<payload>" (a message sent again keeps its GUID).
_TOOL_RECORD = re.compile(r"^(\S+) \S+ \S+ (ACK|PUSH) [^|]*\|(.*)$")


def _bmqtool_failover(cluster: Cluster, tool: Path, queue: str, count: int, rate: float) -> Dict[str, Any]:
    """bmqtool posting numbered messages (``--messagepattern``) at ``rate``
    with ACKs to a queue it also reads and confirms, through the proxy,
    while the leader is killed a third of the way through; the longest gap
    between ACKs and the duplicates come from its ``--log`` of every ACK
    and PUSH."""
    log = HERE.parent / "build" / f"bmqtool-failover-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    per_ms = max(1, round(rate / 1000.0))
    command = [str(tool), "--mode", "auto", "-b", cluster.proxy_uri, "-q", queue, "-f", "read,write,ack",
               "--confirmmsg", "--eventscount", str(count), "-e", "1", "-r", str(per_ms), "-i", "1",
               "--messagepattern", "m", "--log", str(log), "--shutdownGrace", "3", "-v", "warning"]
    outcome = _during_leader_kill(cluster, command, None, 1.0 + count / (per_ms * 1000.0) / 3)
    if outcome.status != 0:
        return {"error": f"bmqtool exit status {outcome.status}: {outcome.stderr[-300:]}"}
    ack_times: List[float] = []
    statuses: Dict[str, int] = {}
    acked: Set[str] = set()
    pushed: Dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = _TOOL_RECORD.match(line)
        if not match:
            continue
        when = datetime.datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()
        fields = match.group(3).split("|")
        if match.group(2) == "ACK":  # correlation id | GUID | status (0: SUCCESS)
            ack_times.append(when)
            status = "SUCCESS" if fields[2] in ("0", "SUCCESS") else fields[2]
            statuses[status] = statuses.get(status, 0) + 1
            if status == "SUCCESS":
                acked.add(fields[1])
        else:  # GUID | payload
            pushed[fields[0]] = pushed.get(fields[0], 0) + 1
    log.unlink()
    gaps = [later - earlier for earlier, later in zip(ack_times, ack_times[1:])]
    return {"messages": count, "rate": per_ms * 1000, "acks": statuses,
            "ack_stall_ms": max(gaps, default=0.0) * 1000.0,
            "duplicates": sum(n - 1 for n in pushed.values()),
            "lost": len(acked - pushed.keys()), "basis": "gaps between ACKs in its --log (ms resolution)"}


def _cluster_plan(args: argparse.Namespace, cluster: Cluster, pythons: Dict[str, Path],
                  tool: Optional[Path]) -> List[Step]:
    """The rows through the proxy of a 4-node cluster (strong consistency),
    with the same rounds and turns as :func:`_plan`."""
    steps: List[Step] = []
    count = args.cluster_count
    uri = cluster.proxy_uri
    unique = f"{os.getpid()}"

    def drain(queue: str) -> Step:
        return Step(f"(emptying {queue.rsplit('/', 1)[-1]})", _bind(
            _workload, Path(sys.executable), "drain", uri, queue), "", "")

    for round_ in range(args.repeat):
        tag = f"{unique}-{round_}"
        prefix = f"cluster, round {round_ + 1}/{args.repeat}: "
        turns: List[List[Step]] = []

        def add_rotated(turns: List[List[Step]]) -> None:
            shift = round_ % len(turns)
            for turn in turns[shift:] + turns[:shift]:
                steps.extend(turn)

        for name, python in pythons.items():
            queue = f"bmq://{CLUSTER_DOMAIN}/{name}-produce-{tag}"
            turns.append([Step(f"{prefix}{name}: produce {count} x 1 KiB with ACKs", _bind(
                _workload, python, "produce", uri, queue, "--count", str(count), "--size", str(KIB)),
                "cluster: produce 1 KiB (msgs/s)", name)])
        if tool is not None:
            queue = f"bmq://{CLUSTER_DOMAIN}/tool-produce-{tag}"
            turns.append([Step(f"{prefix}bmqtool: produce {count} x 1 KiB with ACKs", _bind(
                _bmqtool_produce, tool, uri, queue, count, KIB, 1), "cluster: produce 1 KiB (msgs/s)", "bmqtool"),
                drain(queue)])
        add_rotated(turns)
        turns = [[Step(f"{prefix}{name}: consume {count} x 1 KiB with confirm", _bind(
            _workload, python, "consume", uri, f"bmq://{CLUSTER_DOMAIN}/{name}-produce-{tag}", "--count", str(count)),
            "cluster: consume 1 KiB (msgs/s)", name)] for name, python in pythons.items()]
        if tool is not None:
            # bmqtool consumes 8x what it is given (see _bmqtool_consume):
            # the partitions of the test cluster hold 64 MiB each.
            turns.append([Step(f"{prefix}bmqtool: consume {8 * (count // 8)} x 1 KiB with confirm", _bind(
                _bmqtool_consume, tool, uri, f"bmq://{CLUSTER_DOMAIN}/tool-consume-{tag}", count // 8, KIB),
                "cluster: consume 1 KiB (msgs/s)", "bmqtool")])
        add_rotated(turns)
        add_rotated(_latency_turns(prefix, "cluster latency", uri, f"bmq://{CLUSTER_DOMAIN}", tag,
                                   args.cluster_latency_count, args.cluster_rate, pythons, tool))
        failover_count = int(args.cluster_rate * 6)  # six seconds of posting
        turns = [[Step(f"{prefix}{name}: leader killed while posting {failover_count} at {args.cluster_rate:.0f}/s",
                       _bind(_failover, cluster, python, f"bmq://{CLUSTER_DOMAIN}/{name}-failover-{tag}",
                             failover_count, args.cluster_rate), "cluster failover", name)]
                 for name, python in pythons.items()]
        if tool is not None:
            turns.append([Step(f"{prefix}bmqtool: leader killed while posting {failover_count}", _bind(
                _bmqtool_failover, cluster, tool, f"bmq://{CLUSTER_DOMAIN}/tool-failover-{tag}", failover_count,
                args.cluster_rate), "cluster failover", "bmqtool")])
        add_rotated(turns)
    return steps


def _median(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One result from the rounds of a run: the median of each number over
    the rounds that succeeded (each number on its own: the p99 shown may come
    from another round than the p50), with every round kept in ``rounds``.
    If every round failed, the first failure."""
    good = [run for run in runs if "error" not in run]
    if not good:
        return dict(runs[0])
    if len(runs) == 1:
        return dict(runs[0])
    merged: Dict[str, Any] = {}
    for key, value in good[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers = sorted(run[key] for run in good if isinstance(run.get(key), (int, float)))
            merged[key] = statistics.median(numbers)
        else:
            merged[key] = value
    merged["rounds"] = runs
    failures = len(runs) - len(good)
    if failures:
        merged["failed_rounds"] = failures
    return merged


class _Progress:
    """A bar on a terminal; one plain line per step otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def begin(self, label: str) -> None:
        elapsed = time.perf_counter() - self.start
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(f"\r\x1b[K[{bar}] {self.done}/{self.total} {elapsed:5.0f}s  {label}")
        else:
            sys.stderr.write(f"[{self.done + 1}/{self.total}] {label}\n")
        sys.stderr.flush()

    def end(self) -> None:
        self.done += 1
        if self.tty and self.done == self.total:
            sys.stderr.write(f"\r\x1b[Kdone: {self.total} steps in {time.perf_counter() - self.start:.0f} s\n")


# --------------------------------------------------------------------------
# Reporting


def _ratio(a: Optional[float], b: Optional[float], lower_is_better: bool = False) -> str:
    if not a or not b:
        return "-"
    return f"{(b / a if lower_is_better else a / b):.2f}x"


def _table(results: Dict[str, Dict[str, Dict[str, Any]]]) -> Tuple[List[str], List[Dict[str, Any]]]:
    """Rows of (label, values per column, ratios); higher is better except
    latency and memory, whose ratios are inverted so that >1 means ours is
    better."""
    columns = ["ours", "official", "bmqtool"]
    rows: List[Dict[str, Any]] = []
    throughput_labels = [label for label in results if label.endswith("(msgs/s)")]
    for label in throughput_labels:
        values = {c: results[label].get(c, {}).get("msgs_per_s") for c in columns}
        row: Dict[str, Any] = {"label": label, "values": values, "lower_is_better": False, "source": label}
        # A producer row as a fraction of bmqtool's 64-per-event run of the
        # same size: how close each gets to what the broker can take.
        size = re.match(r"(?:aio )?produce (\d+ \w+)", label)
        ceiling_label = _ceiling_row(size.group(1)) if size else ""
        ceiling = results.get(ceiling_label, {}).get("bmqtool", {}).get("msgs_per_s")
        if ceiling and label != ceiling_label:
            row["ceiling"] = ceiling_label
            row["of_ceiling"] = {c: v / ceiling for c, v in values.items() if v is not None}
        rows.append(row)
    for source in ("latency", "cluster latency"):
        if source in results:
            for key, label in (("p50_us", "p50 (us)"), ("p90_us", "p90 (us)"), ("p99_us", "p99 (us)")):
                values = {c: results[source].get(c, {}).get(key) for c in columns}
                if any(value is not None for value in values.values()):
                    rows.append({"label": f"{source} {label}", "values": values, "lower_is_better": True,
                                 "source": source})
    if "cluster failover" in results:
        for key, label, no_ratio in (("ack_stall_ms", "failover: longest ACK stall (ms)", False),
                                     ("duplicates", "failover: duplicates", True),
                                     ("lost", "failover: lost", True)):
            values = {c: results["cluster failover"].get(c, {}).get(key) for c in columns}
            rows.append({"label": label, "values": values, "lower_is_better": True, "source": "cluster failover",
                         "no_ratio": no_ratio})
    rss_source = "produce 1 KiB (msgs/s)"
    if rss_source in results:
        # What each producer costs the broker (its CPU during the run): one
        # message per PUT event costs it the most.
        values = {c: _per_message_us(results[rss_source].get(c, {}), "broker_cpu_s") for c in columns}
        rows.append({"label": "broker CPU, produce 1 KiB (us/msg)", "values": values, "lower_is_better": True,
                     "source": rss_source})
        values = {c: results[rss_source].get(c, {}).get("peak_rss_mb") for c in columns}
        rows.append({"label": "peak RSS, produce 1 KiB (MB)", "values": values, "lower_is_better": True})
    if "soak" in results:
        values = {c: results["soak"].get(c, {}).get("rss_growth_mb") for c in columns}
        rows.append({"label": "RSS growth after warm-up, soak (MB)", "values": values,
                     "lower_is_better": True, "no_ratio": True})
    lines = [f"{'':42}" + "".join(f"{c:>12}" for c in columns) + f"{'ours/C++':>10}{'ours/off.':>10}"]
    for row in rows:
        row_values: Dict[str, Optional[float]] = row["values"]
        cells = "".join(
            f"{row_values[c]:>12.0f}" if row_values.get(c) is not None else f"{_missing(results, row, c):>12}"
            for c in columns
        )
        if row.get("no_ratio"):
            lines.append(f"{row['label']:42}{cells}")
            continue
        lines.append(f"{row['label']:42}{cells}"
                     f"{_ratio(row_values.get('ours'), row_values.get('bmqtool'), row['lower_is_better']):>10}"
                     f"{_ratio(row_values.get('ours'), row_values.get('official'), row['lower_is_better']):>10}")
        if "of_ceiling" in row:
            shares = "".join(f"{row['of_ceiling'][c]:>12.2f}" if c in row["of_ceiling"] else f"{'':>12}"
                             for c in columns)
            lines.append(f"{'  of the 64/event ceiling':42}{shares}")
    lines.append("(ratios > 1 mean ours is better: faster, or lower latency/memory)")
    return lines, rows


def _per_message_us(result: Dict[str, Any], key: str) -> Optional[float]:
    seconds, messages = result.get(key), result.get("messages")
    if not isinstance(seconds, (int, float)) or not isinstance(messages, (int, float)) or not messages:
        return None
    return seconds * 1e6 / messages


def _missing(results: Dict[str, Dict[str, Dict[str, Any]]], row: Dict[str, Any], column: str) -> str:
    """What to print for a cell without a value: 'failed' if that run failed."""
    source = results.get(row.get("source", ""), {}).get(column, {})
    return "failed" if "error" in source else "-"


def _chart(rows: List[Dict[str, Any]], path: Path, title: str) -> None:
    """Grouped bars: each implementation relative to bmqtool (= 1) per row."""
    import matplotlib  # type: ignore[import-not-found,unused-ignore]  # no stubs

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    labels = []
    series: Dict[str, List[float]] = {"ours": [], "official": []}
    for row in rows:
        values = row["values"]
        reference = values.get("bmqtool")
        if not reference or row.get("no_ratio") or not any(values.get(name) for name in series):
            continue
        labels.append(row["label"].replace(" (msgs/s)", "").replace(" (us)", "").replace(" (MB)", ""))
        for name in series:
            value = values.get(name)
            if not value:
                series[name].append(0.0)
            elif row["lower_is_better"]:
                series[name].append(reference / value)
            else:
                series[name].append(value / reference)
    figure, axes = plt.subplots(figsize=(11, 5.5))
    width = 0.38
    positions = range(len(labels))
    colors = {"ours": "#2b6cb0", "official": "#a0aec0"}
    for offset, name in ((-width / 2, "ours"), (width / 2, "official")):
        bars = axes.bar([p + offset for p in positions], series[name], width, label=name, color=colors[name])
        for bar, value in zip(bars, series[name]):
            if value:
                axes.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                              ha="center", va="bottom", fontsize=8)
    axes.axhline(1.0, color="#c53030", linewidth=1, linestyle="--", label="bmqtool (C++) = 1")
    axes.set_xticks(list(positions))
    axes.set_xticklabels(labels, rotation=25, ha="right", fontsize=9)
    axes.set_ylabel("relative to bmqtool (higher is better)")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_idle(pid: int, limit: float = 20.0) -> None:
    """Wait (up to ``limit`` seconds) until the broker has used under 5% of
    a CPU for two 0.25 s windows in a row, so that no run shares the CPU
    with the broker still finishing the run before it (purging confirmed
    messages, its last ACKs).  A guard: measured after a 600k-message
    bmqtool consume, the broker was already idle (0-2%) within 0.5 s."""
    deadline = time.monotonic() + limit
    quiet = 0
    before = _cpu_seconds(pid)
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = _cpu_seconds(pid)
        quiet = quiet + 1 if now - before < 0.05 * 0.25 else 0
        before = now


def _wait_until_quiet(broker_pids: List[int]) -> None:
    """Before a timed run: the brokers idle, then (for a few seconds at
    most) the rest of the machine too."""
    for pid in broker_pids:
        _wait_until_idle(pid)
    wait_for_quiet_machine(broker_pids)


# The row sets, for --only.  ("scale": the scale curves of benchmarks/scale.py.)
ROW_SETS = ("throughput", "consume", "rates", "soak", "cluster", "scale")


def _row_sets(text: str) -> Set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(ROW_SETS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown row set(s) {', '.join(sorted(unknown)) or '(none)'}; "
                                         f"choose among {', '.join(ROW_SETS)}")
    return chosen


def _rates(text: str) -> List[int]:
    try:
        rates = sorted({int(float(value)) for value in text.split(",") if value.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r}") from None
    if not rates or rates[0] < 1000:
        raise argparse.ArgumentTypeError("rates are msgs/s, at least 1000 (one post per 1 ms tick)")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200_000, help="messages per throughput run (64 KiB: a tenth)")
    parser.add_argument("--only", type=_row_sets, default=set(ROW_SETS), metavar="SET[,SET...]",
                        help=f"run only these row sets, of: {', '.join(ROW_SETS)} (default: all)")
    parser.add_argument("--rates", type=_rates, default=list(latency_rates.FIXED_RATES), metavar="RATE[,RATE...]",
                        help="the fixed rates (msgs/s) of the latency-vs-rate rows (default: %(default)s)")
    parser.add_argument("--rates-seconds", type=float, default=2.0,
                        help="seconds of posting per latency-vs-rate run (default: %(default)s)")
    parser.add_argument("--rates-min-messages", type=int, default=2000,
                        help="messages per latency-vs-rate run at least (default: %(default)s)")
    parser.add_argument("--soak-count", type=int, default=1_000_000, help="messages of the memory soak")
    parser.add_argument("--no-official", action="store_true", help="skip the wheel from PyPI")
    parser.add_argument("--no-bmqtool", action="store_true", help="skip the C++ bmqtool")
    parser.add_argument("--no-soak", action="store_true", help="skip the memory soak and the paused-broker run "
                        "(the row set 'soak')")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of every comparison (the table shows the median; not the soak)")
    parser.add_argument("--no-cluster", action="store_true",
                        help="skip the rows through a proxy to a cluster (the row set 'cluster')")
    parser.add_argument("--cluster-only", action="store_true",
                        help="only the rows through a proxy to a cluster (= --only cluster)")
    parser.add_argument("--cluster-count", type=int, default=20_000, help="messages per cluster throughput run")
    parser.add_argument("--cluster-rate", type=float, default=2000.0,
                        help="messages/s of the cluster latency and failover runs")
    parser.add_argument("--cluster-latency-count", type=int, default=10_000,
                        help="messages of the cluster latency run")
    scale.add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="small counts and one round, for a smoke test")
    parser.add_argument("--output", type=Path, default=HERE / "results", help="folder for the JSON and PNG")
    parser.add_argument("--compare", type=Path, nargs="+", metavar="REPORT",
                        help="OLD.json: after the run, print each row's change against that earlier report; "
                             "OLD.json NEW.json: compare two reports without running anything")
    args = parser.parse_args()
    if args.compare:
        if len(args.compare) > 2:
            parser.error("--compare takes OLD.json, or OLD.json NEW.json")
        old_report = args.compare[0]
        load_table(old_report)  # fails now, not after a long run
        if len(args.compare) == 2:
            print("\n".join(compare_files(old_report, args.compare[1])))
            return
    if args.quick:
        args.count, args.soak_count, args.repeat = 5_000, 20_000, 1
        args.rates_seconds, args.rates_min_messages = 0.5, 500
        args.cluster_count, args.cluster_latency_count = 2_000, 1_000
    if args.no_cluster and args.cluster_only:
        parser.error("--no-cluster and --cluster-only exclude each other")
    if args.cluster_only:
        args.only = {"cluster"}
    if args.no_cluster:
        args.only.discard("cluster")
    if args.no_soak:
        args.only.discard("soak")
    if args.no_scale:
        args.only.discard("scale")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        import matplotlib  # noqa: F401  (checked before a long run, not after)
    except ImportError:
        raise SystemExit("the chart needs matplotlib: pip install '.[bench]'") from None

    pythons: Dict[str, Path] = {"ours": Path(sys.executable)}
    if not args.no_official:
        pythons["official"] = _official_python()
    tool = None
    if not args.no_bmqtool:
        tool = find_broker_executable().parent / "bmqtool.tsk"
        if not tool.exists():
            raise SystemExit(f"{tool} not found (or pass --no-bmqtool)")

    runs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    noise: List[Tuple[float, str]] = []  # (CPUs other processes used during a timed step, its label)

    def run_steps(steps: List[Step], brokers: Callable[[], List[int]]) -> None:
        progress = _Progress(len(steps))
        for step in steps:
            progress.begin(step.label)
            if step.row:
                _wait_until_quiet(brokers())  # (a failover step restarts a broker)
            cpu = StepCpu(brokers())
            outcome = step.run()
            if step.row:
                outcome = {**outcome, **cpu.finish()}
                runs.setdefault(step.row, {}).setdefault(step.column, []).append(outcome)
                if outcome["step_wall_s"] >= 0.5:  # (/proc/stat counts 10 ms ticks)
                    noise.append((outcome["other_cpu_s"] / outcome["step_wall_s"], step.label))
            progress.end()

    if args.only - {"cluster"}:
        with start_broker() as broker:
            assert broker.pid is not None  # started
            broker_pid = broker.pid
            run_steps(_plan(args, broker.uri, broker_pid, pythons, tool), lambda: [broker_pid])
    if "cluster" in args.only:
        with start_cluster() as cluster:
            run_steps(_cluster_plan(args, cluster, pythons, tool),
                      lambda: [pid for pid in (broker.pid for broker in cluster.brokers) if pid is not None])
    scale_results = scale.run(args, tool, scale.Helpers(_run, _bmqtool, _rate_from_stats, _wait_until_idle)) \
        if scale.wanted(args) else {}
    results = {row: {column: _median(samples) for column, samples in columns.items()}
               for row, columns in runs.items()}

    lines, rows = _table(results)
    scale_rows = scale.table_rows(scale_results)
    if scale_rows:
        lines += [""] + scale.table_lines(scale_rows)
    rows += scale_rows
    results.update(scale_results)
    rate_lines, rate_rows = latency_rates.table(results)  # (in the JSON table; a chart of their own)
    print()
    print("\n".join(lines))
    if rate_lines:
        print()
        print("\n".join(rate_lines))
    for key in ("soak", "stall", "cluster failover"):
        for column, data in results.get(key, {}).items():
            shown = {k: v for k, v in data.items() if k not in ("samples", "rounds")}
            print(f"\n{key} ({column}): " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                         for k, v in shown.items()))
    for line in scale.failures(scale_results):
        print(line)
    for row, columns in results.items():
        for column, data in columns.items():
            if "error" in data:
                print(f"failed: {column} '{row}': {data['error']}")
            elif data.get("failed_rounds"):
                errors = {run["error"] for run in data["rounds"] if "error" in run}
                print(f"failed: {column} '{row}' in {data['failed_rounds']} of {len(data['rounds'])} rounds: "
                      + "; ".join(sorted(errors)))
        basis = columns.get("bmqtool", {}).get("basis")
        if basis and basis.startswith("lower bound"):
            print(f"note: bmqtool '{row}' is a {basis}")
    busy = sorted((share, label) for share, label in noise if share > NOISY)
    if busy:
        print(f"\nnoise: during {len(busy)} of {len(noise)} timed steps, processes outside the benchmark used "
              f"more than {NOISY:.2f} CPU (each step's other_cpu_s in the JSON); the worst:")
        for share, label in busy[-3:][::-1]:
            print(f"  {share:.2f} CPU during '{label}'")
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = args.output / f"bench-{stamp}.json"
    report.write_text(json.dumps({"count": args.count, "rates": args.rates, "repeat": args.repeat,
                                  "row_sets": sorted(args.only), "table": rows + rate_rows, "results": results},
                                 indent=2, default=str))
    rounds = f"median of {args.repeat} round{'s' if args.repeat > 1 else ''}"
    chart = args.output / f"bench-{stamp}.png"
    _chart([row for row in rows if not row.get("scale")], chart,  # (the scale rows have their own chart)
           f"blazingmq vs bmqtool (C++) and the PyPI wheel — {args.count} msgs, {rounds}, {stamp}")
    print(f"\nreport: {report}\nchart:  {chart}")
    rates_chart = args.output / f"bench-{stamp}-rates.png"
    if latency_rates.chart(results, rates_chart, f"end-to-end latency vs rate, 1 KiB, {rounds}, {stamp}"):
        print(f"chart:  {rates_chart}")
    if scale_results:
        scale_chart = args.output / f"bench-{stamp}-scale.png"
        scale.chart(scale_results, scale_chart, f"blazingmq scale curves (one run per point), {stamp}")
        print(f"chart:  {scale_chart}")
    if args.compare:
        print()
        print("\n".join(compare_files(args.compare[0], report)))


if __name__ == "__main__":
    main()
