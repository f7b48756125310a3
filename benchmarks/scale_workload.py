"""The workloads of the scale curves (``benchmarks/scale.py``), each run in
its own process against this package:

    python benchmarks/scale_workload.py queues --broker URI --queue PREFIX --queues N --count M
    python benchmarks/scale_workload.py queues-aio --broker URI --queue PREFIX --queues N
    python benchmarks/scale_workload.py sessions --broker URI --queue PREFIX --sessions K --count M
    python benchmarks/scale_workload.py produce|consume --broker URI --queue URI [--properties P] ...

Prints one JSON object on stdout (the last line).  Like ``workload.py``,
every message reaches user code as one object and every ACK asked for is
delivered to ``on_ack``.  Memory is the resident set size read from /proc
(not the peak), threads the entries of ``/proc/self/task``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
from typing import Any, Dict, List

import blazingmq


def _rss_kib() -> float:
    """The resident set size now, in KiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024.0


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _thread_names() -> Dict[str, int]:
    """How many threads of this process carry each name (``comm``)."""
    names: Dict[str, int] = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                name = comm.read().strip()
        except OSError:  # ended meanwhile
            continue
        names[name] = names.get(name, 0) + 1
    return names


class _CpuMeter:
    """CPU seconds (user and system) and context switches of this process
    over a run: on a shared machine they move less than the wall clock, and
    context switches show work done per message that could be done per
    batch (a thread woken for each)."""

    def __init__(self) -> None:
        self._start = resource.getrusage(resource.RUSAGE_SELF)

    def report(self, messages: int) -> Dict[str, float]:
        end = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (end.ru_utime - self._start.ru_utime) + (end.ru_stime - self._start.ru_stime)
        switches = (end.ru_nvcsw - self._start.ru_nvcsw) + (end.ru_nivcsw - self._start.ru_nivcsw)
        return {"cpu_us_per_msg": cpu * 1e6 / max(messages, 1),
                "context_switches_per_msg": switches / max(messages, 1)}


