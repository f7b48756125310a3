"""Steady traffic through a cluster while a scenario breaks it, and the
checks of what came out (for tests/test_failover.py).

One producer posts numbered messages with ACKs, one consumer confirms what
it receives, both through the same broker URI (the proxy, or a node).  A
*scenario* (a plain function, run on its own thread) kills, stops, pauses
and restarts brokers meanwhile; it calls ``traffic.wait_posted(n)`` to let
the producer get ahead between its steps.  After it, the producer posts
``tail`` more messages, then every ACK and every acknowledged message is
waited for and the :class:`Ledger` checks:

* every post got exactly one ACK, and no post raised;
* every message acknowledged SUCCESS was delivered at least once;
* the first deliveries came in the order of posting (a redelivery after a
  failover is counted as a duplicate, never as disorder);
* nothing was delivered that was not posted.

A SUCCESS-acknowledged message never delivered is *lost*: the brokers' logs
are searched for it, and the loss is accepted (and reported, with a
warning) only when a broker's log shows that the broker dropped it: its
GUID as no longer in the storage, or a primary garbage-collecting that many
messages of the queue (a broker-side race after a leader kill, which has
also held back the messages posted right after the dropped one until the
next failover: such a run of late messages is reported as the broker's
reordering; any other disorder fails).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import re
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import blazingmq
import blazingmq.aio
from blazingmq import AckStatus
from blazingmq.testing import Cluster

#: The figures of every scenario run in this session (conftest.py prints
#: them at the end).
REPORTS: List[Dict[str, Any]] = []

#: What a broker writes when it cannot deliver a message it no longer has
#: (on a line that names the message's GUID).
_UNKNOWN_MESSAGE = re.compile(r"#STORAGE_UNKNOWN_MESSAGE|not in the storage")
#: What a primary writes when it garbage-collects messages of a queue: by
#: TTL, or (same text) because they never got a quorum of replication
#: receipts.  The line names the queue and a count, not the messages.
_GARBAGE_COLLECTED = re.compile(
    r"For storage for queue \[(?P<queue>[^\]]+)\].*garbage-collected \[(?P<count>\d+)\] messages"
)


@dataclass(frozen=True)
class Pace:
    """How the producer posts: ``burst`` messages at once, at ``rate``
    messages per second on average.  A large burst runs ahead of the ACKs,
    so that posts share PUT events."""

    name: str
    rate: float
    burst: int


STEADY = Pace("steady", rate=400, burst=4)
AHEAD = Pace("ahead", rate=400, burst=200)


class Ledger:
    """Everything the producer posted and the consumer received, with the
    time of each event; thread-safe."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.condition = threading.Condition()
        self.start = time.monotonic()
        self.post_times: List[float] = []
        self.acks: Dict[int, List[Tuple[AckStatus, Optional[bytes], float]]] = collections.defaultdict(list)
        self.ack_times: List[float] = []
        self.deliveries: List[int] = []
        self.delivery_times: List[float] = []
        self.post_errors: List[str] = []
        self.events: Dict[str, List[Tuple[float, str]]] = {"producer": [], "consumer": []}
        self.steps: List[Tuple[float, str]] = []

    # -- recording (any thread) ----------------------------------------------

    def posted(self) -> int:
        with self.condition:
            self.post_times.append(time.monotonic())
            self.condition.notify_all()
            return len(self.post_times) - 1

    def post_failed(self, error: BaseException) -> None:
        with self.condition:
            self.post_errors.append(repr(error))

    def acked(self, number: int, status: AckStatus, guid: Optional[bytes]) -> None:
        now = time.monotonic()
        with self.condition:
            self.acks[number].append((status, guid, now))
            self.ack_times.append(now)
            self.condition.notify_all()

    def delivered(self, data: bytes) -> None:
        with self.condition:
            self.deliveries.append(int(data))
            self.delivery_times.append(time.monotonic())
            self.condition.notify_all()

    def event(self, role: str, event: Any) -> None:
        with self.condition:
            self.events[role].append((time.monotonic(), type(event).__name__))

    def step(self, text: str) -> None:
        """Note what the scenario did, for the report."""
        with self.condition:
            self.steps.append((time.monotonic(), text))

    # -- waiting (scenario and test threads) -----------------------------------

    def wait_posted(self, count: int, timeout: float = 60.0) -> None:
        self._wait(lambda: len(self.post_times) >= count, timeout, f"{count} posts")

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        with self.condition:
            if not self.condition.wait_for(ready, timeout):
                raise AssertionError(
                    f"no {what} within {timeout} s (hang?): posted {len(self.post_times)}, "
                    f"acked {len(self.acks)}, delivered {len(self.deliveries)}; steps {self.steps}"
                )

    def wait_settled(
        self,
        dropped_by_broker: Callable[[], int],
        timeout: float = 90.0,
        delivery_timeout: float = 30.0,
        grace: float = 5.0,
    ) -> None:
        """Wait for every post to be acknowledged (a hang otherwise), then up
        to ``delivery_timeout`` seconds for every SUCCESS to be delivered
        (what is not is lost: see :func:`check`).  When, ``grace`` seconds
        on, no more are missing than ``dropped_by_broker()`` says the
        brokers dropped, waiting longer is pointless."""
        self._wait(lambda: len(self.acks) >= len(self.post_times), timeout, "ACK for every post")
        deadline = time.monotonic() + delivery_timeout
        patience = time.monotonic() + grace
        while True:
            with self.condition:
                missing = len(self._succeeded() - set(self.deliveries))
                if not missing:
                    return
                self.condition.wait(1.0)
            now = time.monotonic()
            if now > deadline or (now > patience and missing <= dropped_by_broker()):
                return

    def _succeeded(self) -> set:
        return {n for n, acks in self.acks.items() if acks and acks[0][0] == AckStatus.SUCCESS}

    # -- results --------------------------------------------------------------

    def figures(self) -> Dict[str, Any]:
        with self.condition:
            statuses = collections.Counter(status.name for acks in self.acks.values() for status, _, _ in acks)
            counts = collections.Counter(self.deliveries)
            succeeded = self._succeeded()
            latencies = [acks[0][2] - self.post_times[n] for n, acks in self.acks.items() if acks]
            disorder = self.out_of_order()
            return {
                "posted": len(self.post_times),
                "post_errors": len(self.post_errors),
                "acks": dict(sorted(statuses.items())),
                "delivered": len(counts),
                "deliveries": len(self.deliveries),
                "duplicates": sum(n - 1 for n in counts.values()),
                "lost": sorted(succeeded - counts.keys()),
                "out_of_order": len(disorder),
                "out_of_order_examples": disorder[:5] + disorder[-2:],
                "longest_ack_stall_s": round(self._longest_ack_stall(), 3),
                "longest_ack_latency_s": round(max(latencies, default=0.0), 3),
                "events": {role: [name for _, name in events] for role, events in self.events.items()},
                "steps": [f"{t - self.start:.1f}s {text}" for t, text in self.steps],
            }

    def out_of_order(self) -> List[Tuple[int, int, float]]:
        """First deliveries that came after a later-posted message's: (the
        message, the highest number delivered before it, when it came, in
        seconds from the start)."""
        seen = set()
        highest = -1
        disorder = []
        for position, number in enumerate(self.deliveries):
            if number in seen:
                continue  # a duplicate
            seen.add(number)
            if number < highest:
                disorder.append((number, highest, round(self.delivery_times[position] - self.start, 2)))
            highest = max(highest, number)
        return disorder

    def _longest_ack_stall(self) -> float:
        """The longest time without any ACK while some post waited for
        one."""
        events = sorted([(t, 1) for t in self.post_times] + [(t, -1) for t in self.ack_times])
        pending = 0
        waiting_since: Optional[float] = None
        longest = 0.0
        for when, change in events:
            if change < 0:
                if waiting_since is not None:
                    longest = max(longest, when - waiting_since)
                pending -= 1
                waiting_since = when if pending > 0 else None
            else:
                if pending == 0:
                    waiting_since = when
                pending += 1
        return longest

    def guid(self, number: int) -> Optional[bytes]:
        acks = self.acks.get(number)
        return acks[0][1] if acks else None


