"""Leaks: long produce/consume runs keep Python objects and RSS flat, and
creating and stopping many sessions leaves no thread or file descriptor
behind.  Each runs in a child interpreter, so that its memory figures are
its own; the figures are printed (``-s``).

CI sizes are small; ``BLAZINGMQ_SLOW_TESTS=1`` runs the full sizes
(200,000 messages; see DEVELOPERS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SLOW = os.environ.get("BLAZINGMQ_SLOW_TESTS") == "1"
slow = pytest.mark.skipif(not SLOW, reason="slow: set BLAZINGMQ_SLOW_TESTS=1 to run")

PRODUCE_CONSUME = 'import gc, json, os, sys, threading, time, tracemalloc\nimport blazingmq\n\ndef rss_kib():\n    with open("/proc/self/status") as f:\n        for line in f:\n            if line.startswith("VmRSS:"):\n                return int(line.split()[1])\n\nbroker, total, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\nuri = "bmq://bmq.test.mem.priority/leak_%d" % os.getpid()\nreceived = 0\nacked = 0\ncond = threading.Condition()\n\ndef on_message(message, handle):\n    global received\n    handle.confirm()\n    with cond:\n        received += 1\n        cond.notify_all()\n\ndef on_ack(ack):\n    global acked\n    if ack.status is not blazingmq.AckStatus.SUCCESS:\n        raise SystemExit("ack failed: %r" % ack)\n    with cond:\n        acked += 1\n        cond.notify_all()\n\ndef run(count, start):\n    for number in range(start, start + count):\n        session.post(uri, b"m%08d" % number, properties={"n": number, "s": "x"}, on_ack=on_ack)\n        if number % 1000 == 999:\n            with cond:  # keep at most a few thousand in flight\n                cond.wait_for(lambda: received >= number - 3000, 60)\n    with cond:\n        assert cond.wait_for(lambda: received >= start + count and acked >= start + count, 120), (received, acked)\n\nsession = blazingmq.Session(lambda e: None, on_message=on_message, broker=broker)\nsession.open_queue(uri, read=True, write=True)\nrun(warmup, 0)\ngc.collect()\ntracemalloc.start()\nrss0, objects0 = rss_kib(), len(gc.get_objects())\nsnapshot0 = tracemalloc.take_snapshot()\nt = time.monotonic()\nrun(total, warmup)\nelapsed = time.monotonic() - t\ngc.collect()\nrss1, objects1 = rss_kib(), len(gc.get_objects())\nsnapshot1 = tracemalloc.take_snapshot()\ntraced_growth = sum(stat.size_diff for stat in snapshot1.compare_to(snapshot0, "filename"))\ntop = [str(stat) for stat in snapshot1.compare_to(snapshot0, "lineno")[:5]]\nsession.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))\nsession.close_queue(uri)\nsession.stop()\nprint(json.dumps({"messages": total, "received": received - warmup, "acked": acked - warmup,\n                  "rss_before_kib": rss0, "rss_after_kib": rss1, "rss_growth_kib": rss1 - rss0,\n                  "gc_objects_before": objects0, "gc_objects_after": objects1,\n                  "traced_growth_bytes": traced_growth, "seconds": round(elapsed, 1), "top": top}))\n'

SESSIONS = 'import gc, json, os, sys, threading, time\nimport blazingmq\n\ndef fds(): return len(os.listdir("/proc/self/fd"))\ndef tasks(): return len(os.listdir("/proc/self/task"))\n\nbroker, count = sys.argv[1], int(sys.argv[2])\nuri = "bmq://bmq.test.mem.priority/churn_%d" % os.getpid()\n\ndef one(number):\n    with blazingmq.Session(lambda e: None, on_message=lambda m, h: h.confirm(), broker=broker) as session:\n        if number % 10:\n            return  # connect and stop only; every tenth also uses a queue\n        session.open_queue(uri, read=True, write=True)\n        session.post(uri, b"%d" % number)\n        session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))\n        session.close_queue(uri)\n\nfor number in range(5):\n    one(number)\ngc.collect()\ntime.sleep(0.2)  # measured as after: threads that are exiting are gone\nbefore = (fds(), tasks(), threading.active_count())\nt = time.monotonic()\nfor number in range(count):\n    one(number)\nelapsed = time.monotonic() - t\ngc.collect()\ntime.sleep(0.2)\nafter = (fds(), tasks(), threading.active_count())\nprint(json.dumps({"sessions": count, "fds": [before[0], after[0]], "os_threads": [before[1], after[1]],\n                  "python_threads": [before[2], after[2]], "seconds": round(elapsed, 1)}))\n'


def run_child(script: str, *args: str, timeout: float) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-5000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\nfigures: {figures}")
    return figures


def check_produce_consume(broker_uri: str, messages: int, warmup: int) -> None:
    figures = run_child(PRODUCE_CONSUME, broker_uri, str(messages), str(warmup), timeout=900)
    assert figures["received"] == messages and figures["acked"] == messages
    assert figures["rss_growth_kib"] < 50 * 1024
    # Nothing per message stays behind: a few objects of bookkeeping at most.
    assert figures["gc_objects_after"] - figures["gc_objects_before"] < 500
    assert figures["traced_growth_bytes"] < 1024 * 1024, figures["top"]


def test_produce_consume_keeps_memory_flat(bmq_broker_uri):
    check_produce_consume(bmq_broker_uri, messages=20_000, warmup=5_000)


@slow
def test_produce_consume_200k_keeps_memory_flat(bmq_broker_uri):
    check_produce_consume(bmq_broker_uri, messages=200_000, warmup=20_000)


def test_a_thousand_sessions_leak_no_thread_or_descriptor(bmq_broker_uri):
    figures = run_child(SESSIONS, bmq_broker_uri, "1000", timeout=600)
    assert figures["fds"][1] == figures["fds"][0]
    assert figures["os_threads"][1] == figures["os_threads"][0]
    assert figures["python_threads"][1] == figures["python_threads"][0]