class _Counter:
    """Counts calls (ACKs or messages) until ``expected`` have come; remembers
    the time of the first and the last."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.failed = 0
        self.first = 0.0
        self.last = 0.0
        self.done = threading.Event()
        self._lock = threading.Lock()
        if expected == 0:
            self.done.set()

    def add(self, ok: bool = True) -> None:
        with self._lock:
            now = time.time()
            if not self.count:
                self.first = now
            self.last = now
            self.count += 1
            self.failed += not ok
            if self.count == self.expected:
                self.done.set()

    def on_ack(self, ack: Any) -> None:
        self.add(ack.status == blazingmq.AckStatus.SUCCESS)

    def wait(self, timeout: float, what: str) -> None:
        if not self.done.wait(timeout):
            raise SystemExit(f"only {self.count} of {self.expected} {what} arrived")


_READER = blazingmq.QueueOptions(max_unconfirmed_messages=100_000, max_unconfirmed_bytes=1 << 30)


def _properties(count: int) -> Dict[str, Any]:
    """``count`` properties, half strings and half 32-bit integers (the two
    types bmqtool's ``--messageProperties`` can post)."""
    return {f"p{i}": (f"value-{i}" if i % 2 == 0 else i * 1000) for i in range(count)}


def _int32_overrides(properties: Dict[str, Any]) -> Dict[str, blazingmq.PropertyType]:
    return {name: blazingmq.PropertyType.INT32 for name, value in properties.items() if isinstance(value, int)}


def queues(args: argparse.Namespace) -> Dict[str, Any]:
    """One producer session opens ``queues`` queues (one ``open_queue`` after
    another; the resident memory before and after gives the cost per queue),
    a consumer session opens them for reading, then ``count`` messages are
    posted round-robin over the queues with ACKs while the consumer confirms
    them."""
    uris = [f"{args.queue}-{i}" for i in range(args.queues)]
    payload = b"q" * args.size
    acks = _Counter(args.count)
    received = _Counter(args.count)

    def on_message(message: Any, handle: Any) -> None:
        handle.confirm()
        received.add()

    with blazingmq.Session(lambda event: None, broker=args.broker) as producer, \
            blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as consumer:
        rss_before = _rss_kib()
        start = time.perf_counter()
        for uri in uris:
            producer.open_queue(uri, write=True)
        opened = time.perf_counter()
        rss_after = _rss_kib()
        for uri in uris:
            consumer.open_queue(uri, read=True, options=_READER)
        readers_opened = time.perf_counter()
        threads = _threads()
        post_start = time.time()
        begin = time.perf_counter()
        cpu = _CpuMeter()
        for number in range(args.count):
            producer.post(uris[number % args.queues], payload, on_ack=acks.on_ack)
        acks.wait(args.timeout, "ACKs")
        acked = time.perf_counter()
        received.wait(args.timeout, "messages")
        usage = cpu.report(args.count)  # producer and consumer together
        for uri in uris:
            consumer.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
            consumer.close_queue(uri)
        close_start = time.perf_counter()
        for uri in uris:
            producer.close_queue(uri)
        closed = time.perf_counter()
    return {
        "queues": args.queues,
        "messages": args.count,
        "acked": acks.count,
        "failed": acks.failed,
        "received": received.count,
        "open_s": opened - start,
        "open_read_s": readers_opened - opened,
        "close_s": closed - close_start,
        "rss_per_queue_kib": (rss_after - rss_before) / args.queues,
        "threads": threads,
        "produce_msgs_per_s": args.count / (acked - begin),
        **usage,
        # From the first post to the last message confirmed: the consumer
        # runs while the producer posts.
        "consume_msgs_per_s": args.count / (received.last - post_start),
    }


def queues_aio(args: argparse.Namespace) -> Dict[str, Any]:
    """``blazingmq.aio``: ``queues`` queues opened at once (``asyncio.gather``)
    and closed the same way."""
    import blazingmq.aio

    uris = [f"{args.queue}-{i}" for i in range(args.queues)]

    async def main() -> Dict[str, Any]:
        async with blazingmq.aio.Session(broker=args.broker) as session:
            rss_before = _rss_kib()
            start = time.perf_counter()
            await asyncio.gather(*(session.open_queue(uri, write=True) for uri in uris))
            opened = time.perf_counter()
            rss_after = _rss_kib()
            await asyncio.gather(*(session.close_queue(uri) for uri in uris))
            closed = time.perf_counter()
        return {
            "queues": args.queues,
            "open_s": opened - start,
            "close_s": closed - opened,
            "rss_per_queue_kib": (rss_after - rss_before) / args.queues,
        }

    return dict(asyncio.run(asyncio.wait_for(main(), args.timeout)))


def sessions(args: argparse.Namespace) -> Dict[str, Any]:
    """``sessions`` sessions in this process, each with its own queue; the
    ``count`` messages are posted round-robin over them (each session posts
    its share to its queue) with ACKs."""
    payload = b"s" * args.size
    acks = _Counter(args.count)
    threads_before = _threads()
    rss_before = _rss_kib()
    started: List[blazingmq.Session] = []
    try:
        start = time.perf_counter()
        for _ in range(args.sessions):
            started.append(blazingmq.Session(lambda event: None, broker=args.broker))
        ready = time.perf_counter()
        threads = _threads()
        names = _thread_names()
        rss_after = _rss_kib()
        uris = [f"{args.queue}-{i}" for i in range(args.sessions)]
        for session, uri in zip(started, uris):
            session.open_queue(uri, write=True)
        begin = time.perf_counter()
        cpu = _CpuMeter()
        for number in range(args.count):
            index = number % args.sessions
            started[index].post(uris[index], payload, on_ack=acks.on_ack)
        acks.wait(args.timeout, "ACKs")
        end = time.perf_counter()
        usage = cpu.report(args.count)
        for session, uri in zip(started, uris):
            session.close_queue(uri)
    finally:
        stop_start = time.perf_counter()
        for session in started:
            session.stop()
        stopped = time.perf_counter()
    return {
        "sessions": args.sessions,
        "messages": args.count,
        "acked": acks.count,
        "failed": acks.failed,
        "start_s": ready - start,
        "stop_s": stopped - stop_start,
        "threads": threads,
        "threads_per_session": (threads - threads_before) / args.sessions,
        "thread_names": names,
        "rss_mb": rss_after / 1024.0,
        "rss_per_session_mb": (rss_after - rss_before) / 1024.0 / args.sessions,
        "msgs_per_s": args.count / (end - begin),
        **usage,
    }


def produce(args: argparse.Namespace) -> Dict[str, Any]:
    """``count`` messages of ``size`` bytes, each with ``properties``
    properties, with ACKs; ``opened_at`` (seconds since the epoch) lets the
    runner time consumers in other processes from the same start."""
    payload = b"p" * args.size
    properties = _properties(args.properties)
    overrides = _int32_overrides(properties)
    acks = _Counter(args.count)
    with blazingmq.Session(lambda event: None, broker=args.broker) as session:
        session.open_queue(args.queue, write=True)
        opened_at = time.time()
        start = time.perf_counter()
        if properties:
            for _ in range(args.count):
                session.post(args.queue, payload, properties=properties, property_type_overrides=overrides,
                             on_ack=acks.on_ack)
        else:
            for _ in range(args.count):
                session.post(args.queue, payload, on_ack=acks.on_ack)
        acks.wait(args.timeout, "ACKs")
        end = time.perf_counter()
        session.close_queue(args.queue)
    return {
        "messages": args.count,
        "acked": acks.count,
        "failed": acks.failed,
        "properties": args.properties,
        "opened_at": opened_at,
        "seconds": end - start,
        "msgs_per_s": args.count / (end - start),
    }


def consume(args: argparse.Namespace) -> Dict[str, Any]:
    """Confirm ``count`` messages, reading each one's properties (and
    checking their number); prints ``ready`` on stderr once the queue is
    open, for a runner that starts the producer after its consumers."""
    received = _Counter(args.count)
    wrong: List[int] = []

    def on_message(message: Any, handle: Any) -> None:
        if len(message.properties) != args.properties:
            wrong.append(len(message.properties))
        handle.confirm()
        received.add()

    with blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as session:
        session.open_queue(args.queue, read=True, options=_READER)
        print("ready", file=sys.stderr, flush=True)
        received.wait(args.timeout, "messages")
        session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(args.queue)
    if wrong:
        raise SystemExit(f"{len(wrong)} messages had {wrong[0]} properties, not {args.properties}")
    return {
        "messages": received.count,
        "properties": args.properties,
        "first_at": received.first,
        "last_at": received.last,
        "msgs_per_s": (received.count - 1) / (received.last - received.first) if received.count > 1 else 0.0,
        "basis": "first message to last",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["queues", "queues-aio", "sessions", "produce", "consume"])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--queue", required=True, help="a queue URI (queues, sessions: the prefix of theirs)")
    parser.add_argument("--queues", type=int, default=1, help="queues: how many the session opens")
    parser.add_argument("--sessions", type=int, default=1, help="sessions: how many the process starts")
    parser.add_argument("--count", type=int, default=10_000, help="messages")
    parser.add_argument("--size", type=int, default=1024, help="payload bytes")
    parser.add_argument("--properties", type=int, default=0, help="produce, consume: properties per message")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    workloads = {"queues": queues, "queues-aio": queues_aio, "sessions": sessions, "produce": produce,
                 "consume": consume}
    result = workloads[args.workload](args)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
