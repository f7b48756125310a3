"""Session events from real broker behaviour: reconnection and host health."""

from __future__ import annotations

import os
import signal

import pytest

import blazingmq
from blazingmq import Error, QueueOptions, session_events
from blazingmq.exceptions import BrokerTimeoutError


def test_reconnect_order_after_broker_crash(own_broker, collector):
    events = collector()
    uri = "bmq://bmq.test.persistent.priority/reconnect"
    session = blazingmq.Session(events, broker=own_broker.uri)
    try:
        session.open_queue(uri, write=True)
        own_broker.kill()
        events.wait_for(lambda items: any(isinstance(e, session_events.ConnectionLost) for e in items))
        own_broker.start()
        events.wait_for(lambda items: any(isinstance(e, session_events.StateRestored) for e in items), 60)
        acks = collector()
        session.post(uri, b"after restart", on_ack=acks)
        assert acks.wait_count(1)[0].status is blazingmq.AckStatus.SUCCESS
    finally:
        session.stop()
    stats = session.stats()
    assert (stats.connections_lost, stats.reconnections) == (1, 1)
    assert dict(stats.acks) == {blazingmq.AckStatus.SUCCESS: 1}
    assert [type(e) for e in events.items] == [
        session_events.Connected,
        session_events.ConnectionLost,
        session_events.Reconnected,
        session_events.QueueReopened,
        session_events.StateRestored,
        session_events.Disconnected,
    ]
    reopened = events.items[3]
    assert reopened.queue_uri == uri and reopened.message is None


def test_host_health_suspends_and_resumes_queues(session_factory, queue_uri, collector):
    events = collector()
    monitor = blazingmq.BasicHealthMonitor()
    session = session_factory(events, on_message=lambda m, h: h.confirm(), host_health_monitor=monitor)
    suspending, plain = queue_uri(), queue_uri()
    session.open_queue(suspending, read=True, write=True, options=QueueOptions(suspends_on_bad_host_health=True))
    session.open_queue(plain, write=True)
    assert session.get_queue_options(suspending).suspends_on_bad_host_health is True
    start = len(events.items)

    monitor.set_unhealthy()
    events.wait_for(lambda items: any(isinstance(e, session_events.QueueSuspended) for e in items))
    with pytest.raises(Error, match="^Failed to construct message: QUEUE_SUSPENDED$"):
        session.post(suspending, b"x")
    session.post(plain, b"still fine")

    monitor.set_healthy()
    events.wait_for(lambda items: any(isinstance(e, session_events.HostHealthRestored) for e in items))
    session.post(suspending, b"resumed")
    assert [type(e) for e in events.items[start:]] == [
        session_events.HostUnhealthy,
        session_events.QueueSuspended,
        session_events.QueueResumed,
        session_events.HostHealthRestored,
    ]
    assert events.items[start + 1].queue_uri == suspending


def test_suspends_on_bad_host_health_without_monitor(session_factory, queue_uri):
    session = session_factory()
    with pytest.raises(Error) as info:
        session.open_queue(queue_uri(), write=True, options=QueueOptions(suspends_on_bad_host_health=True))
    assert str(info.value) == (
        "Queues cannot use suspends_on_bad_host_health if host health monitoring was disabled "
        "when the Session was created"
    )


def test_per_call_timeout_raises_broker_timeout_error(own_broker, collector):
    session = blazingmq.Session(collector(), broker=own_broker.uri)
    uri = "bmq://bmq.test.mem.priority/timeout"
    try:
        os.kill(own_broker.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(BrokerTimeoutError, match=rf"^Failed to open {uri} queue: TIMEOUT: "):
                session.open_queue(uri, write=True, timeout=1.0)
        finally:
            os.kill(own_broker.process.pid, signal.SIGCONT)
    finally:
        session.stop()


def test_full_channel_waits_then_raises_bandwidth_limit_and_recovers(own_broker, collector):
    from blazingmq.exceptions import BandwidthLimitError

    events = collector()
    uri = "bmq://bmq.test.mem.priority/backpressure"
    session = blazingmq.Session(
        events, broker=own_broker.uri, channel_high_watermark=9 * 1024 * 1024, channel_write_timeout=0.5
    )
    payload = b"x" * 65536
    try:
        session.open_queue(uri, write=True)
        os.kill(own_broker.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(BandwidthLimitError, match=rf"^Failed to post message to {uri} queue: BW_LIMIT$"):
                for _ in range(20000):
                    session.post(uri, payload)
            assert any(isinstance(e, session_events.ChannelHighWatermark) for e in events.items)
        finally:
            os.kill(own_broker.process.pid, signal.SIGCONT)
        events.wait_for(lambda items: any(isinstance(e, session_events.ChannelLowWatermark) for e in items), 30)
        acks = collector()
        session.post(uri, payload, on_ack=acks)
        assert acks.wait_count(1, 30)[0].status is blazingmq.AckStatus.SUCCESS
        stats = session.stats()
        # The post that raised waited; none before it did.
        assert stats.channel_waits == 1
        assert stats.channel_high_watermarks >= 1
    finally:
        session.stop()
