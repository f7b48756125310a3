"""Side-by-side benchmark: this package vs the C++ ``bmqtool.tsk`` vs the
existing ``blazingmq`` wheel from PyPI, in one run against one local broker.

    python -m benchmarks [--count 200000] [--size 1024] [--no-official] [--quick]

The official wheel is installed on demand into its own virtual environment
(``build/bench-official``); the same workload script (``workload.py``) runs
under both Python implementations.  Absolute rates on a shared machine are
noisy: read the ratios, which come from back-to-back runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any, Dict, List, Optional

from blazingmq.testing import find_broker_executable, start_broker

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
OFFICIAL_VENV = HERE.parent / "build" / "bench-official"
OFFICIAL_REQUIREMENT = "blazingmq==1.2.2"
DOMAIN = "bmq.bench.mem.priority"


def _official_python() -> Path:
    python = OFFICIAL_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {OFFICIAL_VENV} with {OFFICIAL_REQUIREMENT} ...", flush=True)
        venv.create(OFFICIAL_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", OFFICIAL_REQUIREMENT], check=True)
    return python


def _run(command: List[str], timeout: float) -> Dict[str, Any]:
    """Run ``command``; return its output, exit status and wall time."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise SystemExit(f"timed out: {' '.join(command)}")
    wall = time.perf_counter() - start
    return {"stdout": out, "stderr": err, "status": process.returncode, "wall": wall}


def _python_workload(python: Path, workload: str, broker: str, queue: str, args: argparse.Namespace) -> Dict[str, Any]:
    command = [
        str(python), str(WORKLOAD), workload, "--broker", broker, "--queue", queue,
        "--count", str(args.count if workload != "latency" else args.latency_count),
        "--size", str(args.size), "--rate", str(args.rate),
    ]
    result = _run(command, timeout=900)
    if result["status"] != 0:
        raise SystemExit(f"{workload} under {python} failed:\n{result['stderr'][-3000:]}")
    return dict(json.loads(result["stdout"].strip().splitlines()[-1]))


def _bmqtool(tool: Path, broker: str, queue: str, flags: str, count: int, size: int, grace: int) -> float:
    command = [
        str(tool), "--mode", "auto", "-b", broker, "-q", queue, "-f", flags,
        "-m", str(size), "-e", "1", "-r", "1000", "-i", "0",
        "--shutdownGrace", str(grace), "-v", "warning",
    ]
    if "write" in flags:
        command += ["--eventscount", str(count)]
    else:
        command += ["--confirmmsg", "-u", f"100000:{1 << 30}"]
    result = _run(command, timeout=900)
    if result["status"] != 0:
        raise SystemExit(f"bmqtool failed:\n{result['stderr'][-3000:]}")
    return float(result["wall"])


