"""``Session.stats()``: counts that match a known workload, for the
synchronous and the asyncio session.  (Reconnections and channel waits are
checked where those happen: tests/test_session_events.py.)"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

import blazingmq
import blazingmq.aio
from blazingmq import AckStatus, SessionStats

from conftest import paused  # the shared helpers of this folder



def test_counts_match_the_workload(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()

    def on_message(message, handle):
        handle.confirm()
        received(message)

    consumer = session_factory(on_message=on_message)
    consumer.open_queue(uri, read=True)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    assert producer.stats() == SessionStats(
        messages_posted=0,
        bytes_posted=0,
        acks={},
        messages_received=0,
        bytes_received=0,
        messages_confirmed=0,
        posts_awaiting_ack=0,
        channel_waits=0,
        connections_lost=0,
        reconnections=0,
        channel_high_watermarks=0,
        slow_consumer_high_watermarks=0,
    )

    acks = collector()
    for number in range(5):
        producer.post(uri, b"a" * (number + 1), on_ack=acks)  # 1+2+3+4+5 bytes
    producer.post(uri, b"no ack wanted")  # 13 bytes
    producer.post_many(uri, [b"b" * 10] * 3, on_ack=acks)  # 30 bytes
    acks.wait_count(8)
    received.wait_count(9)

    stats = producer.stats()
    assert stats.messages_posted == 9
    assert stats.bytes_posted == 15 + 13 + 30
    assert dict(stats.acks) == {AckStatus.SUCCESS: 8}
    assert stats.nacks == 0
    assert stats.posts_awaiting_ack == 0
    assert (stats.messages_received, stats.messages_confirmed) == (0, 0)

    # Confirms made in the callback are counted once sent to libbmq (the
    # callback thread sends them after each batch).
    consumer_stats = consumer.stats()
    assert consumer_stats.messages_received == 9
    assert consumer_stats.bytes_received == 15 + 13 + 30
    assert consumer_stats.messages_confirmed == 9
    assert (consumer_stats.messages_posted, consumer_stats.acks) == (0, {})

    consumer.confirm_many([])  # nothing to confirm: nothing counted
    assert consumer.stats().messages_confirmed == 9


def test_nacks_by_status_and_posts_awaiting_ack(session_factory, queue_uri, collector, bmq_broker):
    producer = session_factory()
    uri = queue_uri("bmq.test.mem.limited")  # 3 messages per queue
    producer.open_queue(uri, write=True)
    acks = collector()
    with paused(bmq_broker):  # no ACK can come meanwhile
        for _ in range(5):
            producer.post(uri, b"x", on_ack=acks)
        producer.post(uri, b"refused, and no ACK was asked for")
        assert producer.stats().posts_awaiting_ack == 5
    acks.wait_count(5)
    statuses = [ack.status for ack in acks.items]
    assert statuses == [AckStatus.SUCCESS] * 3 + [AckStatus.LIMIT_MESSAGES] * 2

    # The NACK of the post without on_ack is counted, though not delivered.
    nacked = lambda: producer.stats().acks.get(AckStatus.LIMIT_MESSAGES, 0)  # noqa: E731
    collector().wait_for(lambda _: nacked() == 3)
    stats = producer.stats()
    assert dict(stats.acks) == {AckStatus.SUCCESS: 3, AckStatus.LIMIT_MESSAGES: 3}
    assert stats.nacks == 3
    assert stats.posts_awaiting_ack == 0
    assert stats.messages_posted == 6


def test_stats_is_a_frozen_value_readable_after_stop(session_factory, queue_uri):
    session = session_factory()
    uri = queue_uri()
    session.open_queue(uri, write=True)
    session.post(uri, b"one")
    session.stop()
    stats = session.stats()
    assert stats.messages_posted == 1
    assert stats == session.stats() and hash(stats) == hash(session.stats())
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.messages_posted = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        stats.acks[AckStatus.SUCCESS] = 1  # type: ignore[index]
    assert repr(stats).startswith("SessionStats(messages_posted=1, bytes_posted=3, acks={}, ")


def test_aio_session_counts(bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> SessionStats:
        async with blazingmq.aio.Session(bmq_broker_uri) as session:
            assert session.stats().messages_posted == 0
            await session.open_queue(uri, read=True, write=True)
            acks = [await session.post(uri, b"x" * 100) for _ in range(3)]
            session.post_nowait(uri, b"y")
            assert [ack.status for ack in acks] == [AckStatus.SUCCESS] * 3
            seen = 0
            async for message in session.messages(uri):
                message.confirm()
                seen += 1
                if seen == 4:
                    break
            await asyncio.sleep(0)  # the confirmations go at the end of the loop iteration
            await session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
            await session.close_queue(uri)
        return session.stats()

    stats = asyncio.run(main())
    assert stats.messages_posted == 4 and stats.bytes_posted == 301
    assert dict(stats.acks) == {AckStatus.SUCCESS: 3}
    assert stats.messages_received == 4 and stats.bytes_received == 301
    assert stats.messages_confirmed == 4
    assert stats.posts_awaiting_ack == 0
