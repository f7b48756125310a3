"""Posts held back to share a PUT event: while many posts await their ACK, a
post may wait in the session's event builder for the next ones (see
``d_heldMessages`` in src/cpp/bmqpy_session.h).  Nothing may be lost,
reordered or left behind: the ACKs that come send what is held, and so do
``close_queue`` and a full channel clearing.  The broker is paused (SIGSTOP)
so that posts pile up unacknowledged and the last ones are surely held."""

import threading
from typing import List, Tuple

import pytest
from conftest import paused

import blazingmq
from blazingmq import AckStatus
from blazingmq.exceptions import BandwidthLimitError

# Over the number of posts awaiting ACKs from which posts are held (64), and
# not a multiple of the most held at a time (64): some are left held.
COUNT = 203


def _consumer(broker_uri: str, uri: str, expected: int) -> Tuple[blazingmq.Session, List[bytes], threading.Event]:
    """A session reading ``uri``, the list its payloads fill, and an event
    set once ``expected`` have come."""
    received: List[bytes] = []
    done = threading.Event()

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        received.append(message.data)
        handle.confirm()
        if len(received) == expected:
            done.set()

    session = blazingmq.Session(lambda event: None, on_message=on_message, broker=broker_uri)
    session.open_queue(uri, read=True)
    return session, received, done


def test_held_posts_are_sent_in_order_once_acks_come(own_broker, collector):
    uri = "bmq://bmq.test.mem.priority/coalescing-order"
    acks = collector()
    consumer, received, done = _consumer(own_broker.uri, uri, COUNT + COUNT // 3)
    expected: List[bytes] = []
    try:
        with blazingmq.Session(lambda event: None, broker=own_broker.uri) as producer:
            producer.open_queue(uri, write=True)
            with paused(own_broker):
                # Mixed: posts with and without on_ack, and post_many.
                for i in range(COUNT):
                    payload = b"%d" % i
                    if i % 3 == 0:
                        producer.post(uri, payload)
                    elif i % 3 == 1:
                        producer.post(uri, payload, on_ack=acks)
                    else:
                        producer.post_many(uri, [payload, payload + b"+"], on_ack=acks)
                    expected.extend([payload, payload + b"+"] if i % 3 == 2 else [payload])
            # Nothing more is posted: the ACKs alone must send what is held.
            with_ack = len(expected) - (COUNT + 2) // 3
            statuses = [ack.status for ack in acks.wait_count(with_ack, 30)]
            assert statuses == [AckStatus.SUCCESS] * with_ack
            assert done.wait(30), f"{len(received)} of {len(expected)} arrived"
            assert received == expected
    finally:
        consumer.stop()


def test_close_queue_sends_held_posts_first(own_broker, collector):
    uri = "bmq://bmq.test.mem.priority/coalescing-close"
    acks = collector()
    consumer, received, done = _consumer(own_broker.uri, uri, COUNT)
    try:
        with blazingmq.Session(lambda event: None, broker=own_broker.uri) as producer:
            producer.open_queue(uri, write=True)
            with paused(own_broker):
                for i in range(COUNT):
                    producer.post(uri, b"%d" % i, on_ack=acks)
                closing = threading.Thread(target=producer.close_queue, args=(uri,))
                closing.start()
            closing.join(30)
            assert not closing.is_alive()
            assert [ack.status for ack in acks.wait_count(COUNT, 30)] == [AckStatus.SUCCESS] * COUNT
            assert done.wait(30), f"{len(received)} of {COUNT} arrived"
            assert received == [b"%d" % i for i in range(COUNT)]
    finally:
        consumer.stop()


def test_close_queue_on_a_full_channel_keeps_the_queue_and_its_held_posts(own_broker, collector):
    """A close cannot leave held posts behind: while the channel stays full
    it fails (the queue stays open), and once the broker drains the channel
    every post the session took is sent and acknowledged."""
    uri = "bmq://bmq.bench.mem.priority/coalescing-full-channel"
    acks = collector()
    with blazingmq.Session(
        lambda event: None,
        broker=own_broker.uri,
        channel_high_watermark=9 * 1024 * 1024,
        channel_write_timeout=0.5,
        max_unacked_posts=0,
        max_unacked_bytes=0,
    ) as producer:
        producer.open_queue(uri, write=True)
        taken = 0
        with paused(own_broker):
            with pytest.raises(BandwidthLimitError):
                while True:
                    producer.post(uri, b"z" * 1024, on_ack=acks)
                    taken += 1
            with pytest.raises(blazingmq.Error, match="^Failed to close .* queue: BW_LIMIT: the channel stayed full"):
                producer.close_queue(uri, timeout=1)
        assert taken > 1000
        statuses = [ack.status for ack in acks.wait_count(taken, 60)]
        assert statuses == [AckStatus.SUCCESS] * taken
        producer.close_queue(uri)
