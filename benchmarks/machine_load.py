"""The CPU used during a benchmark step by the broker, and by processes that
are not part of the benchmark at all (on a shared machine, the main source
of noise: a producer that needs both cores of a 2-core machine for 2 s
takes as much longer as other processes take CPU from it)."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Dict, Sequence

_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every process of the machine has used since boot (all
    cores), from the first line of /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _own_seconds() -> float:
    """CPU of this process and of the children it has waited for (the
    workloads and bmqtool runs of the steps)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class StepCpu:
    """Started before a step, :meth:`finish` after it: the broker's CPU
    seconds, the CPU seconds of every other process of the machine (neither
    the broker nor the runner and the processes it ran), and the step's
    wall time."""

    def __init__(self, broker_pids: Sequence[int]) -> None:
        self._pids = list(broker_pids)
        self._start = self._sample()

    def _sample(self) -> Dict[str, float]:
        brokers = 0.0
        for pid in self._pids:
            try:
                brokers += process_cpu_seconds(pid)
            except OSError:  # (a failover step restarts one)
                pass
        return {"machine": machine_busy_seconds(), "brokers": brokers, "own": _own_seconds(),
                "wall": time.perf_counter()}

    def finish(self) -> Dict[str, float]:
        end = self._sample()
        delta = {key: end[key] - self._start[key] for key in end}
        return {
            "broker_cpu_s": delta["brokers"],
            "other_cpu_s": max(0.0, delta["machine"] - delta["brokers"] - delta["own"]),
            "step_wall_s": delta["wall"],
        }


def wait_for_quiet_machine(broker_pids: Sequence[int], limit: float = 3.0, share: float = 0.25) -> float:
    """Wait (up to ``limit`` seconds) until the processes outside the
    benchmark (neither the brokers nor this runner) have used less than
    ``share`` of a CPU for two 0.25 s windows in a row; return the share
    they used in the last window.  On a shared machine this keeps a run
    from starting in the middle of someone else's burst; it cannot keep
    one from arriving during the run (:class:`StepCpu` records that)."""
    deadline = time.monotonic() + limit
    quiet = 0
    used = 0.0
    while quiet < 2 and time.monotonic() < deadline:
        cpu = StepCpu(broker_pids)
        time.sleep(0.25)
        sample = cpu.finish()
        used = sample["other_cpu_s"] / sample["step_wall_s"]
        quiet = quiet + 1 if used < share else 0
    return used
