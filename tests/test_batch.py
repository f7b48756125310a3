"""Batching beyond the existing SDK: ``post_many`` (many messages per PUT
event) and ``confirm_many`` (many confirmations per CONFIRM event)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

import blazingmq
from blazingmq import AckStatus, Error, QueueOptions
from blazingmq.exceptions import BandwidthLimitError
from blazingmq.testing import start_broker


def test_post_many_delivers_every_message_in_order_with_one_ack_each(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    acks = collector()
    session = session_factory(on_message=lambda message, handle: (received(message), handle.confirm()))
    session.open_queue(uri, read=True, write=True)
    payloads = [f"message {i}".encode() for i in range(1000)]

    session.post_many(uri, payloads, properties={"batch": "yes", "n": 7}, on_ack=acks)

    assert [ack.status for ack in acks.wait_count(1000)] == [AckStatus.SUCCESS] * 1000
    assert len({ack.guid for ack in acks.items}) == 1000
    messages = received.wait_count(1000)
    assert [m.data for m in messages] == payloads
    assert all(m.properties == {"batch": "yes", "n": 7} for m in messages)
    assert {m.guid for m in messages} == {ack.guid for ack in acks.items}


def test_post_many_splits_what_does_not_fit_in_one_event(session_factory, queue_uri, collector):
    uri = queue_uri("bmq.bench.mem.priority")
    acks = collector()
    session = session_factory()
    session.open_queue(uri, write=True)
    # 80 MiB in all: more than one PUT event can carry (64 MiB).
    payloads = [bytes([i]) * (1024 * 1024) for i in range(80)]

    session.post_many(uri, payloads, on_ack=acks)

    statuses = [ack.status for ack in acks.wait_count(80, 60)]
    assert statuses == [AckStatus.SUCCESS] * 80


def test_payloads_of_mixed_sizes_arrive_intact_and_in_order(session_factory, queue_uri, collector):
    """The consumer copies the payloads of each PUSH event into shared
    chunks (one of its own for a large payload): tiny, medium and large
    payloads side by side come out byte for byte."""
    uri = queue_uri("bmq.bench.mem.priority")
    received = collector()
    session = session_factory(on_message=lambda message, handle: (received(message.data), handle.confirm()))
    session.open_queue(uri, read=True, write=True)
    sizes = [1, 3000, 200_000, 7, 100_000, 130_000, 60_000, 1, 256 * 1024, 300_000, 128 * 1024 + 1] * 3
    payloads = [os.urandom(size) for size in sizes]

    session.post_many(uri, payloads)

    assert received.wait_count(len(payloads), 60) == payloads


def test_post_many_without_on_ack_and_from_a_generator(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    session = session_factory(on_message=lambda message, handle: (received(message.data), handle.confirm()))
    session.open_queue(uri, read=True, write=True)

    session.post_many(uri, (bytes([65 + i]) for i in range(5)))

    assert received.wait_count(5) == [b"A", b"B", b"C", b"D", b"E"]


@pytest.mark.parametrize(
    "messages, error, text",
    [
        (b"abc", TypeError, "^messages must be an iterable of bytes, not 'bytes'$"),
        (42, TypeError, "^messages must be an iterable of bytes, not 'int'$"),
        ([b"ok", "text"], TypeError, "^not expecting type '<class 'str'>'$"),
        ([b"ok", b""], Error, "^Failed to construct message: PAYLOAD_EMPTY$"),
    ],
)
def test_post_many_rejects_bad_messages_before_posting_any(session_factory, queue_uri, collector, messages, error, text):
    uri = queue_uri()
    received = collector()
    session = session_factory(on_message=lambda message, handle: received(message.data))
    session.open_queue(uri, read=True, write=True)

    with pytest.raises(error, match=text):
        session.post_many(uri, messages)

    # The session still works, and nothing of the refused batch arrived.
    session.post(uri, b"after")
    assert received.wait_count(1) == [b"after"]


def test_post_many_checks_the_callback_and_the_queue(session_factory, queue_uri):
    uri = queue_uri()
    session = session_factory(on_message=lambda message, handle: None)
    with pytest.raises(Error, match="^Queue not opened$"):
        session.post_many(uri, [b"x"])
    session.open_queue(uri, read=True)
    with pytest.raises(Error, match="^Failed to construct message: QUEUE_READONLY$"):
        session.post_many(uri, [b"x"])
    with pytest.raises(TypeError, match="^on_ack must be a callable or None, not 'int'$"):
        session.post_many(uri, [b"x"], on_ack=1)
    writer = queue_uri()
    session.open_queue(writer, write=True)
    session.post_many(writer, [])  # nothing to do


def test_post_many_waits_for_a_full_channel_then_reports_how_many_were_posted(tmp_path, collector):
    acks = collector()
    with start_broker(tmp_path / "broker") as broker:
        with blazingmq.Session(
            lambda event: None,
            broker=broker.uri,
            channel_high_watermark=9 * 1024 * 1024,
            channel_write_timeout=0.5,
        ) as session:
            uri = "bmq://bmq.bench.mem.priority/post-many-bw-limit"
            session.open_queue(uri, write=True)
            payloads = [b"x" * 65536] * 20000  # 1.25 GiB: more than the socket buffers take
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                with pytest.raises(BandwidthLimitError) as raised:
                    session.post_many(uri, payloads, on_ack=acks)
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            text = str(raised.value)
            assert text.startswith(f"Failed to post message to {uri} queue: BW_LIMIT (")
            posted = int(text.split("(")[1].split(" of ")[0])
            assert 0 < posted < 20000
            # Exactly the posted ones are acknowledged, and no more.
            assert len(acks.wait_count(posted, 60)) == posted
            assert all(ack.status is AckStatus.SUCCESS for ack in acks.items)


def test_post_many_with_a_generous_timeout_rides_out_a_paused_broker(tmp_path, collector):
    acks = collector()
    with start_broker(tmp_path / "broker") as broker:
        with blazingmq.Session(
            lambda event: None,
            broker=broker.uri,
            channel_high_watermark=9 * 1024 * 1024,
            channel_write_timeout=60,
        ) as session:
            uri = "bmq://bmq.bench.mem.priority/post-many-paused"
            session.open_queue(uri, write=True)
            os.kill(broker.process.pid, signal.SIGSTOP)
            threading.Timer(2.0, os.kill, (broker.process.pid, signal.SIGCONT)).start()
            session.post_many(uri, [b"y" * 65536] * 1000, on_ack=acks)
            assert len(acks.wait_count(1000, 60)) == 1000
            assert all(ack.status is AckStatus.SUCCESS for ack in acks.items)


def test_confirm_many_confirms_exactly_the_given_messages(bmq_broker_uri, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    with blazingmq.Session(lambda event: None, on_message=lambda m, h: received(m), broker=bmq_broker_uri) as first:
        first.open_queue(uri, read=True, write=True)
        first.post_many(uri, [f"{i}".encode() for i in range(50)])
        messages = received.wait_count(50)
        first.confirm_many(messages[:30])
        first.confirm_many([])  # nothing to do
        first.configure_queue(uri, QueueOptions(0, 0, 0))
        first.close_queue(uri)

    # The 20 unconfirmed messages are delivered again, and only they.
    again = collector()
    with blazingmq.Session(
        lambda event: None, on_message=lambda m, h: (again(m.data), h.confirm()), broker=bmq_broker_uri
    ) as second:
        second.open_queue(uri, read=True)
        assert sorted(again.wait_count(20), key=int) == [f"{i}".encode() for i in range(30, 50)]
        with pytest.raises(AssertionError):
            again.wait_count(21, timeout=1.0)


def test_confirm_many_inside_on_message_and_its_errors(session_factory, queue_uri, collector):
    uri = queue_uri()
    confirmed = collector()
    sessions = []

    def on_message(message, handle):
        sessions[0].confirm_many([message])
        confirmed(message.data)

    session = session_factory(on_message=on_message)
    sessions.append(session)
    session.open_queue(uri, read=True, write=True)
    session.post_many(uri, [b"a", b"b"])
    assert confirmed.wait_count(2) == [b"a", b"b"]

    with pytest.raises(TypeError, match="^message must be a blazingmq.Message, not 'bytes'$"):
        session.confirm_many([b"a"])
    with pytest.raises(TypeError, match="^messages must be an iterable of Message, not 'int'$"):
        session.confirm_many(5)
    session.stop()
    with pytest.raises(Error, match="^Method called after session was stopped$"):
        session.confirm_many([])