def summary(figures: Dict[str, Any]) -> str:
    """One scenario's figures on a few lines."""
    if "steps" not in figures:  # not a Ledger's
        return ", ".join(f"{key}: {value}" for key, value in figures.items())
    events = "; ".join(f"{role}: {', '.join(names) or '-'}" for role, names in figures["events"].items())
    return (
        f"{figures['scenario']}: posted {figures['posted']}, ACKs {figures['acks']}, "
        f"delivered {figures['delivered']} (+{figures['duplicates']} duplicates), lost {len(figures['lost'])}"
        f"{' (broker: ' + str(len(figures.get('broker_losses', {}))) + ')' if figures['lost'] else ''}, "
        f"{'out of order ' + str(figures['out_of_order']) + ' (broker), ' if figures['out_of_order'] else ''}"
        f"longest ACK stall {figures['longest_ack_stall_s']} s (latency {figures['longest_ack_latency_s']} s), "
        f"{figures['seconds']} s\n    events: {events}\n    steps: {' | '.join(figures['steps'])}"
    )


def _log_lines(cluster: Cluster) -> Iterator[Tuple[str, str]]:
    """(node name, line) for every line of every node's logs."""
    for broker in cluster.nodes:
        for path in broker.log_files():
            with contextlib.suppress(OSError), open(path, errors="replace") as log:
                for line in log:
                    yield broker.name, line


