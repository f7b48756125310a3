"""The ``scale`` rows of ``python -m benchmarks``: how this package's costs
grow with what a program asks of it, against a fresh local broker.

- queues per session (1 to 1,000): the time to open them one after another
  and with ``asyncio.gather`` (``blazingmq.aio``), resident memory per queue,
  and messages posted round-robin over them (with ACKs) while a second
  session consumes them;
- sessions per process (1 to 50): threads, resident memory, and messages
  posted round-robin over the sessions, each to its own queue, with ACKs;
- message size (64 B to libbmq's largest payload, 64 MiB): MiB/s produced
  (with ACKs; ours and ``bmqtool -m SIZE``) and consumed (ours);
- fanout: one producer, three app ids each consumed by its own process
  (ours and three bmqtool readers with one bmqtool writer);
- 0 and 10 properties per message: produced and consumed msgs/s, ours and
  bmqtool's (``--messageProperties``).

One run of each point (no rounds): the curves' shapes, not their third
digit, are what these rows are for.  ``python -m benchmarks`` calls
:func:`run` after its other rows and adds :func:`table_rows` to its table
and JSON report (so ``--compare`` covers them) and :func:`chart` as a
second PNG.  The workloads are in ``scale_workload.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
SCALE_WORKLOAD = HERE / "scale_workload.py"
WORKLOAD = HERE / "workload.py"
DOMAIN = "bmq.bench.mem.priority"
FANOUT_DOMAIN = "bmq.test.mem.fanout"
FANOUT_APPS = ("foo", "bar", "baz")
KIB = 1024
MIB = 1024 * 1024
# libbmq's largest payload: bmqp::PutHeader::k_MAX_PAYLOAD_SIZE_SOFT (64 MiB,
# bmqp_protocol.h, not among the installed headers); a larger one fails with
# PAYLOAD_TOO_BIG.  The test broker takes it.
MAX_PAYLOAD = 64 * MIB

Results = Dict[str, Dict[str, Dict[str, Any]]]


@dataclass
class Helpers:
    """What the runner (``benchmarks/__main__.py``) lends: running a process
    with its peak RSS, running bmqtool in auto mode, bmqtool's consumer rate
    from its statistics, and waiting for the broker to be idle."""

    run: Callable[[List[str]], Any]  # -> Outcome(stdout, stderr, status, wall, peak_rss_mb)
    bmqtool: Callable[..., Any]  # (tool, broker, queue, flags, *options, verbosity=) -> Outcome
    rate_from_stats: Callable[[Any, str, int], Tuple[float, str]]
    wait_until_idle: Callable[[int], None]


@dataclass
class Plan:
    """The points of each curve (``--quick`` makes them tiny)."""

    queues: Sequence[int] = (1, 10, 100, 1000)
    queue_messages: int = 50_000
    sessions: Sequence[int] = (1, 5, 10, 25, 50)
    session_messages: int = 50_000
    sizes: Sequence[Tuple[int, int]] = ((64, 100_000), (KIB, 50_000), (64 * KIB, 5_000), (MIB, 500),
                                        (MAX_PAYLOAD, 16))
    fanout_messages: int = 50_000
    property_messages: int = 100_000

    @classmethod
    def quick(cls) -> "Plan":
        return cls(queues=(1, 10, 100), queue_messages=1_000, sessions=(1, 5), session_messages=1_000,
                   sizes=((64, 1_000), (KIB, 1_000), (64 * KIB, 100), (MIB, 10), (MAX_PAYLOAD, 2)),
                   fanout_messages=1_000, property_messages=2_000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-scale", action="store_true",
                        help="skip the scale rows (the row set 'scale': queues and sessions per process, "
                             "message size, fanout, properties; about 2 minutes)")


def wanted(args: argparse.Namespace) -> bool:
    """Whether this run includes the scale rows (the row set ``scale`` of
    ``--only``; ``--no-scale`` takes it out)."""
    return "scale" in args.only


def size_label(size: int) -> str:
    if size >= MIB:
        return f"{size // MIB} MiB"
    if size >= KIB:
        return f"{size // KIB} KiB"
    return f"{size} B"


# --------------------------------------------------------------------------
# Running the workloads


def _python(helpers: Helpers, script: Path, name: str, broker: str, queue: str, *options: str) -> Dict[str, Any]:
    """One workload of ``script`` under this interpreter: its JSON, or
    ``{"error": ...}`` (recorded, not fatal)."""
    outcome = helpers.run([sys.executable, str(script), name, "--broker", broker, "--queue", queue, *options])
    if outcome.status != 0:
        lines = outcome.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {outcome.status}"}
    result = dict(json.loads(outcome.stdout.strip().splitlines()[-1]))
    result.setdefault("peak_rss_mb", outcome.peak_rss_mb)
    return result


# bmqtool's INFO log lines start "28NOV2026_11:42:27.826 (140093632530112) INFO ...", in UTC
# (ball's default), like the ISO 8601 times of its --log file.
def _log_time(text: str, marker: str) -> Optional[float]:
    for line in text.splitlines():
        if marker in line:
            stamp = line.split(" ", 1)[0]
            try:
                when = datetime.datetime.strptime(stamp, "%d%b%Y_%H:%M:%S.%f")
            except ValueError:
                continue
            return when.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


# Its times have millisecond resolution: a shorter run is counted as 1 ms.
_LOG_RESOLUTION = 0.001


def _iso_time(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _tool_produce(helpers: Helpers, tool: Path, broker: str, queue: str, count: int, size: int,
                  *options: str) -> Dict[str, Any]:
    """bmqtool posting ``count`` messages of ``size`` bytes, one per event,
    with ACKs, timed like ``_bmqtool_produce`` of the runner: from the queue
    being open to the last ACK, from its INFO log."""
    outcome = helpers.bmqtool(tool, broker, queue, "write,ack", "-m", str(size), "-e", "1", "-r", "1000",
                              "-i", "0", "--eventscount", str(count), *options, verbosity="info")
    opened = _log_time(outcome.stdout, f"Open queue [uri={queue}] took:")
    acked = _log_time(outcome.stdout, "All posted messages have been acknowledged")
    if opened is None or acked is None or acked < opened:
        return {"error": "bmqtool's log has no open/last-ACK times"}
    seconds = max(acked - opened, _LOG_RESOLUTION)
    return {"messages": count, "seconds": seconds, "msgs_per_s": count / seconds,
            "basis": "queue open to last ACK (its log, ms)", "peak_rss_mb": outcome.peak_rss_mb}


def _tool_consume(helpers: Helpers, tool: Path, broker: str, queue: str, total: int, size: int,
                  *options: str) -> Dict[str, Any]:
    """bmqtool filling a queue with ``total`` messages (ten per event), then
    consuming them; the rate from its once-a-second statistics, like the
    runner's ``_bmqtool_consume``."""
    helpers.bmqtool(tool, broker, queue, "write,ack", "-m", str(size), "-e", "10", "-r", "1000", "-i", "0",
                    "--eventscount", str(max(1, total // 10)), *options)
    outcome = helpers.bmqtool(tool, broker, queue, "read", "--confirmmsg", "-u", f"100000:{1 << 30}", *options)
    rate, basis = helpers.rate_from_stats(outcome, "consumed", total)
    return {"messages": total, "msgs_per_s": rate, "basis": basis, "peak_rss_mb": outcome.peak_rss_mb}


def _wait_for_line(process: "subprocess.Popen[str]", ready: str, timeout: float = 60.0) -> List[str]:
    """The stderr lines of ``process`` up to the one containing ``ready``."""
    assert process.stderr is not None
    lines: List[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        lines.append(line)
        if ready in line:
            return lines
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("".join(lines[-5:]) or f"exit status {process.wait()}")


def fanout_ours(helpers: Helpers, broker: str, queue: str, count: int, size: int) -> Dict[str, Any]:
    """Three consumer processes (one per app id) and one producer process:
    all messages delivered to the three apps per second, from the producer's
    queue being open to the last delivery."""
    consumers = []
    try:
        for app in FANOUT_APPS:
            process = subprocess.Popen(
                [sys.executable, str(SCALE_WORKLOAD), "consume", "--broker", broker, "--queue",
                 f"{queue}?id={app}", "--count", str(count)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            consumers.append(process)
            _wait_for_line(process, "ready")
        produced = _python(helpers, SCALE_WORKLOAD, "produce", broker, queue, "--count", str(count),
                           "--size", str(size))
        if "error" in produced:
            return produced
        delivered = []
        for process in consumers:
            out, err = process.communicate(timeout=300)
            if process.returncode != 0:
                return {"error": f"consumer: {(err.strip().splitlines() or ['?'])[-1]}"}
            delivered.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in consumers:
            if process.poll() is None:
                process.kill()
                process.wait()
    last = max(result["last_at"] for result in delivered)
    total = sum(result["messages"] for result in delivered)
    return {"messages": count, "apps": len(FANOUT_APPS), "delivered": total,
            "per_app": [result["messages"] for result in delivered],
            "seconds": last - produced["opened_at"], "msgs_per_s": total / (last - produced["opened_at"]),
            "producer_msgs_per_s": produced["msgs_per_s"],
            "basis": "producer's queue open to the last delivery"}


def fanout_bmqtool(helpers: Helpers, tool: Path, broker: str, queue: str, count: int, size: int,
                   logs: Path) -> Dict[str, Any]:
    """Three bmqtool readers (one per app id, each with a ``--log`` of every
    PUSH: its only per-message times) and one bmqtool writer, timed like
    ours: from the writer's queue being open (its INFO log) to the last PUSH
    logged by a reader."""
    logs.mkdir(parents=True, exist_ok=True)
    readers = []
    try:
        for app in FANOUT_APPS:
            log = logs / f"fanout-{app}.log"
            out = logs / f"fanout-{app}.out"
            log.unlink(missing_ok=True)
            with open(out, "w") as stdout:
                readers.append((subprocess.Popen(
                    [str(tool), "--mode", "auto", "-b", broker, "-q", f"{queue}?id={app}", "-f", "read",
                     "--confirmmsg", "-u", f"100000:{1 << 30}", "--shutdownGrace", "1", "-v", "info",
                     "--log", str(log)], stdout=stdout, stderr=subprocess.STDOUT), log, out))
        deadline = time.monotonic() + 60
        for process, _, out in readers:  # each has opened its queue
            while "Open queue [uri=" not in out.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    return {"error": f"bmqtool reader did not open its queue: {out.read_text()[-300:]}"}
                time.sleep(0.05)
        writer = helpers.bmqtool(tool, broker, queue, "write,ack", "-m", str(size), "-e", "1", "-r", "1000",
                                 "-i", "0", "--eventscount", str(count), verbosity="info")
        opened = _log_time(writer.stdout, f"Open queue [uri={queue}] took:")
        per_app = []
        last = 0.0
        for process, log, out in readers:
            process.wait(timeout=300)
            pushes = [line for line in log.read_text(errors="replace").splitlines() if " INFO PUSH " in line]
            per_app.append(len(pushes))
            if pushes:
                last = max(last, _iso_time(pushes[-1].split(" ", 1)[0]))
            log.unlink()
            out.unlink()
    finally:
        for process, _, _ in readers:
            if process.poll() is None:
                process.kill()
                process.wait()
    if opened is None or last < opened:
        return {"error": "no open time in the writer's log, or no PUSH after it"}
    total = sum(per_app)
    seconds = max(last - opened, _LOG_RESOLUTION)
    return {"messages": count, "apps": len(FANOUT_APPS), "delivered": total, "per_app": per_app,
            "seconds": seconds, "msgs_per_s": total / seconds,
            "basis": "writer's queue open to the last PUSH in the readers' --log (ms)"}


# --------------------------------------------------------------------------
# The plan


@dataclass
class _Step:
    label: str
    run: Callable[[], None]


def run(args: argparse.Namespace, tool: Optional[Path], helpers: Helpers) -> Results:
    """Every point of every curve against one fresh broker; the results
    by curve (``scale <curve>``) and column (``ours``, ``bmqtool``)."""
    from blazingmq.testing import start_broker

    plan = Plan.quick() if args.quick else Plan()
    results: Results = {}
    with start_broker() as broker:
        assert broker.pid is not None  # started
        steps = _steps(plan, broker.uri, broker.pid, tool, helpers, results,
                       HERE.parent / "build" / f"scale-{os.getpid()}")
        start = time.perf_counter()
        for number, step in enumerate(steps, 1):
            print(f"[scale {number}/{len(steps)} {time.perf_counter() - start:4.0f}s] {step.label}",
                  file=sys.stderr, flush=True)
            helpers.wait_until_idle(broker.pid)
            step.run()
    return results


def _steps(plan: Plan, broker: str, broker_pid: int, tool: Optional[Path], helpers: Helpers, results: Results,
           scratch: Path) -> List[_Step]:
    steps: List[_Step] = []
    tag = f"{os.getpid()}"
    base = f"bmq://{DOMAIN}/scale"

    def point(curve: str, column: str, **keys: Any) -> Callable[[Dict[str, Any]], None]:
        def record(result: Dict[str, Any]) -> None:
            results.setdefault(f"scale {curve}", {}).setdefault(column, {"points": []})["points"].append(
                {**keys, **result})
        return record

    def add(label: str, work: Callable[[], Dict[str, Any]], record: Callable[[Dict[str, Any]], None]) -> None:
        steps.append(_Step(label, lambda: record(work())))

    def workload(script: Path, name: str, queue: str, *options: str) -> Callable[[], Dict[str, Any]]:
        return lambda: _python(helpers, script, name, broker, queue, *options)

    def drain(queue: str) -> None:
        # Not recorded: empties a queue that no measured run consumes.
        def empty() -> None:
            _python(helpers, WORKLOAD, "drain", broker, queue)

        steps.append(_Step(f"(emptying {queue.rsplit('/', 1)[-1]})", empty))

    for n in plan.queues:
        add(f"ours: open {n} queues one by one, post {plan.queue_messages} round-robin, consume",
            workload(SCALE_WORKLOAD, "queues", f"{base}-queues-{n}-{tag}", "--queues", str(n),
                     "--count", str(plan.queue_messages)), point("queues", "ours", queues=n))
        add(f"ours: open {n} queues with asyncio.gather",
            workload(SCALE_WORKLOAD, "queues-aio", f"{base}-aio-{n}-{tag}", "--queues", str(n)),
            point("queues aio", "ours", queues=n))
    for k in plan.sessions:
        add(f"ours: {k} sessions, {plan.session_messages} posts round-robin",
            workload(SCALE_WORKLOAD, "sessions", f"{base}-sessions-{k}-{tag}", "--sessions", str(k),
                     "--count", str(plan.session_messages)), point("sessions", "ours", sessions=k))
    for size, count in plan.sizes:
        label = size_label(size)
        queue = f"{base}-size-{size}-{tag}"
        add(f"ours: produce {count} x {label}",
            workload(WORKLOAD, "produce", queue, "--count", str(count), "--size", str(size)),
            point("size produce", "ours", size=size))
        add(f"ours: consume {count} x {label}", workload(WORKLOAD, "consume", queue, "--count", str(count)),
            point("size consume", "ours", size=size))
        if tool is not None:
            tool_queue = f"{base}-tool-size-{size}-{tag}"
            add(f"bmqtool: produce {count} x {label}",
                partial(_tool_produce, helpers, tool, broker, tool_queue, count, size),
                point("size produce", "bmqtool", size=size))
            drain(tool_queue)
    fanout = plan.fanout_messages
    add(f"ours: fanout, {fanout} x 64 B to 3 app ids",
        lambda: fanout_ours(helpers, broker, f"bmq://{FANOUT_DOMAIN}/scale-{tag}", fanout, 64),
        point("fanout", "ours"))
    if tool is not None:
        add(f"bmqtool: fanout, {fanout} x 64 B to 3 app ids",
            partial(fanout_bmqtool, helpers, tool, broker, f"bmq://{FANOUT_DOMAIN}/scale-tool-{tag}", fanout, 64,
                    scratch),
            point("fanout", "bmqtool"))
    count = plan.property_messages
    for properties in (0, 10):
        queue = f"{base}-properties-{properties}-{tag}"
        add(f"ours: produce {count} x 64 B, {properties} properties",
            workload(SCALE_WORKLOAD, "produce", queue, "--count", str(count), "--size", "64",
                     "--properties", str(properties)), point("properties produce", "ours", properties=properties))
        add(f"ours: consume {count} x 64 B, {properties} properties",
            workload(SCALE_WORKLOAD, "consume", queue, "--count", str(count), "--properties", str(properties)),
            point("properties consume", "ours", properties=properties))
        if tool is not None:
            options = _tool_properties(properties)
            tool_queue = f"{base}-tool-properties-{properties}-{tag}"
            add(f"bmqtool: produce {count} x 64 B, {properties} properties",
                partial(_tool_produce, helpers, tool, broker, tool_queue, count, 64, *options),
                point("properties produce", "bmqtool", properties=properties))
            drain(tool_queue)
            # bmqtool drains a queue faster than its one-second statistics
            # can time a short run: it consumes 16x as many.
            add(f"bmqtool: consume {16 * count} x 64 B, {properties} properties",
                partial(_tool_consume, helpers, tool, broker, f"{tool_queue}-consume", 16 * count, 64, *options),
                point("properties consume", "bmqtool", properties=properties))
    return steps


def _tool_properties(count: int) -> List[str]:
    """bmqtool's ``--messageProperties`` for the properties the Python
    workload posts: half strings, half 32-bit integers (``E_INT``)."""
    if not count:
        return []
    properties = [{"name": f"p{i}", "value": f"value-{i}" if i % 2 == 0 else str(i * 1000),
                   "type": "E_STRING" if i % 2 == 0 else "E_INT"} for i in range(count)]
    return ["--messageProperties", json.dumps(properties)]


# --------------------------------------------------------------------------
# Reporting


def _points(results: Results, curve: str, column: str) -> List[Dict[str, Any]]:
    points: List[Dict[str, Any]] = results.get(f"scale {curve}", {}).get(column, {}).get("points", [])
    return points


def _value(point: Dict[str, Any], key: str, scale: float = 1.0) -> Optional[float]:
    value = point.get(key)
    return None if value is None or "error" in point else float(value) * scale


def table_rows(results: Results) -> List[Dict[str, Any]]:
    """The rows for the runner's table and JSON report, in its format
    (``label``, ``values`` by column, ``lower_is_better``, ``no_ratio``),
    marked ``scale`` so that the runner keeps them out of its bar chart."""
    rows: List[Dict[str, Any]] = []

    def row(label: str, source: str, ours: Optional[float], bmqtool: Optional[float] = None,
            lower_is_better: bool = False, compared: bool = False) -> None:
        rows.append({"label": label, "values": {"ours": ours, "official": None, "bmqtool": bmqtool},
                     "lower_is_better": lower_is_better, "no_ratio": not compared, "source": source,
                     "scale": True})

    for point in _points(results, "queues", "ours"):
        n = point["queues"]
        row(f"scale: open {n} queues sync (ms)", "scale queues", _value(point, "open_s", 1000.0),
            lower_is_better=True)
        aio = [p for p in _points(results, "queues aio", "ours") if p["queues"] == n]
        if aio:
            row(f"scale: open {n} queues gather (ms)", "scale queues aio", _value(aio[0], "open_s", 1000.0),
                lower_is_better=True)
        row(f"scale: RSS per queue at {n} (KiB)", "scale queues", _value(point, "rss_per_queue_kib"),
            lower_is_better=True)
        row(f"scale: {n} queues produce (msgs/s)", "scale queues", _value(point, "produce_msgs_per_s"))
        row(f"scale: {n} queues consume (msgs/s)", "scale queues", _value(point, "consume_msgs_per_s"))
        row(f"scale: {n} queues CPU per msg (us)", "scale queues", _value(point, "cpu_us_per_msg"),
            lower_is_better=True)
    for point in _points(results, "sessions", "ours"):
        k = point["sessions"]
        row(f"scale: {k} sessions threads", "scale sessions", _value(point, "threads"), lower_is_better=True)
        row(f"scale: {k} sessions RSS (MB)", "scale sessions", _value(point, "rss_mb"), lower_is_better=True)
        row(f"scale: {k} sessions total (msgs/s)", "scale sessions", _value(point, "msgs_per_s"))
        row(f"scale: {k} sessions CPU per msg (us)", "scale sessions", _value(point, "cpu_us_per_msg"),
            lower_is_better=True)
        row(f"scale: {k} sessions context switches per msg", "scale sessions",
            _value(point, "context_switches_per_msg"), lower_is_better=True)
    tool_sizes = {p["size"]: p for p in _points(results, "size produce", "bmqtool")}
    for point in _points(results, "size produce", "ours"):
        size = point["size"]
        tool_point = tool_sizes.get(size)
        row(f"scale: produce {size_label(size)} (MiB/s)", "scale size produce",
            _value(point, "msgs_per_s", size / MIB),
            _value(tool_point, "msgs_per_s", size / MIB) if tool_point else None, compared=True)
    for point in _points(results, "size consume", "ours"):
        row(f"scale: consume {size_label(point['size'])} (MiB/s)", "scale size consume",
            _value(point, "msgs_per_s", point["size"] / MIB))
    fanout = _points(results, "fanout", "ours")
    if fanout:
        tool_fanout = _points(results, "fanout", "bmqtool")
        row("scale: fanout 3 apps delivered (msgs/s)", "scale fanout", _value(fanout[0], "msgs_per_s"),
            _value(tool_fanout[0], "msgs_per_s") if tool_fanout else None, compared=True)
    for action in ("produce", "consume"):
        tool_points = {p["properties"]: p for p in _points(results, f"properties {action}", "bmqtool")}
        for point in _points(results, f"properties {action}", "ours"):
            properties = point["properties"]
            tool_point = tool_points.get(properties)
            row(f"scale: {action} 64 B, {properties} properties (msgs/s)", f"scale properties {action}",
                _value(point, "msgs_per_s"), _value(tool_point, "msgs_per_s") if tool_point else None,
                compared=True)
    return rows


def table_lines(rows: List[Dict[str, Any]]) -> List[str]:
    """The scale rows as text, in the runner's columns (ours, bmqtool and
    ours/C++ where bmqtool does the same; '-' where it cannot)."""
    lines = [f"{'scale':48}{'ours':>12}{'bmqtool':>12}{'ours/C++':>10}"]
    for row in rows:
        values = row["values"]
        cells = "".join(f"{_cell(values.get(column)):>12}" for column in ("ours", "bmqtool"))
        ratio = "-"
        ours, tool = values.get("ours"), values.get("bmqtool")
        if not row.get("no_ratio") and ours and tool:
            ratio = f"{(tool / ours if row['lower_is_better'] else ours / tool):.2f}x"
        lines.append(f"{row['label']:48}{cells}{ratio:>10}")
    return lines


def _cell(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def failures(results: Results) -> List[str]:
    """One line per failed run, and per bmqtool rate that is only a lower
    bound (a run too short for its statistics)."""
    lines = []
    for curve, columns in results.items():
        for column, data in columns.items():
            for point in data.get("points", []):
                if "error" in point:
                    where = ", ".join(f"{k}={v}" for k, v in point.items() if k != "error")
                    lines.append(f"failed: {column} '{curve}' ({where}): {point['error']}")
                elif str(point.get("basis", "")).startswith("lower bound"):
                    where = ", ".join(f"{k}={v}" for k, v in point.items() if k in ("size", "properties"))
                    lines.append(f"note: {column} '{curve}' ({where}) is a {point['basis']}")
    return lines


def chart(results: Results, path: Path, title: str) -> None:
    """One figure, a panel per curve."""
    import matplotlib  # type: ignore[import-not-found,unused-ignore]  # no stubs

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    figure, axes = plt.subplots(2, 5, figsize=(25, 9))
    blue, red, green, grey = "#2b6cb0", "#c53030", "#2f855a", "#718096"

    def curve(ax: Any, points: List[Dict[str, Any]], x: str, y: str, label: str, color: str,
              scale: Callable[[Dict[str, Any]], float] = lambda point: 1.0, style: str = "o-") -> None:
        good = [p for p in points if "error" not in p and p.get(y) is not None]
        if good:
            ax.plot([p[x] for p in good], [p[y] * scale(p) for p in good], style, color=color, label=label)

    queues = _points(results, "queues", "ours")
    aio = _points(results, "queues aio", "ours")
    ax = axes[0][0]
    curve(ax, queues, "queues", "open_s", "sync: open_queue in a loop", blue, lambda p: 1000.0 / p["queues"])
    curve(ax, aio, "queues", "open_s", "aio: asyncio.gather", green, lambda p: 1000.0 / p["queues"])
    curve(ax, queues, "queues", "close_s", "sync: close_queue in a loop", blue, lambda p: 1000.0 / p["queues"],
          "s--")
    ax.set(xscale="log", xlabel="queues open in one session", ylabel="ms per queue",
           title="open (and close) time per queue")
    ax = axes[0][1]
    curve(ax, queues, "queues", "rss_per_queue_kib", "sync", blue)
    curve(ax, aio, "queues", "rss_per_queue_kib", "aio", green)
    ax.set(xscale="log", yscale="log", xlabel="queues open in one session", ylabel="KiB per queue",
           title="RSS growth per queue (delta / n)")
    ax = axes[0][2]
    curve(ax, queues, "queues", "produce_msgs_per_s", "produce (ACKed)", blue)
    curve(ax, queues, "queues", "consume_msgs_per_s", "consume (meanwhile)", green)
    ax.set(xscale="log", xlabel="queues, messages round-robin", ylabel="msgs/s", title="1 KiB over n queues")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    curve(twin, queues, "queues", "cpu_us_per_msg", "CPU us/msg (both sessions)", grey, style="^--")
    twin.set_ylabel("CPU us per message")
    twin.set_ylim(bottom=0)
    twin.legend(loc="lower right", fontsize=8)
    sessions = _points(results, "sessions", "ours")
    ax = axes[0][3]
    curve(ax, sessions, "sessions", "msgs_per_s", "total msgs/s (ACKed)", blue)
    ax.set(xlabel="sessions in one process, messages round-robin", ylabel="msgs/s",
           title="1 KiB over n sessions")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    curve(twin, sessions, "sessions", "cpu_us_per_msg", "CPU us/msg", green, style="v--")
    curve(twin, sessions, "sessions", "context_switches_per_msg", "context switches/msg x 10", "#d69e2e",
          lambda p: 10.0, style="d--")
    twin.set_ylabel("CPU us, context switches x 10, per message")
    twin.set_ylim(bottom=0)
    twin.legend(loc="upper right", fontsize=8)
    ax = axes[0][4]
    curve(ax, sessions, "sessions", "threads", "threads", red)
    ax.set(xlabel="sessions in one process", ylabel="threads", title="threads and RSS per process")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    curve(twin, sessions, "sessions", "rss_mb", "RSS (MB)", grey, style="^--")
    twin.set_ylabel("RSS (MB)")
    twin.set_ylim(bottom=0)
    twin.legend(loc="lower right", fontsize=8)
    ax = axes[1][0]
    curve(ax, _points(results, "size produce", "ours"), "size", "msgs_per_s", "ours produce", blue,
          lambda p: p["size"] / MIB)
    curve(ax, _points(results, "size produce", "bmqtool"), "size", "msgs_per_s", "bmqtool produce", red,
          lambda p: p["size"] / MIB)
    curve(ax, _points(results, "size consume", "ours"), "size", "msgs_per_s", "ours consume", green,
          lambda p: p["size"] / MIB)
    ax.set(xscale="log", yscale="log", xlabel="payload bytes", ylabel="MiB/s", title="message size")
    ax = axes[1][1]
    for curve_name, column, name, color in (("size produce", "ours", "ours produce", blue),
                                            ("size produce", "bmqtool", "bmqtool produce", red),
                                            ("size consume", "ours", "ours consume", green)):
        # (the rate times this factor: microseconds per message)
        curve(ax, _points(results, curve_name, column), "size", "msgs_per_s", name, color,
              lambda p: 1e6 / p["msgs_per_s"] ** 2 if p["msgs_per_s"] else 0.0)
    ax.set(xscale="log", yscale="log", xlabel="payload bytes", ylabel="us per message",
           title="time per message by size (flat: a per-message cost)")
    ax = axes[1][2]
    curve(ax, _points(results, "size produce", "ours"), "size", "peak_rss_mb", "ours produce", blue)
    curve(ax, _points(results, "size produce", "bmqtool"), "size", "peak_rss_mb", "bmqtool produce", red)
    curve(ax, _points(results, "size consume", "ours"), "size", "peak_rss_mb", "ours consume", green)
    ax.set(xscale="log", yscale="log", xlabel="payload bytes", ylabel="MB", title="peak RSS by message size")

    def bars(ax: Any, groups: List[Tuple[str, Optional[float], Optional[float]]], title: str) -> None:
        positions = range(len(groups))
        for offset, index, name, color in ((-0.2, 1, "ours", blue), (0.2, 2, "bmqtool", red)):
            heights = [float(group[index] or 0.0) for group in groups]
            drawn = ax.bar([p + offset for p in positions], heights, 0.4, label=name, color=color)
            for bar, height in zip(drawn, heights):
                if height:
                    ax.annotate(f"{height:,.0f}", (bar.get_x() + bar.get_width() / 2, height), ha="center",
                                va="bottom", fontsize=7)
        ax.set_xticks(list(positions))
        ax.set_xticklabels([group[0] for group in groups], fontsize=8)
        ax.set(ylabel="msgs/s", title=title)

    def first(curve_name: str, column: str, key: str = "", value: Any = None) -> Optional[float]:
        for p in _points(results, curve_name, column):
            if (not key or p.get(key) == value) and "error" not in p:
                return float(p["msgs_per_s"])
        return None

    bars(axes[1][3], [("delivered to 3 app ids", first("fanout", "ours"), first("fanout", "bmqtool"))],
         "fanout: 1 producer, 3 app ids (64 B)")
    bars(axes[1][4], [(f"{action}\n{n} properties", first(f"properties {action}", "ours", "properties", n),
                       first(f"properties {action}", "bmqtool", "properties", n))
                      for action in ("produce", "consume") for n in (0, 10)],
         "0 vs 10 properties per message (64 B)")
    for row_axes in axes:
        for ax in row_axes:
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="lower left")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
