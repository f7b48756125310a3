"""One benchmark workload, run in its own process against any implementation of
the ``blazingmq`` API (ours, or the existing SDK from PyPI in another venv).

    python benchmarks/workload.py produce|consume|latency|failover --broker URI --queue URI [...]
    python benchmarks/workload.py aio-produce|aio-consume|aio-latency ...   (``blazingmq.aio``, this package only)

Prints one JSON object on stdout.  Every message reaches user Python code as
one object, and every ACK asked for is delivered to ``on_ack``: that is what
makes a run count.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import queue
import resource
import signal
import struct
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import blazingmq


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    """The resident set size now (not the peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def _progress(done: int, total: int) -> None:
    """A line on stderr every tenth of the run, for the runner's display."""
    if total >= 10 and done % (total // 10) == 0:
        print(f"progress {done}/{total}", file=sys.stderr, flush=True)


class _CpuMeter:
    """CPU seconds and context switches of this process over a run: on a
    shared machine, CPU per message moves less than the wall clock."""

    def __init__(self) -> None:
        self._start = resource.getrusage(resource.RUSAGE_SELF)

    def report(self, messages: int) -> Dict[str, float]:
        end = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (end.ru_utime - self._start.ru_utime) + (end.ru_stime - self._start.ru_stime)
        return {
            "cpu_us_per_msg": cpu * 1e6 / max(messages, 1),
            "context_switches": (end.ru_nvcsw - self._start.ru_nvcsw) + (end.ru_nivcsw - self._start.ru_nivcsw),
        }


class _AckCounter:
    """The ``on_ack`` of a producer: counts ACKs (and failures) until all
    ``expected`` have come."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.acked = 0
        self.failed = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, ack: Any) -> None:
        with self._lock:
            self.acked += 1
            if ack.status != blazingmq.AckStatus.SUCCESS:
                self.failed += 1
            if self.acked == self.expected:
                self.done.set()

    def wait(self, timeout: float) -> None:
        if not self.done.wait(timeout):
            raise SystemExit(f"only {self.acked} of {self.expected} ACKs arrived")


def produce(args: argparse.Namespace) -> Dict[str, Any]:
    payload = b"x" * args.size
    acks = _AckCounter(args.count)

    with blazingmq.Session(lambda event: None, broker=args.broker) as session:
        session.open_queue(args.queue, write=True)
        cpu = _CpuMeter()
        start = time.perf_counter()
        if args.batch > 1:
            # post_many (this package only): `batch` messages per call.
            batch = [payload] * args.batch
            sent = 0
            while sent < args.count:
                chunk = batch if args.count - sent >= args.batch else batch[: args.count - sent]
                session.post_many(args.queue, chunk, on_ack=acks)
                sent += len(chunk)
        else:
            for _ in range(args.count):
                session.post(args.queue, payload, on_ack=acks)
        posted = time.perf_counter()
        acks.wait(args.timeout)
        end = time.perf_counter()
        usage = cpu.report(args.count)
        session.close_queue(args.queue)
    return {
        **usage,
        "messages": args.count,
        "acked": acks.acked,
        "failed": acks.failed,
        "seconds": end - start,
        "msgs_per_s": args.count / (end - start),
        "post_loop_msgs_per_s": args.count / (posted - start),
        "peak_rss_mb": _peak_rss_mb(),
    }


def consume(args: argparse.Namespace) -> Dict[str, Any]:
    """Receive ``count`` messages (each one ``Message`` object in
    ``on_message``) and confirm each: in ``on_message`` (the session sends
    the confirms of a batch of callbacks together), or with
    ``--confirm-batch N`` (this package only) from the main thread with
    ``session.confirm_many``, N messages at a time, as a program that
    processes messages on its own thread would."""
    received = 0
    done = threading.Event()
    first: List[float] = []
    batch_size = args.confirm_batch
    batches: "queue.SimpleQueue[List[Any]]" = queue.SimpleQueue()
    pending: List[Any] = []

    def on_message(message: Any, handle: Any) -> None:
        nonlocal received, pending
        if not first:
            first.append(time.perf_counter())
        received += 1
        if batch_size:
            pending.append(message)
            if len(pending) == batch_size or received == args.count:
                batches.put(pending)
                pending = []
        else:
            handle.confirm()
        if received == args.count:
            done.set()

    options = blazingmq.QueueOptions(max_unconfirmed_messages=100_000, max_unconfirmed_bytes=1 << 30)
    with blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as session:
        cpu = _CpuMeter()
        start = time.perf_counter()
        session.open_queue(args.queue, read=True, options=options)
        if batch_size:
            confirmed = 0
            give_up = time.perf_counter() + args.timeout
            while confirmed < args.count:
                try:
                    batch = batches.get(timeout=max(0.0, give_up - time.perf_counter()))
                except queue.Empty:
                    raise SystemExit(f"only {received} of {args.count} messages arrived") from None
                session.confirm_many(batch)
                confirmed += len(batch)
        elif not done.wait(args.timeout):
            raise SystemExit(f"only {received} of {args.count} messages arrived")
        end = time.perf_counter()
        usage = cpu.report(received)
        session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(args.queue)
    # The rate from the first message to the last (with confirm_many: to
    # the last confirm_many call), like bmqtool's (the mean of its
    # statistics windows strictly inside the run, so without the queue's
    # open and the broker's first delivery); the rate from calling
    # `open_queue` is kept too.
    return {
        **usage,
        "messages": received,
        "confirm_batch": batch_size,
        "seconds": end - first[0],
        "msgs_per_s": (received - 1) / (end - first[0]) if received > 1 else 0.0,
        "basis": "first message to last",
        "open_to_last_msgs_per_s": received / (end - start),
        "peak_rss_mb": _peak_rss_mb(),
    }


def drain(args: argparse.Namespace) -> Dict[str, Any]:
    """Confirm whatever the queue holds, until nothing has come for a second
    (not a measurement: the runner empties the queues nobody consumes, so
    that the broker's memory stays flat over a long run)."""
    received = 0
    last = time.perf_counter()

    def on_message(message: Any, handle: Any) -> None:
        nonlocal received, last
        handle.confirm()
        received += 1
        last = time.perf_counter()

    options = blazingmq.QueueOptions(max_unconfirmed_messages=100_000, max_unconfirmed_bytes=1 << 30)
    with blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as session:
        session.open_queue(args.queue, read=True, options=options)
        while time.perf_counter() - last < 1.0:
            time.sleep(0.1)
        session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(args.queue)
    return {"messages": received}


def _percentiles(latencies_ns: List[int]) -> Dict[str, float]:
    """p50/p90/p99/p99.9 in microseconds: the value at rank ``int(p/100 *
    n)`` of the sorted latencies (the rule ``benchmarks.latency_rates``
    applies to bmqtool's histogram too)."""
    ordered = sorted(latencies_ns)
    if not ordered:
        return {}

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))] / 1000.0

    return {"p50_us": at(50), "p90_us": at(90), "p99_us": at(99), "p99_9_us": at(99.9),
            "max_us": ordered[-1] / 1000.0}


