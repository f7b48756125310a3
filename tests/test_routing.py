"""Fanout (app ids), broadcast, several sessions and many queues."""

from __future__ import annotations

import blazingmq
from blazingmq import AckStatus, QueueOptions, session_events
from blazingmq.testing import FANOUT_APP_IDS


def test_fanout_delivers_to_every_app_id(session_factory, queue_uri, collector):
    uri = queue_uri("bmq.test.mem.fanout")
    received = collector()
    consumer = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    for app_id in FANOUT_APP_IDS:
        consumer.open_queue(f"{uri}?id={app_id}", read=True)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    producer.post(uri, b"to everyone")
    items = received.wait_count(len(FANOUT_APP_IDS))
    assert sorted(m.queue_uri for m in items) == sorted(f"{uri}?id={app_id}" for app_id in FANOUT_APP_IDS)
    assert {m.data for m in items} == {b"to everyone"}


def test_broadcast_reaches_every_connected_consumer(session_factory, queue_uri, collector):
    uri = queue_uri("bmq.test.mem.broadcast")
    first, second = collector(), collector()
    one = session_factory(on_message=lambda m, h: (first(m), h.confirm()))
    two = session_factory(on_message=lambda m, h: (second(m), h.confirm()))
    one.open_queue(uri, read=True)
    two.open_queue(uri, read=True)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    acks = collector()
    producer.post(uri, b"news", on_ack=acks)
    assert acks.wait_count(1)[0].status is AckStatus.SUCCESS
    assert first.wait_count(1)[0].data == b"news"
    assert second.wait_count(1)[0].data == b"news"


def test_twenty_queues_in_one_session(session_factory, queue_uri, collector):
    received = collector()
    session = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    uris = [queue_uri() for _ in range(20)]
    for uri in uris:
        session.open_queue(uri, read=True, write=True)
    for uri in uris:
        session.post(uri, uri.encode())
    items = received.wait_count(20)
    assert sorted((m.queue_uri, m.data) for m in items) == sorted((u, u.encode()) for u in uris)
    for uri in uris:
        session.configure_queue(uri, QueueOptions(0, 0, 0))
        session.close_queue(uri)


def test_two_sessions_in_one_process_work_independently(bmq_broker_uri, queue_uri, collector):
    uri = queue_uri()
    events_a, events_b, received = collector(), collector(), collector()
    with blazingmq.Session(events_a, broker=bmq_broker_uri) as producer, blazingmq.Session(
        events_b, on_message=lambda m, h: (received(m), h.confirm()), broker=bmq_broker_uri
    ) as consumer:
        consumer.open_queue(uri, read=True)
        producer.open_queue(uri, write=True)
        for i in range(50):
            producer.post(uri, b"%d" % i)
        assert sorted(int(m.data) for m in received.wait_count(50)) == list(range(50))
        producer.stop()
        # Stopping one session leaves the other working.
        consumer.configure_queue(uri, QueueOptions(0, 0, 0))
        consumer.close_queue(uri)
    assert isinstance(events_a.items[-1], session_events.Disconnected)
    assert isinstance(events_b.items[-1], session_events.Disconnected)


def test_slot_reuse_after_close_keeps_uris_straight(session_factory, queue_uri, collector):
    received = collector()
    session = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    first, second = queue_uri(), queue_uri()
    session.open_queue(first, read=True, write=True)
    session.configure_queue(first, QueueOptions(0, 0, 0))
    session.close_queue(first)
    session.open_queue(second, read=True, write=True)
    session.post(second, b"second")
    (message,) = received.wait_count(1)
    assert message.queue_uri == second
