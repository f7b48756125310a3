"""Posting with ACKs, consuming with confirms, against the real broker."""

from __future__ import annotations

import pytest

import blazingmq
from blazingmq import Ack, AckStatus, Error, Message, MessageHandle, QueueOptions, session_events


def test_post_with_ack_succeeds_with_a_guid(session_factory, queue_uri, collector):
    uri = queue_uri()
    acks = collector()
    session = session_factory()
    session.open_queue(uri, write=True)
    session.post(uri, b"hello", on_ack=acks)
    (ack,) = acks.wait_count(1)
    assert isinstance(ack, Ack)
    assert ack.status is AckStatus.SUCCESS
    assert isinstance(ack.guid, bytes) and len(ack.guid) == 16
    assert ack.queue_uri == uri
    assert repr(ack) == f"<Ack[{ack.guid.hex().upper()}] SUCCESS for {uri}>"


def test_every_post_with_on_ack_gets_exactly_one_ack(session_factory, queue_uri, collector):
    uri = queue_uri()
    acks = collector()
    session = session_factory()
    session.open_queue(uri, write=True)
    for i in range(500):
        session.post(uri, b"m%d" % i, on_ack=acks)
    items = acks.wait_count(500)
    assert len(items) == 500
    assert all(a.status is AckStatus.SUCCESS for a in items)
    assert len({a.guid for a in items}) == 500
    session.close_queue(uri)
    assert len(acks.items) == 500


