"""Latency vs rate: end-to-end latency percentiles (post to the consumer's
callback in the same process, every message confirmed) at fixed rates, and
at the highest rate each implementation sustains.

Implementations (the columns of this row set): ``ours`` (the ``latency``
workload, ``blazingmq.Session``), ``aio`` (``aio-latency``,
``blazingmq.aio``), ``official`` (the PyPI wheel, the same ``latency``
workload) and ``bmqtool`` (``read,write --confirmmsg -l hires
--latency-report``).

Same arrival pattern for all: bmqtool posts ``-r N`` one-message events
every ``-i 1`` ms, so at R msgs/s it sends a burst of R/1000 posts at the
start of each 1 ms tick (a late tick is not skipped: its burst follows at
once); the Python workloads post the same bursts on the same schedule, the
time taken just before each post, as bmqtool does.  Every consumer uses the
default queue options (1,024 unconfirmed messages), as bmqtool does.

Percentiles are taken the same way for all: the value at rank
``int(p/100 * n)`` of the sorted latencies; bmqtool's come from the
histogram of its report (``dataPoints``: latency in ns, rounded to the
microsecond -> count), not from its fixed fields (it has no p90 nor p99.9).

"Sustained" (see :func:`verdict`): the run posted at 95% of its target
rate or more, every message arrived, and p99 stayed under 50 ms (beyond
that a backlog is building up).  The highest sustained rate is searched
from the fixed rates up: 100k, 150k, 200k ... msgs/s until a rate is not
sustained, then once halfway between the last sustained rate and that one
(rounded to 5k); the row reports the rate reached and its percentiles.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import statistics
import subprocess
import sys
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .step import Step, bind

FIXED_RATES = (1_000, 5_000, 20_000, 50_000)
SEARCH_START = 100_000
SEARCH_STEP = 50_000
SEARCH_LIMIT = 1_000_000
MIN_ACHIEVED = 0.95  # of the target rate
MAX_P99_US = 50_000.0
COLUMNS = ("ours", "aio", "official", "bmqtool")
PERCENTILES = (("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p99_9_us", "p99.9"))
HIGHEST_ROW = "latency at the highest sustained rate"
GRACE_S = 1  # bmqtool's --shutdownGrace: it closes the queue this long after its last post

Workload = Callable[..., Dict[str, Any]]  # (python, workload name, broker, queue, *options) -> result


def row_for(rate: int) -> str:
    """The results key of the runs at ``rate``."""
    return f"latency at {rate} msgs/s"


def rate_label(rate: float) -> str:
    """``1k``, ``20k``, ``150k`` (``1234`` below a thousand)."""
    return f"{rate / 1000:g}k" if rate >= 1000 else f"{rate:g}"


def histogram_percentile(histogram: Mapping[Any, int], p: float) -> float:
    """The value at rank ``int(p/100 * n)`` (0-based) of the ``n`` values a
    histogram ``{value: count}`` holds (keys may be strings, as in
    bmqtool's JSON report): the same rule as for a sorted list.

    Raises:
        ValueError: The histogram is empty, or ``p`` is not in [0, 100].
    """
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], not {p}")
    items = sorted((int(value), int(count)) for value, count in histogram.items() if int(count) > 0)
    total = sum(count for _, count in items)
    if total == 0:
        raise ValueError("empty histogram")
    rank = min(total - 1, int(p / 100.0 * total))
    seen = 0
    for value, count in items:
        seen += count
        if seen > rank:
            return float(value)
    raise AssertionError("unreachable: rank < total")


def verdict(result: Mapping[str, Any], rate: float) -> Tuple[bool, str]:
    """Whether a run at ``rate`` sustained it, and why not."""
    if "error" in result:
        return False, f"failed: {result['error']}"
    if result.get("messages", 0) < result.get("posted", 0):
        return False, f"{result['posted'] - result['messages']} messages not received by the end (backlog)"
    achieved = float(result.get("achieved_rate", 0.0))
    if achieved < MIN_ACHIEVED * rate:
        return False, f"posted at {achieved:.0f} msgs/s (< {MIN_ACHIEVED:.0%} of the target)"
    p99 = float(result.get("p99_us", math.inf))
    if p99 > MAX_P99_US:
        return False, f"p99 {p99 / 1000:.0f} ms (> {MAX_P99_US / 1000:.0f} ms: a backlog builds up)"
    return True, "sustained"


# --------------------------------------------------------------------------
# bmqtool

# bmqtool's log lines start "28NOV2026_11:42:27.826 (140093632530112) INFO ..."
_LOG_TIME = re.compile(r"^(\d\d[A-Z]{3}\d{4}_\d\d:\d\d:\d\d\.\d{3}) ")


def _log_time(log: str, marker: str) -> Optional[float]:
    for line in log.splitlines():
        if marker in line:
            match = _LOG_TIME.match(line)
            if match:
                return datetime.datetime.strptime(match.group(1), "%d%b%Y_%H:%M:%S.%f").timestamp()
    return None


def bmqtool_rate_latency(tool: Path, broker: str, queue: str, rate: int, count: int, size: int,
                         report_dir: Path) -> Dict[str, Any]:
    """bmqtool posting ``count`` messages at ``rate`` (``-r rate/1000 -i 1
    -e 1``) to a queue it reads and confirms, with ``-l hires
    --latency-report``.  Its posting time is read from its INFO log: from
    "Open queue ... took" to "Close queue (SYNC)" less the shutdown grace
    (it closes the queue ``GRACE_S`` after its last post, and stops
    counting there: messages still in flight then are missing from the
    report, and the run is a backlog)."""
    per_tick = max(1, round(rate / 1000.0))
    report = report_dir / f"bmqtool-latency-{os.getpid()}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    command = [str(tool), "--mode", "auto", "-b", broker, "-q", queue, "-f", "read,write", "--confirmmsg",
               "--eventscount", str(count), "-m", str(size), "-e", "1", "-r", str(per_tick), "-i", "1",
               "-l", "hires", "--latency-report", str(report), "--shutdownGrace", str(GRACE_S), "-v", "info"]
    process = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=900)
    if process.returncode != 0 or not report.exists():
        return {"error": f"bmqtool exit status {process.returncode}: {process.stderr[-300:]}"}
    data = json.loads(report.read_text())
    report.unlink()
    histogram: Dict[str, int] = data["dataPoints"]
    opened = _log_time(process.stdout, f"Open queue [uri={queue}] took:")
    closing = _log_time(process.stdout, "Close queue (SYNC)")
    if opened is None or closing is None:
        return {"error": "bmqtool's log has no open/close times"}
    failed_posts = process.stdout.count("Failed to post")
    posted = count - failed_posts
    posting_s = closing - GRACE_S - opened
    ticks = math.ceil(count / per_tick)
    result: Dict[str, Any] = {
        "messages": sum(histogram.values()),
        "posted": posted,
        "rate": rate,
        "per_tick": per_tick,
        "achieved_rate": posted / max(posting_s, ticks * 0.001, 1e-9),
        "posting_s": posting_s,
        "basis": "its latency report's histogram; posting time from its log (ms resolution)",
    }
    if result["messages"]:
        for key, _ in PERCENTILES:
            p = float(key[1:-3].replace("_", "."))
            result[key] = histogram_percentile(histogram, p) / 1000.0
        result["max_us"] = histogram_percentile(histogram, 100.0) / 1000.0
    return result


# --------------------------------------------------------------------------
# The plan


def _median_result(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Each number's median over the runs that did not fail."""
    good = [run for run in runs if "error" not in run] or list(runs[:1])
    merged = dict(good[0])
    for key, value in good[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = statistics.median(run[key] for run in good if isinstance(run.get(key), (int, float)))
    return merged


class RateSearch:
    """Runs the latency workloads, remembers what each implementation
    sustained at the fixed rates, and searches its highest rate."""

    def __init__(self, runners: Dict[str, Callable[[int, int, str], Dict[str, Any]]],
                 queue_prefix: str, seconds: float, min_messages: int, wait_idle: Callable[[], None],
                 drain: Callable[[str], Any]) -> None:
        self.runners = runners
        self.queue_prefix = queue_prefix
        self.seconds = seconds
        self.min_messages = min_messages
        self.wait_idle = wait_idle
        self.drain = drain
        self.observed: Dict[str, Dict[int, List[Dict[str, Any]]]] = {column: {} for column in runners}
        self._runs = 0

    def count(self, rate: int) -> int:
        """Messages of a run at ``rate``: ``seconds`` of posting, at least
        ``min_messages``."""
        return max(self.min_messages, int(rate * self.seconds))

    def measure(self, column: str, rate: int) -> Dict[str, Any]:
        """One run of ``column`` at ``rate`` on a fresh queue (emptied
        afterwards if messages were left in it)."""
        self._runs += 1
        queue = f"{self.queue_prefix}{column}-{rate}-{self._runs}"
        result = dict(self.runners[column](rate, self.count(rate), queue))
        ok, why = verdict(result, rate)
        result["sustained"] = ok
        result["verdict"] = why
        if "error" in result or result.get("messages", 0) < result.get("posted", 0):
            self.drain(queue)  # the next run meets an empty broker
        self.observed[column].setdefault(rate, []).append(result)
        return result

    def _sustained(self, column: str, rate: int) -> bool:
        runs = self.observed[column].get(rate, [])
        return bool(runs) and 2 * sum(run["sustained"] for run in runs) >= len(runs)

    def highest(self, column: str) -> Dict[str, Any]:
        """The highest rate ``column`` sustains, from what the fixed rates
        showed: up from ``SEARCH_START`` by ``SEARCH_STEP`` while sustained
        (only if every fixed rate was), then once halfway between the last
        sustained rate and the first not sustained."""
        tried = sorted(self.observed[column])
        best = max((rate for rate in tried if self._sustained(column, rate)), default=0)
        failed = min((rate for rate in tried if rate > best and not self._sustained(column, rate)), default=0)
        tries: List[Dict[str, Any]] = []

        def attempt(rate: int) -> bool:
            self.wait_idle()
            result = self.measure(column, rate)
            tries.append({"rate": rate, "sustained": result["sustained"], "verdict": result["verdict"],
                          "achieved_rate": result.get("achieved_rate"), "p99_us": result.get("p99_us")})
            print(f"    {column} at {rate_label(rate)} msgs/s: {result['verdict']}", file=sys.stderr, flush=True)
            return bool(result["sustained"])

        if best and not failed:
            rate = max(SEARCH_START, best + SEARCH_STEP)
            while rate <= SEARCH_LIMIT:
                if not attempt(rate):
                    failed = rate
                    break
                best = rate
                rate += SEARCH_STEP
        if best and failed:
            middle = int(round((best + failed) / 2 / 5000.0) * 5000)
            if best < middle < failed and attempt(middle):
                best = middle
        if not best:
            return {"error": "no rate tried was sustained", "tried": tries}
        result = _median_result(self.observed[column][best])
        result.update({"rate_reached": best, "first_not_sustained": failed or None, "tried": tries})
        return result


def plan(*, broker_uri: str, domain: str, pythons: Mapping[str, Path], tool: Optional[Path], rounds: int,
         seconds: float, min_messages: int, size: int, tag: str, workload: Workload,
         wait_idle: Callable[[], None], drain: Callable[[str], Any], report_dir: Path,
         rates: Sequence[int] = FIXED_RATES) -> List[Step]:
    """The steps of the row set: ``rounds`` rounds of every implementation
    at each fixed rate (taking turns, each round starting with another),
    then each implementation's search for its highest rate."""
    max_seconds = 3 * seconds + 2.0

    def python_runner(python: Path, name: str) -> Callable[[int, int, str], Dict[str, Any]]:
        def run(rate: int, count: int, queue: str) -> Dict[str, Any]:
            return workload(python, name, broker_uri, queue, "--count", str(count), "--rate", str(rate),
                            "--size", str(size), "--max-seconds", f"{max_seconds:g}")
        return run

    runners: Dict[str, Callable[[int, int, str], Dict[str, Any]]] = {}
    if "ours" in pythons:
        runners["ours"] = python_runner(pythons["ours"], "latency")
        runners["aio"] = python_runner(pythons["ours"], "aio-latency")
    if "official" in pythons:
        runners["official"] = python_runner(pythons["official"], "latency")
    if tool is not None:
        def tool_runner(rate: int, count: int, queue: str) -> Dict[str, Any]:
            assert tool is not None
            return bmqtool_rate_latency(tool, broker_uri, queue, rate, count, size, report_dir)
        runners["bmqtool"] = tool_runner
    search = RateSearch(runners, f"bmq://{domain}/rate-{tag}-", seconds, min_messages, wait_idle, drain)
    names = {"ours": "ours", "aio": "ours (aio)", "official": "official", "bmqtool": "bmqtool"}
    steps: List[Step] = []
    for round_ in range(rounds):
        prefix = f"rates, round {round_ + 1}/{rounds}: " if rounds > 1 else "rates: "
        for rate in rates:
            turns = [Step(f"{prefix}{names[column]}: latency at {rate_label(rate)} msgs/s "
                          f"({search.count(rate)} messages)", bind(search.measure, column, rate), row_for(rate), column)
                     for column in runners]
            shift = round_ % len(turns)
            steps.extend(turns[shift:] + turns[:shift])
    for column in runners:
        steps.append(Step(f"rates: {names[column]}: highest sustained rate", bind(search.highest, column),
                          HIGHEST_ROW, column))
    return steps


# --------------------------------------------------------------------------
# Reporting


def _rates_in(results: Mapping[str, Any]) -> List[int]:
    rates = []
    for key in results:
        match = re.fullmatch(r"latency at (\d+) msgs/s", key)
        if match:
            rates.append(int(match.group(1)))
    return sorted(rates)


def table(results: Mapping[str, Mapping[str, Dict[str, Any]]]) -> Tuple[List[str], List[Dict[str, Any]]]:
    """The printed block (one line per rate and implementation) and the
    table rows of the JSON report: ``latency p99 at 20k (us)`` with the
    columns ours / official / bmqtool, ``aio latency p99 at 20k (us)`` with
    ours (``blazingmq.aio``) and bmqtool again (for the ratio), and the
    highest sustained rates."""
    rates = _rates_in(results)
    if not rates and HIGHEST_ROW not in results:
        return [], []
    sources = [(row_for(rate), rate_label(rate)) for rate in rates]
    if HIGHEST_ROW in results:
        sources.append((HIGHEST_ROW, "highest"))
    rows: List[Dict[str, Any]] = []
    for source, label in sources:
        data = results[source]
        for key, name in PERCENTILES:
            rows.append({"label": f"latency {name} at {label} (us)", "lower_is_better": True, "source": source,
                         "values": {c: data.get(c, {}).get(key) for c in ("ours", "official", "bmqtool")}})
            rows.append({"label": f"aio latency {name} at {label} (us)", "lower_is_better": True, "source": source,
                         "values": {"ours": data.get("aio", {}).get(key),
                                    "bmqtool": data.get("bmqtool", {}).get(key)}})
    if HIGHEST_ROW in results:
        data = results[HIGHEST_ROW]
        rows.append({"label": "highest sustained rate (msgs/s)", "lower_is_better": False, "source": HIGHEST_ROW,
                     "values": {c: data.get(c, {}).get("rate_reached") for c in ("ours", "official", "bmqtool")}})
        rows.append({"label": "aio highest sustained rate (msgs/s)", "lower_is_better": False,
                     "source": HIGHEST_ROW, "values": {"ours": data.get("aio", {}).get("rate_reached"),
                                                       "bmqtool": data.get("bmqtool", {}).get("rate_reached")}})
    lines = ["latency vs rate (us, post -> consumer callback, confirmed; bursts of rate/1000 each 1 ms)",
             f"{'rate':>9} {'':11}{'achieved':>10}" + "".join(f"{name:>10}" for _, name in PERCENTILES) + "  verdict"]
    for source, label in sources:
        first = True
        for column in COLUMNS:
            run = results[source].get(column)
            if run is None:
                continue
            shown = label
            if source == HIGHEST_ROW and run.get("rate_reached"):
                shown = f"{rate_label(run['rate_reached'])} (max)"
            cells = "".join(f"{run[key]:>10.0f}" if isinstance(run.get(key), (int, float)) else f"{'-':>10}"
                            for key, _ in PERCENTILES)
            achieved = run.get("achieved_rate")
            achieved_cell = f"{achieved:>10.0f}" if isinstance(achieved, (int, float)) else f"{'-':>10}"
            why = run.get("verdict") or run.get("error", "")
            if run.get("rounds"):
                why = f"{sum(1 for one in run['rounds'] if one.get('sustained'))}/{len(run['rounds'])} sustained"
            lines.append(f"{shown if first or source == HIGHEST_ROW else '':>9} {column:11}{achieved_cell}{cells}  {why}")
            first = False
    return lines, rows


def chart(results: Mapping[str, Mapping[str, Dict[str, Any]]], path: Path, title: str) -> bool:
    """Latency (log) vs rate (log): p50 (solid) and p99 (dashed) per
    implementation; runs that did not sustain their rate as crosses, the
    highest sustained rate as a star.  False if there is nothing to draw."""
    rates = _rates_in(results)
    if not rates:
        return False
    import matplotlib  # type: ignore[import-not-found,unused-ignore]  # no stubs

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    colors = {"ours": "#2b6cb0", "aio": "#38a169", "official": "#a0aec0", "bmqtool": "#c53030"}
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for column in COLUMNS:
        for key, name, style in (("p50_us", "p50", "-"), ("p99_us", "p99", "--")):
            points = [(rate, results[row_for(rate)].get(column, {})) for rate in rates]
            points = [(rate, data) for rate, data in points if isinstance(data.get(key), (int, float))]
            highest = results.get(HIGHEST_ROW, {}).get(column, {})
            if isinstance(highest.get(key), (int, float)) and highest.get("rate_reached") not in rates:
                points.append((int(highest["rate_reached"]), highest))
                points.sort(key=lambda point: point[0])
            if not points:
                continue
            axes.plot([rate for rate, _ in points], [data[key] for _, data in points], style,
                      color=colors[column], label=f"{column} {name}")
            bad = [(rate, data[key]) for rate, data in points if data.get("sustained") is False
                   or (data.get("rounds") and not any(run.get("sustained") for run in data["rounds"]))]
            if bad:
                axes.plot([r for r, _ in bad], [v for _, v in bad], "x", color=colors[column], markersize=8)
            if isinstance(highest.get(key), (int, float)):
                axes.plot([highest["rate_reached"]], [highest[key]], "*", color=colors[column], markersize=11)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("target rate (msgs/s; x: not sustained, *: highest sustained)")
    axes.set_ylabel("end-to-end latency (us)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
