"""Where a message's end-to-end latency goes, stage by stage (this package
only): one session posts at a fixed rate to a queue it also consumes, and
each message's timestamps are lined up.

    python -m benchmarks.latency_stages [--broker URI] [--rate 5000] [--count 25000] [--aio]

Without ``--broker`` a test broker is started.  Posting follows bmqtool's
``-r N -i 1`` pattern (a burst of rate/1000 posts each millisecond, each post
timestamped just before the call), as the latency rows of
``python -m benchmarks`` do.  The stages of one message, on one clock
(CLOCK_MONOTONIC, ``time.perf_counter_ns``):

- ``post call``: the time ``Session.post`` takes (overlaps the next stage);
- ``post -> libbmq thread``: post, libbmq's I/O, the broker, libbmq's I/O and
  event threads, until libbmq's event thread hands the event to the session;
- ``-> delivering thread awake``: the hand-over to the thread that delivers
  it (zero when libbmq's thread delivers it itself);
- ``-> GIL held``: that thread waiting for the GIL;
- ``-> callback``: building the message objects until ``on_message`` runs;
- with ``--aio``, ``-> event loop awake``: from the callback (which queues the
  message for the loop) until the loop's thread runs the session's wake-up;
  ``-> coroutine``: from there until the ``async for`` has the message.

The session's private ``delivery_*_ns`` timestamps (three C stores per
event) are what makes this possible; the percentiles of each stage are
computed separately, so they do not add up to the total's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

import blazingmq

from .workload import Pacer

STAGES = ["post call", "post -> libbmq thread", "-> delivering thread awake", "-> GIL held", "-> callback"]
AIO_STAGES = STAGES + ["-> event loop awake", "-> coroutine"]


def percentiles(values: Sequence[int]) -> Dict[str, float]:
    """p50/p90/p99/p99.9 of nanosecond ``values``, in microseconds."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))] / 1000.0

    return {"p50": at(50), "p90": at(90), "p99": at(99), "p99.9": at(99.9)}


def _handle_of(session: Any) -> Any:
    return session._handle  # the private timestamps: this package only


def run_sync(broker: str, queue: str, count: int, rate: float, size: int) -> List[List[int]]:
    padding = b"x" * max(0, size - 16)
    rows: List[List[int]] = []
    done = threading.Event()
    holder: Dict[str, Any] = {}

    def on_message(message: Any, handle: Any) -> None:
        now = time.perf_counter_ns()
        sent, call = struct.unpack_from("=qq", message.data)
        h = holder["handle"]
        rows.append([call, sent, h.delivery_queued_ns, h.delivery_woken_ns, h.delivery_gil_ns, now])
        handle.confirm()
        if len(rows) == count:
            done.set()

    with blazingmq.Session(lambda event: None, on_message=on_message, broker=broker) as session:
        holder["handle"] = _handle_of(session)
        session.open_queue(queue, read=True, write=True)
        previous_call = 0
        pacer = Pacer(count, rate)
        while (tick := pacer.next_burst()) is not None:
            delay, burst = tick
            if delay > 0:
                time.sleep(delay)
            for _ in range(burst):
                sent = time.perf_counter_ns()
                session.post(queue, struct.pack("=qq", sent, previous_call) + padding)
                previous_call = time.perf_counter_ns() - sent
        if not done.wait(60):
            raise SystemExit(f"only {len(rows)} of {count} messages arrived")
        session.configure_queue(queue, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(queue)
    return rows


def run_aio(broker: str, queue: str, count: int, rate: float, size: int) -> List[List[int]]:
    import blazingmq.aio

    padding = b"x" * max(0, size - 16)
    stamps: Dict[bytes, List[int]] = {}
    woken = [0]

    class StagedSession(blazingmq.aio.Session):
        """Notes each message's delivery timestamps in the session's
        callback (on the delivering thread, before the event loop is
        woken)."""

        def _message_arrived(self, message: Any, handle: Any) -> None:
            h = _handle_of(self._session)
            stamps[message.guid] = [h.delivery_queued_ns, h.delivery_woken_ns, h.delivery_gil_ns,
                                    time.perf_counter_ns()]
            super()._message_arrived(message, handle)

        def _wakeup(self) -> None:
            # On the loop's thread, woken by the callback's batch end.
            woken[0] = time.perf_counter_ns()
            super()._wakeup()

    async def main() -> List[List[int]]:
        rows: List[List[int]] = []
        async with StagedSession(broker=broker) as session:
            await session.open_queue(queue, read=True, write=True)

            async def consume() -> None:
                async for message in session.messages(queue):
                    now = time.perf_counter_ns()
                    sent, call = struct.unpack_from("=qq", message.data)
                    rows.append([call, sent, *stamps.pop(message.guid), woken[0], now])
                    message.confirm()
                    if len(rows) == count:
                        return

            consumer = asyncio.create_task(consume())
            previous_call = 0
            pacer = Pacer(count, rate)
            while (tick := pacer.next_burst()) is not None:
                delay, burst = tick
                await asyncio.sleep(max(0.0, delay))
                for _ in range(burst):
                    sent = time.perf_counter_ns()
                    session.post_nowait(queue, struct.pack("=qq", sent, previous_call) + padding)
                    previous_call = time.perf_counter_ns() - sent
            await asyncio.wait_for(consumer, 60)
            await session.configure_queue(queue, blazingmq.QueueOptions(0, 0, 0))
            await session.close_queue(queue)
        return rows

    return asyncio.run(main())


def breakdown(rows: List[List[int]], aio: bool) -> Dict[str, Dict[str, float]]:
    """Per-stage and end-to-end percentiles (microseconds) of the rows."""
    columns: Dict[str, List[int]] = {name: [] for name in (AIO_STAGES if aio else STAGES)}
    total: List[int] = []
    for row in rows:
        call, sent, queued, woken, gil, callback = row[:6]
        if call:
            columns["post call"].append(call)
        columns["post -> libbmq thread"].append(queued - sent)
        columns["-> delivering thread awake"].append(max(0, woken - queued))
        columns["-> GIL held"].append(gil - max(woken, queued))
        columns["-> callback"].append(callback - gil)
        if aio:
            columns["-> event loop awake"].append(row[6] - callback)
            columns["-> coroutine"].append(row[7] - row[6])
        total.append(row[-1] - sent)
    result = {name: percentiles(values) for name, values in columns.items()}
    result["end to end"] = percentiles(total)
    return result


def format_breakdown(result: Dict[str, Dict[str, float]]) -> str:
    lines = [f"{'stage':<30}{'p50':>10}{'p90':>10}{'p99':>10}{'p99.9':>10}  (µs)"]
    for name, values in result.items():
        lines.append(f"{name:<30}" + "".join(f"{values.get(p, float('nan')):>10.1f}"
                                             for p in ("p50", "p90", "p99", "p99.9")))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency_stages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", help="broker URI (default: start a test broker)")
    parser.add_argument("--queue", default=f"bmq://bmq.test.mem.priority/latency-stages-{time.time_ns()}")
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--count", type=int, default=25_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--aio", action="store_true", help="blazingmq.aio: post, and consume with async for")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    run = run_aio if args.aio else run_sync
    if args.broker:
        rows = run(args.broker, args.queue, args.count, args.rate, args.size)
    else:
        from blazingmq.testing import start_broker

        with start_broker() as broker:
            rows = run(broker.uri, args.queue, args.count, args.rate, args.size)
    result = breakdown(rows, args.aio)
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        print(format_breakdown(result))


if __name__ == "__main__":
    main()