def test_consume_and_confirm(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()

    def on_message(message, handle):
        received(message, handle)
        handle.confirm()

    producer = session_factory()
    producer.open_queue(uri, write=True)
    consumer = session_factory(on_message=on_message)
    consumer.open_queue(uri, read=True)
    producer.post(uri, b"payload-1")
    ((message, handle),) = received.wait_count(1)
    assert isinstance(message, Message) and isinstance(handle, MessageHandle)
    assert message.data == b"payload-1"
    assert message.queue_uri == uri
    assert len(message.guid) == 16
    assert message.properties == {} and message.property_types == {}
    assert repr(message) == f"<Message[{message.guid.hex().upper()}] for {uri}>"
    assert repr(handle) == f"<MessageHandle[{message.guid.hex().upper()}] for {uri}>"


def test_confirmed_message_is_not_redelivered_but_unconfirmed_is(bmq_broker_uri, queue_uri, collector):
    uri = queue_uri("bmq.test.persistent.priority")
    acks = collector()
    with blazingmq.Session(lambda e: None, broker=bmq_broker_uri) as producer:
        producer.open_queue(uri, write=True)
        producer.post(uri, b"confirmed", on_ack=acks)
        producer.post(uri, b"unconfirmed", on_ack=acks)
        assert [a.status for a in acks.wait_count(2)] == [AckStatus.SUCCESS] * 2
        producer.close_queue(uri)

    first = collector()

    def confirm_only_the_first(message, handle):
        if message.data == b"confirmed":
            handle.confirm()
        first(message)

    with blazingmq.Session(lambda e: None, on_message=confirm_only_the_first, broker=bmq_broker_uri) as consumer:
        consumer.open_queue(uri, read=True)
        assert sorted(m.data for m in first.wait_count(2)) == [b"confirmed", b"unconfirmed"]
        consumer.configure_queue(uri, QueueOptions(0, 0, 0))
        consumer.close_queue(uri)

    again = collector()
    with blazingmq.Session(lambda e: None, on_message=again, broker=bmq_broker_uri) as consumer:
        consumer.open_queue(uri, read=True)
        items = again.wait_count(1)
        (message, handle) = items[0]
        assert message.data == b"unconfirmed"
        handle.confirm()
        consumer.configure_queue(uri, QueueOptions(0, 0, 0))
        consumer.close_queue(uri)
    assert [m.data for m, _ in again.items] == [b"unconfirmed"]


def test_session_confirm_with_the_message(session_factory, queue_uri, collector):
    uri = queue_uri("bmq.test.persistent.priority")
    received = collector()
    session = session_factory(on_message=received)
    session.open_queue(uri, read=True, write=True)
    session.post(uri, b"x")
    ((message, _),) = received.wait_count(1)
    session.confirm(message)
    session.configure_queue(uri, QueueOptions(0, 0, 0))
    session.close_queue(uri)
    # Reopened: nothing left to deliver, since the message was confirmed.
    session.open_queue(uri, read=True, write=True)
    session.post(uri, b"y")
    items = received.wait_count(2)
    assert [m.data for m, _ in items] == [b"x", b"y"]


def test_open_read_without_on_message_is_an_error(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    with pytest.raises(Error) as info:
        session.open_queue(uri, read=True)
    assert str(info.value) == (
        f"Can't open queue {uri} in read mode: no on_message callback was provided at Session construction"
    )


def test_post_str_is_a_type_error(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    session.open_queue(uri, write=True)
    with pytest.raises(TypeError):
        session.post(uri, "not bytes")  # type: ignore[arg-type]


def test_post_to_closed_queue_is_an_error(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    session.open_queue(uri, write=True)
    session.close_queue(uri)
    with pytest.raises(Error, match="^Queue not opened$"):
        session.post(uri, b"late")
    with pytest.raises(Error, match="^Queue not opened$"):
        session.post(queue_uri(), b"never opened")


def test_post_to_read_only_queue_and_empty_payload(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory(on_message=lambda m, h: None)
    session.open_queue(uri, read=True)
    with pytest.raises(Error, match="^Failed to construct message: QUEUE_READONLY$"):
        session.post(uri, b"x")
    writer = queue_uri()
    session.open_queue(writer, write=True)
    with pytest.raises(Error, match="^Failed to construct message: PAYLOAD_EMPTY$"):
        session.post(writer, b"")


def test_open_queue_with_invalid_uri(session_factory):
    session = session_factory()
    with pytest.raises(Error, match=r"^Failed to open not-a-uri queue: INVALID_URI: "):
        session.open_queue("not-a-uri", write=True)


def test_open_queue_without_read_or_write(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    with pytest.raises(Error, match=rf"^Failed to open {uri} queue: INVALID_FLAGS: "):
        session.open_queue(uri)


def test_close_queue_twice(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    session.open_queue(uri, write=True)
    session.close_queue(uri)
    with pytest.raises(Error, match="^Queue not opened$"):
        session.close_queue(uri)


def test_get_queue_options_and_configure(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory(on_message=lambda m, h: None)
    session.open_queue(uri, read=True, options=QueueOptions(max_unconfirmed_messages=10))
    assert session.get_queue_options(uri) == QueueOptions(
        max_unconfirmed_messages=10,
        max_unconfirmed_bytes=QueueOptions.DEFAULT_MAX_UNCONFIRMED_BYTES,
        consumer_priority=QueueOptions.DEFAULT_CONSUMER_PRIORITY,
        suspends_on_bad_host_health=False,
    )
    session.configure_queue(uri, QueueOptions(consumer_priority=5))
    options = session.get_queue_options(uri)
    assert options.max_unconfirmed_messages == 10
    assert options.consumer_priority == 5


def test_outstanding_acks_are_nacked_before_close_returns(bmq_broker_uri, tmp_path, collector):
    from blazingmq.testing import start_broker

    acks = collector()
    events = collector()
    with start_broker(tmp_path / "broker") as broker:
        session = blazingmq.Session(events, broker=broker.uri)
        try:
            uri = "bmq://bmq.test.mem.priority/nack-on-close"
            session.open_queue(uri, write=True)
            broker.kill()  # no ACK can come from the broker now
            events.wait_for(lambda items: any(isinstance(e, session_events.ConnectionLost) for e in items))
            for _ in range(3):
                session.post(uri, b"never acked", on_ack=acks)
            try:
                session.close_queue(uri)
            except Error:
                pass  # the broker is gone: closing may fail, the NACKs must not
            # Delivered before close_queue returned, not merely soon after.
            assert len(acks.items) == 3
            assert all(a.status is not AckStatus.SUCCESS and a.guid is None for a in acks.items)
            assert all(a.queue_uri == uri for a in acks.items)
        finally:
            session.stop()


def test_negative_limits_are_refused_and_previous_options_kept(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory(on_message=lambda m, h: None)
    session.open_queue(uri, read=True, options=QueueOptions(max_unconfirmed_messages=7))
    with pytest.raises(Error, match=rf"^Failed to configure {uri} queue: "):
        session.configure_queue(uri, QueueOptions(max_unconfirmed_messages=-1))
    assert session.get_queue_options(uri).max_unconfirmed_messages == 7


def test_write_only_queue_reports_default_consumer_options(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    session.open_queue(uri, write=True)
    assert session.get_queue_options(uri) == QueueOptions(
        QueueOptions.DEFAULT_MAX_UNCONFIRMED_MESSAGES,
        QueueOptions.DEFAULT_MAX_UNCONFIRMED_BYTES,
        QueueOptions.DEFAULT_CONSUMER_PRIORITY,
        QueueOptions.DEFAULT_SUSPENDS_ON_BAD_HOST_HEALTH,
    )


def test_paused_consumer_gets_nothing_until_resumed(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    consumer = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    consumer.open_queue(uri, read=True)
    consumer.configure_queue(uri, QueueOptions(0, 0, 0))
    producer = session_factory()
    producer.open_queue(uri, write=True)
    producer.post(uri, b"held")
    import time

    time.sleep(0.5)
    assert received.items == []
    consumer.configure_queue(uri, QueueOptions(max_unconfirmed_messages=10, max_unconfirmed_bytes=1 << 20))
    assert received.wait_count(1)[0].data == b"held"


def test_payload_over_64_mib_is_too_big(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory()
    session.open_queue(uri, write=True)
    with pytest.raises(Error, match="^Failed to construct message: PAYLOAD_TOO_BIG$"):
        session.post(uri, b"x" * (64 * 1024 * 1024 + 1))