def _bmqtool_rates(broker: str, args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    tool = find_broker_executable().parent / "bmqtool.tsk"
    if not tool.exists():
        raise SystemExit(f"{tool} not found")
    grace = 1
    # Start-up, connection and the shutdown grace cost the same for any
    # count: measured with one message and subtracted.
    queue = f"bmq://{DOMAIN}/tool-overhead"
    overhead = _bmqtool(tool, broker, queue, "write,ack", 1, args.size, grace)
    queue = f"bmq://{DOMAIN}/tool"
    produce_wall = _bmqtool(tool, broker, queue, "write,ack", args.count, args.size, grace)
    # Not yet measured: bmqtool drains a pre-filled queue in well under its
    # start-up and shutdown-grace time, so subtracting wall clocks gives noise.
    # Its consume rate has to come from its own statistics (a TODO).
    return {
        "produce": {"msgs_per_s": args.count / max(produce_wall - overhead, 1e-6)},
        "latency": _bmqtool_latency(tool, broker, args),
    }


def _bmqtool_latency(tool: Path, broker: str, args: argparse.Namespace) -> Dict[str, Any]:
    """bmqtool's own end-to-end latency report, posting ``args.rate``
    messages/s (in 1 ms intervals) to a queue it also reads and confirms."""
    report = HERE.parent / "build" / f"bmqtool-latency-{os.getpid()}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    per_ms = max(1, round(args.rate / 1000.0))
    command = [
        str(tool), "--mode", "auto", "-b", broker, "-q", f"bmq://{DOMAIN}/tool-latency",
        "-f", "read,write", "--confirmmsg", "--eventscount", str(args.latency_count),
        "-m", str(args.size), "-e", "1", "-r", str(per_ms), "-i", "1",
        "-l", "hires", "--latency-report", str(report), "--shutdownGrace", "1", "-v", "warning",
    ]
    result = _run(command, timeout=900)
    if result["status"] != 0:
        raise SystemExit(f"bmqtool latency run failed:\n{result['stderr'][-3000:]}")
    data = json.loads(report.read_text())
    report.unlink()
    return {"rate": per_ms * 1000, "p50_us": data["median"] / 1000.0, "p99_us": data["99percentile"] / 1000.0}


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200_000, help="messages per throughput run")
    parser.add_argument("--size", type=int, default=1024, help="payload bytes")
    parser.add_argument("--rate", type=float, default=5000.0, help="messages/s of the latency run")
    parser.add_argument("--latency-count", type=int, default=25_000, help="messages of the latency run")
    parser.add_argument("--no-official", action="store_true", help="skip the wheel from PyPI")
    parser.add_argument("--no-bmqtool", action="store_true", help="skip the C++ bmqtool")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument("--output", type=Path, default=HERE / "results", help="folder for the JSON report")
    args = parser.parse_args()
    if args.quick:
        args.count, args.latency_count = 5_000, 1_000

    implementations = {"ours": Path(sys.executable)}
    if not args.no_official:
        implementations["official"] = _official_python()

    results: Dict[str, Dict[str, Any]] = {}
    with start_broker() as broker:
        for name, python in implementations.items():
            queue = f"bmq://{DOMAIN}/{name}-{os.getpid()}"
            print(f"[{name}] produce {args.count} x {args.size} B with ACKs ...", flush=True)
            produced = _python_workload(python, "produce", broker.uri, queue, args)
            print(f"[{name}] consume {args.count} with confirm ...", flush=True)
            consumed = _python_workload(python, "consume", broker.uri, queue, args)
            print(f"[{name}] latency at {args.rate:.0f} msgs/s ...", flush=True)
            latency = _python_workload(python, "latency", broker.uri, queue + "-latency", args)
            results[name] = {"produce": produced, "consume": consumed, "latency": latency}
        if not args.no_bmqtool:
            print("[bmqtool] produce and consume ...", flush=True)
            results["bmqtool"] = _bmqtool_rates(broker.uri, args)

    rows = [
        ("produce msgs/s (ACKs)", "produce", "msgs_per_s"),
        ("consume msgs/s (confirm)", "consume", "msgs_per_s"),
        ("latency p50 us", "latency", "p50_us"),
        ("latency p99 us", "latency", "p99_us"),
        ("peak RSS MB (produce)", "produce", "peak_rss_mb"),
    ]
    names = list(results)
    print()
    print(f"{'':28}" + "".join(f"{n:>12}" for n in names) + f"{'ours/C++':>10}{'ours/off.':>10}")
    for label, workload, key in rows:
        values = {n: results[n].get(workload, {}).get(key) for n in names}
        cells = "".join(f"{values[n]:>12.0f}" if values[n] is not None else f"{'-':>12}" for n in names)
        print(f"{label:28}{cells}{_ratio(values.get('ours'), values.get('bmqtool')):>10}"
              f"{_ratio(values.get('ours'), values.get('official')):>10}")
    args.output.mkdir(parents=True, exist_ok=True)
    report = args.output / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report.write_text(json.dumps({"count": args.count, "size": args.size, "results": results}, indent=2))
    print(f"\nreport: {report}")


if __name__ == "__main__":
    main()