def garbage_collected(cluster: Cluster, queue: str) -> Tuple[int, List[str]]:
    """How many messages of ``queue`` primaries garbage-collected, and the
    log lines that say so."""
    count = 0
    lines = []
    for name, line in _log_lines(cluster):
        match = _GARBAGE_COLLECTED.search(line)
        if match and match.group("queue") == queue:
            count += int(match.group("count"))
            lines.append(f"{name}: {line.strip()}")
    return count, lines


def explain_losses(cluster: Cluster, ledger: Ledger, lost: List[int]) -> Tuple[List[int], List[str]]:
    """Which lost messages a broker's log says the broker dropped, and the
    log lines that say so: a line naming the message's GUID as no longer
    in the storage, or lines of a primary garbage-collecting messages of
    the queue (they give a count, not GUIDs: they explain as many losses as
    they count)."""
    guids = {(ledger.guid(number) or b"").hex().upper(): number for number in lost}
    by_guid: Dict[int, List[str]] = {}
    for name, line in _log_lines(cluster):
        if _UNKNOWN_MESSAGE.search(line):
            for guid, number in guids.items():
                if guid and guid in line:
                    by_guid.setdefault(number, []).append(f"{name}: {line.strip()}")
    collected_count, collected = garbage_collected(cluster, ledger.queue)
    explained = sorted(by_guid)
    rest = [number for number in lost if number not in by_guid]
    if rest and collected_count >= len(rest):
        explained = sorted(lost)
    evidence = [line for lines in by_guid.values() for line in lines] + collected
    return explained, evidence


