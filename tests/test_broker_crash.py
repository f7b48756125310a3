"""Broker crashes (SIGKILL) and restarts under steady production.

libbmq buffers unacknowledged posts across a reconnect and retransmits them;
these tests check that our layer keeps that promise end to end: every post
with ``on_ack`` gets exactly one ACK, every message acknowledged SUCCESS on
the file-backed domain reaches a consumer, and the session reports the
reconnection in order.

The CI run does three crashes with at least 20,000 posts.  A longer run is
enabled by ``BLAZINGMQ_SLOW_TESTS=1`` (see DEVELOPERS.md); its size can be
set with ``BLAZINGMQ_CRASH_POSTS`` and ``BLAZINGMQ_CRASH_COUNT``.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Dict, List

import pytest

import blazingmq
from blazingmq import AckStatus, session_events

SLOW = os.environ.get("BLAZINGMQ_SLOW_TESTS") == "1"
slow = pytest.mark.skipif(not SLOW, reason="slow: set BLAZINGMQ_SLOW_TESTS=1 to run")

RECONNECT_ORDER = [
    session_events.ConnectionLost,
    session_events.Reconnected,
    session_events.QueueReopened,
    session_events.StateRestored,
]


class EventLog:
    """Session events of one session, with a way to wait for the n-th
    event of a class."""

    def __init__(self) -> None:
        self.events: List[session_events.SessionEvent] = []
        self._condition = threading.Condition()

    def __call__(self, event: session_events.SessionEvent) -> None:
        with self._condition:
            self.events.append(event)
            self._condition.notify_all()

    def count(self, cls: type) -> int:
        return sum(isinstance(e, cls) for e in self.events)

    def wait_count(self, cls: type, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self._condition:
            while self.count(cls) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {count}x {cls.__name__} within {timeout} s: {self.events!r}"
                self._condition.wait(remaining)

    def reconnect_cycles(self) -> List[type]:
        """The event classes between Connected and Disconnected."""
        return [type(e) for e in self.events if not isinstance(e, (session_events.Connected, session_events.Disconnected))]


def crash_and_restart_under_production(broker, queue: str, posts_wanted: int, crashes: int) -> Dict[str, int]:
    """Produce steadily with ``on_ack`` while the broker is SIGKILLed and
    restarted ``crashes`` times; consume with a second session.  Return the
    figures, after checking every invariant."""
    producer_events, consumer_events = EventLog(), EventLog()
    acks: Dict[int, List[AckStatus]] = collections.defaultdict(list)
    ack_lock = threading.Lock()
    delivered: collections.Counter = collections.Counter()
    delivered_lock = threading.Condition()
    posts = 0
    post_errors: collections.Counter = collections.Counter()

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        with delivered_lock:
            delivered[int(message.data)] += 1
            delivered_lock.notify_all()
        handle.confirm()

    consumer = blazingmq.Session(consumer_events, on_message=on_message, broker=broker.uri)
    # Around a restart, posts may wait for room (in the channel, or under the
    # session's limit of posts awaiting their ACK) longer than the default
    # 5 s: ten crashes under 200k posts got a few BandwidthLimitErrors so.
    # This producer rides restarts out.
    producer = blazingmq.Session(producer_events, broker=broker.uri, channel_write_timeout=60)
    stop_producing = threading.Event()

    def make_on_ack(number: int):
        def on_ack(ack: blazingmq.Ack) -> None:
            with ack_lock:
                acks[number].append(ack.status)

        return on_ack

    def produce() -> None:
        nonlocal posts
        number = 0
        while not stop_producing.is_set():
            try:
                producer.post(queue, b"%d" % number, on_ack=make_on_ack(number))
            except blazingmq.Error as error:  # counted and reported, never expected
                post_errors[str(error)] += 1
                time.sleep(0.01)
                continue
            number += 1
            posts = number
            if number % 50 == 0:
                time.sleep(0.01)  # steady, not flat out: production spans the crashes

    try:
        consumer.open_queue(queue, read=True)
        producer.open_queue(queue, write=True)
        producer_thread = threading.Thread(target=produce, name="producer")
        producer_thread.start()
        try:
            for crash in range(1, crashes + 1):
                target = posts_wanted * crash // (crashes + 1)
                while posts < target:
                    time.sleep(0.01)
                broker.kill()
                producer_events.wait_count(session_events.ConnectionLost, crash)
                broker.start()
                assert broker.port == int(broker.uri.rsplit(":", 1)[1])
                producer_events.wait_count(session_events.StateRestored, crash)
                consumer_events.wait_count(session_events.StateRestored, crash)
            while posts < posts_wanted:
                time.sleep(0.01)
        finally:
            stop_producing.set()
            producer_thread.join(60)
        assert not producer_thread.is_alive()

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ack_lock:
                if len(acks) >= posts:
                    break
            time.sleep(0.05)
        with ack_lock:
            acked = dict(acks)
        succeeded = {number for number, statuses in acked.items() if statuses == [AckStatus.SUCCESS]}
        with delivered_lock:
            delivered_lock.wait_for(lambda: succeeded <= delivered.keys(), 60)
            delivered_snapshot = collections.Counter(delivered)
        # Let late duplicates land before counting them.
        time.sleep(0.5)
        with delivered_lock:
            delivered_snapshot = collections.Counter(delivered)
    finally:
        producer.stop()
        consumer.stop()

    statuses = collections.Counter(s.name for statuses in acked.values() for s in statuses)
    figures = {
        "posts": posts,
        "post_errors": sum(post_errors.values()),
        "acks": sum(statuses.values()),
        **{f"acks_{name}": count for name, count in sorted(statuses.items())},
        "delivered_distinct": len(delivered_snapshot),
        "delivered_total": sum(delivered_snapshot.values()),
        "duplicates": sum(n - 1 for n in delivered_snapshot.values() if n > 1),
        "lost": len(succeeded - delivered_snapshot.keys()),
        "crashes": crashes,
    }
    print(f"\ncrash/restart figures: {figures}")

    assert not post_errors, post_errors
    # Every post got exactly one ACK.
    assert sorted(acked) == list(range(posts)), "some posts got no ACK"
    assert all(len(s) == 1 for s in acked.values()), {n: s for n, s in acked.items() if len(s) != 1}
    # Every message acknowledged SUCCESS was delivered at least once.
    assert figures["lost"] == 0, sorted(succeeded - delivered_snapshot.keys())[:20]
    # Nothing was delivered that was never posted.
    assert max(delivered_snapshot) < posts
    # Each crash: ConnectionLost, Reconnected, QueueReopened, StateRestored, in that order.
    for log in (producer_events, consumer_events):
        assert log.reconnect_cycles() == RECONNECT_ORDER * crashes, log.events
        assert all(e.queue_uri == queue for e in log.events if isinstance(e, session_events.QueueReopened))
        assert isinstance(log.events[-1], session_events.Disconnected)
    return figures


def test_three_crashes_under_steady_production(own_broker):
    figures = crash_and_restart_under_production(
        own_broker, "bmq://bmq.test.persistent.priority/crash_ci", posts_wanted=20_000, crashes=3
    )
    assert figures["posts"] >= 20_000
    assert figures["acks_SUCCESS"] > 0


@slow
def test_many_crashes_under_steady_production(own_broker):
    posts = int(os.environ.get("BLAZINGMQ_CRASH_POSTS", "200000"))
    crashes = int(os.environ.get("BLAZINGMQ_CRASH_COUNT", "10"))
    figures = crash_and_restart_under_production(
        own_broker, "bmq://bmq.test.persistent.priority/crash_slow", posts_wanted=posts, crashes=crashes
    )
    assert figures["posts"] >= posts


def test_restart_keeps_port_and_storage(own_broker):
    """Messages acknowledged before a SIGKILL are delivered after the restart
    (same storage); the restarted broker listens on the same port."""
    queue = "bmq://bmq.test.persistent.priority/storage_survives"
    port = own_broker.port
    acks: List[blazingmq.Ack] = []
    with blazingmq.Session(lambda e: None, broker=own_broker.uri) as producer:
        producer.open_queue(queue, write=True)
        for number in range(100):
            producer.post(queue, b"%d" % number, on_ack=acks.append)
        producer.close_queue(queue)
    assert [a.status for a in acks] == [AckStatus.SUCCESS] * 100
    own_broker.kill()
    own_broker.start()
    assert own_broker.port == port and own_broker.uri.endswith(f":{port}")
    received: List[int] = []
    done = threading.Event()

    def on_message(message, handle):
        received.append(int(message.data))
        handle.confirm()
        if len(received) == 100:
            done.set()

    with blazingmq.Session(lambda e: None, on_message=on_message, broker=own_broker.uri) as consumer:
        consumer.open_queue(queue, read=True)
        assert done.wait(30), received
        consumer.configure_queue(queue, blazingmq.QueueOptions(0, 0, 0))
        consumer.close_queue(queue)
    assert sorted(received) == list(range(100))


def test_broker_down_longer_than_the_connect_timeout(own_broker):
    """With the broker gone for longer than the connect timeout, posts are
    buffered by libbmq (not refused, not blocking); a restart delivers them
    all with SUCCESS.  A session stopped while the broker is still down
    returns, and every outstanding post gets a failed ACK (UNKNOWN)."""
    queue = "bmq://bmq.test.persistent.priority/long_outage"
    timeouts = blazingmq.Timeouts(connect_timeout=1.0, disconnect_timeout=2.0)
    events = EventLog()
    acks: List[blazingmq.Ack] = []
    session = blazingmq.Session(events, broker=own_broker.uri, timeout=timeouts)
    try:
        session.open_queue(queue, write=True)
        own_broker.kill()
        events.wait_count(session_events.ConnectionLost, 1)
        for number in range(100):
            session.post(queue, b"%d" % number, on_ack=acks.append)
        time.sleep(3.0)  # three connect timeouts without a broker
        assert acks == []  # nothing acknowledged by a broker that is not there
        own_broker.start()
        events.wait_count(session_events.StateRestored, 1)
        deadline = time.monotonic() + 60
        while len(acks) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [a.status for a in acks] == [AckStatus.SUCCESS] * 100
    finally:
        session.stop()
    assert [type(e) for e in events.events] == [
        session_events.Connected,
        *RECONNECT_ORDER,
        session_events.Disconnected,
    ]

    # Stopped while the broker is down: stop() returns, every post is NACKed.
    nacks: List[blazingmq.Ack] = []
    events = EventLog()
    session = blazingmq.Session(events, broker=own_broker.uri, timeout=timeouts)
    session.open_queue(queue, write=True)
    own_broker.kill()
    events.wait_count(session_events.ConnectionLost, 1)
    for number in range(100):
        session.post(queue, b"%d" % number, on_ack=nacks.append)
    time.sleep(2.0)
    stopper = threading.Thread(target=session.stop)
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive(), "stop() blocked with the broker down"
    assert [a.status for a in nacks] == [AckStatus.UNKNOWN] * 100
    assert all(a.guid is None and a.queue_uri == queue for a in nacks)
    assert isinstance(events.events[-1], session_events.Disconnected)
    with pytest.raises(blazingmq.Error, match="^Method called after session was stopped$"):
        session.post(queue, b"late")