def _rate_report(args: argparse.Namespace, posted: int, posting_s: float, ticks: int,
                 latencies_ns: List[int]) -> Dict[str, Any]:
    """What the latency workloads print.  The achieved post rate counts
    each 1 ms tick as a whole (``ticks`` of them at least), so that a run
    that kept to its schedule reports its target rate, and one that fell
    behind a lower one."""
    return {
        "messages": len(latencies_ns),
        "posted": posted,
        "rate": args.rate,
        "per_tick": _per_tick(args.rate),
        "achieved_rate": posted / max(posting_s, ticks * 0.001, 1e-9),
        "posting_s": posting_s,
        **_percentiles(latencies_ns),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _per_tick(rate: float) -> int:
    """Posts per 1 ms tick at ``rate`` msgs/s: bmqtool's ``-r`` with ``-i 1``."""
    return max(1, round(rate / 1000.0))


class Pacer:
    """bmqtool's ``-r rate/1000 -i 1`` pacing: a burst of ``rate / 1000``
    posts at the start of each 1 ms tick (a tick that starts late is not
    skipped: its burst follows at once), ``count`` posts in all, no new
    burst once ``max_seconds`` have gone by while behind.  The caller waits
    and posts; the pacer counts."""

    def __init__(self, count: int, rate: float, max_seconds: float = float("inf")) -> None:
        self.count = count
        self.per_tick = _per_tick(rate)
        self.posted = self.ticks = 0
        self.start = time.perf_counter()
        self.deadline = self.start + max_seconds

    def next_burst(self) -> Optional[Tuple[float, int]]:
        """(seconds to wait first, posts) of the next tick; None when done."""
        if self.posted >= self.count:
            return None
        delay = self.start + self.ticks * 0.001 - time.perf_counter()
        if delay <= 0 and time.perf_counter() > self.deadline:
            return None
        burst = min(self.per_tick, self.count - self.posted)
        self.posted += burst
        self.ticks += 1
        return delay, burst

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def latency(args: argparse.Namespace) -> Dict[str, Any]:
    """Post at ``rate`` msgs/s and time each message from just before its
    post to ``on_message`` (which confirms it) in the same process.

    Paced like bmqtool's ``-r rate/1000 -i 1``: a burst of ``rate / 1000``
    posts at the start of each 1 ms tick (a tick that starts late is not
    skipped: its burst follows at once, as with bmqtool's turnstile), the
    time taken just before each post.  Posting stops after
    ``--max-seconds`` (the run then reports fewer posts than asked, and a
    lower achieved rate)."""
    padding = b"x" * max(0, args.size - 8)
    latencies: List[int] = []
    done = threading.Event()
    expected = [args.count]

    def on_message(message: Any, handle: Any) -> None:
        (sent,) = struct.unpack_from("=q", message.data)
        latencies.append(time.perf_counter_ns() - sent)
        handle.confirm()
        if len(latencies) >= expected[0]:
            done.set()

    with blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as session:
        session.open_queue(args.queue, read=True, write=True)
        post = session.post
        uri = args.queue
        pack = struct.Struct("=q").pack
        clock = time.perf_counter_ns
        pacer = Pacer(args.count, args.rate, args.max_seconds)
        while (tick := pacer.next_burst()) is not None:
            delay, burst = tick
            if delay > 0:
                time.sleep(delay)
            for _ in range(burst):
                post(uri, pack(clock()) + padding)
        posting_s = pacer.elapsed()
        posted, ticks = pacer.posted, pacer.ticks
        expected[0] = posted
        if len(latencies) >= posted:
            done.set()
        if not done.wait(args.timeout):
            raise SystemExit(f"only {len(latencies)} of {posted} messages arrived")
        session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(args.queue)
    return _rate_report(args, posted, posting_s, ticks, latencies)


def soak(args: argparse.Namespace) -> Dict[str, Any]:
    """Produce and consume ``count`` messages through one queue in one
    process, and report how resident memory and the number of Python objects
    moved after warm-up.  Paced like bmqtool's soak in the runner (``-r 20
    -i 1``): ``soak_rate`` / 1000 posts every millisecond (sleeping between),
    and never more than ``window`` un-ACKed posts in flight."""
    payload = b"s" * args.size
    in_flight = threading.BoundedSemaphore(args.window)
    received = 0
    acked = 0
    failed = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_ack(ack: Any) -> None:
        nonlocal acked, failed
        if ack.status != blazingmq.AckStatus.SUCCESS:
            failed += 1
        acked += 1
        in_flight.release()

    def on_message(message: Any, handle: Any) -> None:
        nonlocal received
        handle.confirm()
        with lock:
            received += 1
            if received == args.count:
                done.set()

    warm_up = max(1, args.count // 10)
    samples: List[Dict[str, float]] = []
    with blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as session:
        # The default queue options (libbmq's: 1,024 unconfirmed messages),
        # as bmqtool's soak uses its default (1024 messages): every message
        # or ACK not yet handed to Python holds one of libbmq's pooled event
        # objects, and the pool keeps its high-water mark.
        session.open_queue(args.queue, read=True, write=True)
        start = time.perf_counter()
        per_tick = max(1, round(args.soak_rate / 1000.0))
        next_tick = start
        for number in range(1, args.count + 1):
            if number % per_tick == 0:
                next_tick += 0.001
                delay = next_tick - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            in_flight.acquire()
            session.post(args.queue, payload, on_ack=on_ack)
            if number % warm_up == 0:
                gc.collect()
                samples.append({"messages": number, "rss_mb": _rss_mb(), "objects": len(gc.get_objects())})
                _progress(number, args.count)
        if not done.wait(args.timeout):
            raise SystemExit(f"only {received} of {args.count} messages arrived")
        end = time.perf_counter()
        session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(args.queue)
    after_warm_up = samples[0]
    last = samples[-1]
    return {
        "messages": received,
        "acked": acked,
        "failed": failed,
        "msgs_per_s": received / (end - start),
        "rss_after_warm_up_mb": after_warm_up["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "rss_growth_mb": last["rss_mb"] - after_warm_up["rss_mb"],
        "python_objects_growth": last["objects"] - after_warm_up["objects"],
        "samples": samples,
        "peak_rss_mb": _peak_rss_mb(),
    }


def stall(args: argparse.Namespace) -> Dict[str, Any]:
    """Produce ``count`` messages with ACKs while the broker (``--broker-pid``)
    is paused with SIGSTOP for ``--pause`` seconds a quarter of the way in:
    with a generous ``channel_write_timeout``, posts wait and every message
    is acknowledged."""
    payload = b"t" * args.size
    acks = _AckCounter(args.count)

    def pause_broker() -> None:
        os.kill(args.broker_pid, signal.SIGSTOP)
        time.sleep(args.pause)
        os.kill(args.broker_pid, signal.SIGCONT)

    pauser = threading.Thread(target=pause_broker)
    with blazingmq.Session(
        lambda event: None, broker=args.broker, channel_write_timeout=args.pause * 10
    ) as session:
        session.open_queue(args.queue, write=True)
        start = time.perf_counter()
        try:
            for number in range(args.count):
                if number == args.count // 4:
                    pauser.start()
                session.post(args.queue, payload, on_ack=acks)
        finally:
            if pauser.ident is not None:  # started
                pauser.join()
        acks.wait(args.timeout)
        end = time.perf_counter()
        session.close_queue(args.queue)
    return {
        "messages": args.count,
        "acked": acks.acked,
        "failed": acks.failed,
        "paused_s": args.pause,
        "seconds": end - start,
        "msgs_per_s": args.count / (end - start),
        "peak_rss_mb": _peak_rss_mb(),
    }


def failover(args: argparse.Namespace) -> Dict[str, Any]:
    """Post ``count`` numbered messages at ``rate`` with ACKs while a second
    session consumes and confirms them; the runner kills the cluster's
    leader meanwhile (it waits for the "posting" line on stderr).  Reports
    the longest gap between two ACKs, the duplicates the consumer got and
    the SUCCESS-acknowledged messages it never got."""
    padding = b"x" * max(0, args.size - 12)
    ack_times: List[float] = []
    failed = 0
    succeeded = set()
    delivered: "collections.Counter[int]" = collections.Counter()
    lock = threading.Lock()
    all_acked = threading.Event()

    def on_ack_for(number: int) -> Any:
        def on_ack(ack: Any) -> None:
            nonlocal failed
            with lock:
                ack_times.append(time.perf_counter())
                if ack.status == blazingmq.AckStatus.SUCCESS:
                    succeeded.add(number)
                else:
                    failed += 1
                if len(ack_times) == args.count:
                    all_acked.set()

        return on_ack

    def on_message(message: Any, handle: Any) -> None:
        with lock:
            delivered[int(message.data[:12])] += 1
        handle.confirm()

    interval = 1.0 / args.rate
    with blazingmq.Session(lambda event: None, on_message=on_message, broker=args.broker) as consumer, \
            blazingmq.Session(lambda event: None, broker=args.broker) as producer:
        consumer.open_queue(args.queue, read=True)
        producer.open_queue(args.queue, write=True)
        print("posting", file=sys.stderr, flush=True)
        next_post = time.perf_counter()
        for number in range(args.count):
            delay = next_post - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            producer.post(args.queue, b"%012d" % number + padding, on_ack=on_ack_for(number))
            next_post += interval
        if not all_acked.wait(args.timeout):
            raise SystemExit(f"only {len(ack_times)} of {args.count} ACKs arrived")
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            with lock:
                if succeeded <= delivered.keys():
                    break
            time.sleep(0.05)
        time.sleep(0.5)  # late duplicates
        consumer.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
        consumer.close_queue(args.queue)
        producer.close_queue(args.queue)
    # The longest gap between two ACKs (posting never stops, so some post
    # always waits for one), measured like bmqtool's in the runner.
    ack_times.sort()
    stall = max((later - earlier for earlier, later in zip(ack_times, ack_times[1:])), default=0.0)
    return {
        "messages": args.count,
        "rate": args.rate,
        "ack_stall_ms": stall * 1000.0,
        "duplicates": sum(count - 1 for count in delivered.values()),
        "lost": len(succeeded - delivered.keys()),
        "nacks": failed,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_on_loop(args: argparse.Namespace, main: Any) -> Any:
    loop: asyncio.AbstractEventLoop
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


def aio_produce(args: argparse.Namespace) -> Dict[str, Any]:
    """``produce`` through ``blazingmq.aio``: at most ``window`` ACK futures
    outstanding, the oldest awaited when the window is full."""
    import blazingmq.aio

    payload = b"x" * args.size

    async def main() -> Dict[str, Any]:
        acked = failed = 0
        async with blazingmq.aio.Session(broker=args.broker) as session:
            await session.open_queue(args.queue, write=True)
            cpu = _CpuMeter()
            start = time.perf_counter()
            pending: Any = collections.deque()
            for _ in range(args.count):
                pending.append(session.post(args.queue, payload))
                if len(pending) >= args.window:
                    ack = await pending.popleft()
                    acked += 1
                    failed += ack.status != blazingmq.AckStatus.SUCCESS
            posted = time.perf_counter()
            while pending:
                ack = await pending.popleft()
                acked += 1
                failed += ack.status != blazingmq.AckStatus.SUCCESS
            end = time.perf_counter()
            usage = cpu.report(args.count)
            await session.close_queue(args.queue)
        return {
            **usage,
            "messages": args.count,
            "acked": acked,
            "failed": failed,
            "window": args.window,
            "loop": args.loop,
            "seconds": end - start,
            "msgs_per_s": args.count / (end - start),
            "post_loop_msgs_per_s": args.count / (posted - start),
            "peak_rss_mb": _peak_rss_mb(),
        }

    return dict(_run_on_loop(args, asyncio.wait_for(main(), args.timeout)))


def aio_consume(args: argparse.Namespace) -> Dict[str, Any]:
    """``consume`` through ``blazingmq.aio``: ``async for`` over the queue's
    messages, each confirmed (confirms are sent once per loop iteration)."""
    import blazingmq.aio

    async def main() -> Dict[str, Any]:
        received = 0
        options = blazingmq.QueueOptions(max_unconfirmed_messages=100_000, max_unconfirmed_bytes=1 << 30)
        async with blazingmq.aio.Session(broker=args.broker) as session:
            cpu = _CpuMeter()
            start = time.perf_counter()
            await session.open_queue(args.queue, read=True, options=options)
            first = 0.0
            async for message in session.messages(args.queue):
                if not received:
                    first = time.perf_counter()
                message.confirm()
                received += 1
                if received == args.count:
                    break
            end = time.perf_counter()
            usage = cpu.report(received)
            await session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
            await session.close_queue(args.queue)
        return {
            **usage,
            "messages": received,
            "loop": args.loop,
            "seconds": end - first,
            "msgs_per_s": (received - 1) / (end - first) if received > 1 else 0.0,
            "basis": "first message to last",
            "open_to_last_msgs_per_s": received / (end - start),
            "peak_rss_mb": _peak_rss_mb(),
        }

    return dict(_run_on_loop(args, asyncio.wait_for(main(), args.timeout)))


def aio_latency(args: argparse.Namespace) -> Dict[str, Any]:
    """``latency`` through ``blazingmq.aio``: the same bursts of
    ``rate / 1000`` posts (``post_nowait``: no ACK, like ``latency``) at
    the start of each 1 ms tick, the time taken just before each post; a
    task reads ``session.messages()``, takes the latency and confirms.

    Between bursts the loop sleeps with ``asyncio.sleep``, whose timers
    have a 1 ms resolution with epoll: a tick may start up to 1 ms late
    and its burst then follows the previous one at once (the mean rate
    keeps to the schedule).  A full channel (``BandwidthLimitError``) makes
    the post wait 1 ms and try again, as a program would."""
    import blazingmq.aio
    from blazingmq.exceptions import BandwidthLimitError

    padding = b"x" * max(0, args.size - 8)

    async def main() -> Dict[str, Any]:
        latencies: List[int] = []
        expected = args.count
        done = asyncio.Event()
        async with blazingmq.aio.Session(broker=args.broker) as session:
            await session.open_queue(args.queue, read=True, write=True)

            async def receive() -> None:
                async for message in session.messages(args.queue):
                    (sent,) = struct.unpack_from("=q", message.data)
                    latencies.append(time.perf_counter_ns() - sent)
                    message.confirm()
                    if len(latencies) >= expected:
                        done.set()

            receiver = asyncio.ensure_future(receive())
            post = session.post_nowait
            uri = args.queue
            pack = struct.Struct("=q").pack
            clock = time.perf_counter_ns
            pacer = Pacer(args.count, args.rate, args.max_seconds)
            while (tick := pacer.next_burst()) is not None:
                delay, burst = tick
                if delay > 0:
                    await asyncio.sleep(delay)
                for _ in range(burst):
                    while True:
                        try:
                            post(uri, pack(clock()) + padding)
                            break
                        except BandwidthLimitError:
                            await asyncio.sleep(0.001)
                if delay <= 0:
                    await asyncio.sleep(0)  # let the receiver run while behind
            posting_s = pacer.elapsed()
            posted, ticks = pacer.posted, pacer.ticks
            expected = posted
            if len(latencies) >= posted:
                done.set()
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except asyncio.TimeoutError:
                raise SystemExit(f"only {len(latencies)} of {posted} messages arrived") from None
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
            await session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
            await session.close_queue(args.queue)
        return {**_rate_report(args, posted, posting_s, ticks, latencies), "loop": args.loop}

    return dict(_run_on_loop(args, main()))


def _instrument() -> None:
    """What a traced program pays for: the SDK's tracer provider with a
    batching processor (export itself excluded: the exporter drops the
    spans) and a meter provider whose reader is never collected."""
    import blazingmq.otel
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class _Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_Drop(), max_queue_size=1 << 16))
    blazingmq.otel.instrument(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "workload",
        choices=["produce", "consume", "drain", "latency", "soak", "stall", "failover",
                 "aio-produce", "aio-consume", "aio-latency"],
    )
    parser.add_argument("--broker", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--batch", type=int, default=1, help="produce: messages per post_many call")
    parser.add_argument("--confirm-batch", type=int, default=0,
                        help="consume: confirm from the main thread with confirm_many, this many at a time")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="latency, aio-latency: stop posting after this long (fewer posts, lower achieved rate)")
    parser.add_argument("--soak-rate", type=float, default=20_000.0, help="soak: messages/s posted")
    parser.add_argument("--window", type=int, default=2000, help="soak, aio-produce: un-ACKed posts in flight")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="aio-*: the event loop")
    parser.add_argument("--broker-pid", type=int, default=0, help="stall: the broker to pause")
    parser.add_argument("--pause", type=float, default=3.0, help="stall: seconds the broker is paused")
    parser.add_argument(
        "--otel",
        action="store_true",
        help="instrument with blazingmq.otel (this package only): spans to the OpenTelemetry SDK, "
        "batched to an exporter that drops them; metrics to an in-memory reader",
    )
    args = parser.parse_args()
    if args.otel:
        _instrument()
    workloads = {
        "produce": produce,
        "consume": consume,
        "latency": latency,
        "drain": drain,
        "soak": soak,
        "stall": stall,
        "failover": failover,
        "aio-produce": aio_produce,
        "aio-consume": aio_consume,
        "aio-latency": aio_latency,
    }
    result = workloads[args.workload](args)
    result["blazingmq"] = getattr(blazingmq, "__version__", "?")
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