def check(cluster: Cluster, ledger: Ledger, figures: Dict[str, Any]) -> Dict[str, Any]:
    """Assert the invariants of the module docstring; return the figures,
    with the losses a broker's log explains under ``broker_losses``."""
    assert not ledger.post_errors, f"posts raised: {ledger.post_errors[:5]}"
    assert figures["posted"] > 0
    missing = [n for n in range(figures["posted"]) if n not in ledger.acks]
    assert not missing, f"posts without an ACK: {missing[:20]}"
    doubled = {n: acks for n, acks in ledger.acks.items() if len(acks) != 1}
    assert not doubled, f"posts with several ACKs: {list(doubled.items())[:5]}"
    assert max(ledger.deliveries, default=-1) < figures["posted"], "delivered a message never posted"
    lost = figures["lost"]
    if lost:
        explained, evidence = explain_losses(cluster, ledger, lost)
        figures["broker_losses"] = explained
        figures["broker_loss_evidence"] = [line[:600] for line in evidence]
        guids = {number: (ledger.guid(number) or b"").hex().upper() for number in lost}
        print(
            f"\nBROKER LOSS: {len(lost)} SUCCESS-acknowledged message(s) of {ledger.queue} never delivered "
            f"(numbers and GUIDs: {guids}); {len(explained)} explained by the brokers' logs:\n  "
            + "\n  ".join(figures["broker_loss_evidence"])
        )
        unexplained = sorted(set(lost) - set(explained))
        assert not unexplained, (
            f"{len(unexplained)} SUCCESS-acknowledged messages never delivered, and no broker log says the broker "
            f"dropped them: {[(n, guids[n]) for n in unexplained[:20]]}"
        )
        warnings.warn(
            f"broker loss: {len(lost)} acknowledged message(s) of {ledger.queue} dropped by the broker: "
            f"{figures['broker_loss_evidence'][:3]}"
        )
    if figures["out_of_order"]:
        # The broker's garbage collection of a message has been seen to hold
        # back the messages posted right after it until the next failover:
        # such runs, each starting right after a message the broker
        # dropped, are its doing too.  Any other disorder fails.
        late = sorted(number for number, _, _ in ledger.out_of_order())
        runs: List[List[int]] = []
        for number in late:
            if runs and number == runs[-1][-1] + 1:
                runs[-1].append(number)
            else:
                runs.append([number])
        dropped = set(figures.get("broker_losses", []))
        first_seen: Dict[int, int] = {}
        for position, number in enumerate(ledger.deliveries):
            first_seen.setdefault(number, position)
        unexplained_runs = [
            (run[0], run[-1])
            for run in runs
            # Right after a dropped message, and in order among themselves.
            if run[0] - 1 not in dropped or [first_seen[n] for n in run] != sorted(first_seen[n] for n in run)
        ]
        assert not unexplained_runs, (
            f"{figures['out_of_order']} messages delivered out of order (message, highest delivered before it, "
            f"seconds): {figures['out_of_order_examples']}; runs not following a broker loss: "
            f"{unexplained_runs[:10]}; steps {figures['steps']}"
        )
        figures["broker_reordered"] = [(run[0], run[-1]) for run in runs]
        print(f"\nBROKER REORDERING: messages {figures['broker_reordered']}, posted right after one the broker "
              f"dropped, were delivered only after later ones")
        warnings.warn(f"broker reordering after its loss of a message: {figures['broker_reordered']}")
    return figures


class _Producer:
    """When to post: at the pace, until told how many to post in all."""

    def __init__(self, ledger: Ledger, pace: Pace) -> None:
        self.ledger = ledger
        self.pace = pace
        self.total: Optional[int] = None  # set after the scenario: posted + tail

    def delay(self, number: int) -> float:
        """Seconds to wait before posting message ``number`` (0 in a burst)."""
        if number % self.pace.burst:
            return 0.0
        return self.ledger.start + number / self.pace.rate - time.monotonic()

    def done(self, number: int) -> bool:
        return self.total is not None and number >= self.total


Scenario = Callable[[Ledger], None]


def run_sync(cluster: Cluster, uri: str, queue: str, pace: Pace, scenario: Scenario, tail: int = 400) -> Ledger:
    """The traffic with :class:`blazingmq.Session` (a producer thread, the
    consumer's callbacks) through ``uri`` (a broker of ``cluster``) while
    ``scenario`` runs on this thread."""
    ledger = Ledger(queue)
    producer_control = _Producer(ledger, pace)

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        ledger.delivered(message.data)
        handle.confirm()

    def on_ack(number: int, ack: blazingmq.Ack) -> None:
        ledger.acked(number, ack.status, ack.guid)

    consumer = blazingmq.Session(lambda e: ledger.event("consumer", e), on_message=on_message, broker=uri)
    producer = blazingmq.Session(lambda e: ledger.event("producer", e), broker=uri)
    stop = threading.Event()

    def produce() -> None:
        number = 0
        while not stop.is_set() and not producer_control.done(number):
            delay = producer_control.delay(number)
            if delay > 0:
                time.sleep(delay)
            ledger.posted()
            try:
                producer.post(queue, b"%d" % number, on_ack=functools.partial(on_ack, number))
            except Exception as error:  # counted and asserted on, never expected
                ledger.post_failed(error)
            number += 1

    try:
        consumer.open_queue(queue, read=True)
        producer.open_queue(queue, write=True)
        thread = threading.Thread(target=produce, name="producer")
        thread.start()
        try:
            scenario(ledger)
            producer_control.total = len(ledger.post_times) + tail
            thread.join(120)
            assert not thread.is_alive(), "the producer hung"
        finally:
            stop.set()
            thread.join(60)
        ledger.wait_settled(lambda: garbage_collected(cluster, queue)[0])
        time.sleep(0.5)  # late duplicates
    finally:
        producer.stop()
        consumer.stop()
    return ledger


def run_async(cluster: Cluster, uri: str, queue: str, pace: Pace, scenario: Scenario, tail: int = 400) -> Ledger:
    """The traffic with :class:`blazingmq.aio.Session` on an event loop,
    through ``uri`` (a broker of ``cluster``), while ``scenario`` runs on a
    worker thread."""
    ledger = Ledger(queue)
    producer_control = _Producer(ledger, pace)

    async def consume(session: blazingmq.aio.Session) -> None:
        async for message in session.messages(queue):
            ledger.delivered(message.data)
            message.confirm()

    async def watch(role: str, session: blazingmq.aio.Session) -> None:
        async for event in session.events():
            ledger.event(role, event)

    async def produce(session: blazingmq.aio.Session) -> None:
        number = 0
        while not producer_control.done(number):
            delay = producer_control.delay(number)
            if delay > 0:
                await asyncio.sleep(delay)
            ledger.posted()
            try:
                future = session.post(queue, b"%d" % number)
            except Exception as error:  # counted and asserted on, never expected
                ledger.post_failed(error)
            else:
                future.add_done_callback(functools.partial(_record_ack, ledger, number))
            number += 1

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with blazingmq.aio.Session(uri) as consumer, blazingmq.aio.Session(uri) as producer:
            await consumer.open_queue(queue, read=True)
            await producer.open_queue(queue, write=True)
            tasks = [
                asyncio.ensure_future(coroutine)
                for coroutine in (consume(consumer), watch("consumer", consumer), watch("producer", producer))
            ]
            producing = asyncio.ensure_future(produce(producer))
            try:
                await loop.run_in_executor(None, scenario, ledger)
                producer_control.total = len(ledger.post_times) + tail
                await asyncio.wait_for(producing, 120)
                await loop.run_in_executor(None, ledger.wait_settled, lambda: garbage_collected(cluster, queue)[0])
                await asyncio.sleep(0.5)  # late duplicates
            finally:
                producing.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(producing, *tasks, return_exceptions=True)

    asyncio.run(main())
    return ledger


def _record_ack(ledger: Ledger, number: int, future: "asyncio.Future[blazingmq.Ack]") -> None:
    if future.cancelled():
        ledger.post_failed(RuntimeError(f"the ACK future of post {number} was cancelled"))
    elif future.exception() is not None:
        ledger.post_failed(future.exception())  # type: ignore[arg-type]
    else:
        ack = future.result()
        ledger.acked(number, ack.status, ack.guid)
