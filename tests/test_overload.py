"""Overload: a producer faster than the channel, and consumers slower than
the producer.  Nothing crashes, memory stays bounded, the program is told
(events, BandwidthLimitError) and everything is delivered in the end.

The BW_LIMIT case with a short ``channel_write_timeout`` is in
test_session_events.py (test_full_channel_waits_then_raises_bandwidth_limit_and_recovers);
here the same stalled broker (SIGSTOP) with a generous timeout."""

from __future__ import annotations

import os
import signal
import threading
import time

import blazingmq
from blazingmq import AckStatus, QueueOptions, session_events


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_stalled_broker_with_a_generous_write_timeout_posts_wait_and_succeed(own_broker, collector):
    events = collector()
    acks = collector()
    uri = "bmq://bmq.test.mem.priority/overload_generous"
    high_watermark = 9 * 1024 * 1024
    payload = b"p" * 65536
    posts = 600  # about 38 MiB: four times the channel's high watermark
    session = blazingmq.Session(
        events, broker=own_broker.uri, channel_high_watermark=high_watermark, channel_write_timeout=120
    )
    resume = threading.Timer(2.0, os.kill, (own_broker.process.pid, signal.SIGCONT))
    try:
        session.open_queue(uri, write=True)
        rss_before = rss_bytes()
        os.kill(own_broker.process.pid, signal.SIGSTOP)
        resume.start()
        peak = 0
        for _ in range(posts):
            session.post(uri, payload, on_ack=acks)  # waits while the channel is full
            peak = max(peak, rss_bytes() - rss_before)
        resume.join()
        statuses = [a.status for a in acks.wait_count(posts, 60)]
    finally:
        resume.cancel()
        os.kill(own_broker.process.pid, signal.SIGCONT)
        session.stop()
    print(f"\nRSS growth while the broker was stalled: {peak / 2**20:.1f} MiB")
    assert statuses == [AckStatus.SUCCESS] * posts
    kinds = [type(e) for e in events.items]
    assert session_events.ChannelHighWatermark in kinds
    assert session_events.ChannelLowWatermark in kinds[kinds.index(session_events.ChannelHighWatermark):]
    # Posts wait instead of buffering without bound: far less than the
    # 38 MiB posted (the channel holds about its high watermark).
    assert peak < 32 * 1024 * 1024


def test_max_unconfirmed_messages_bounds_what_a_consumer_holds(session_factory, queue_uri, collector):
    """A consumer that does not confirm gets no more than its limit; each
    confirmation lets one more through; the producer is not slowed."""
    held = collector()
    uri = queue_uri()
    consumer = session_factory(on_message=lambda m, h: held(h), )
    consumer.open_queue(uri, read=True, options=QueueOptions(max_unconfirmed_messages=10))
    producer = session_factory()
    producer.open_queue(uri, write=True)
    acks = collector()
    for number in range(200):
        producer.post(uri, b"%d" % number, on_ack=acks)
    assert all(a.status is AckStatus.SUCCESS for a in acks.wait_count(200))
    held.wait_count(10)
    time.sleep(0.5)  # the broker had time to send more, if it were going to
    assert len(held.items) == 10
    for handle in list(held.items):
        handle.confirm()
    held.wait_count(20)
    time.sleep(0.5)
    assert len(held.items) == 20
    consumer.configure_queue(uri, QueueOptions(max_unconfirmed_messages=1000))
    delivered = held.wait_count(200)
    for handle in delivered[20:]:
        handle.confirm()
    for handle in delivered[10:20]:
        handle.confirm()


def test_slow_consumer_is_reported_and_catches_up(session_factory, queue_uri, collector):
    """A consumer stuck in on_message while 8,000 messages arrive: libbmq's
    event queue passes its high watermark (SlowConsumerHighWaterMark), then
    drains (SlowConsumerNormal); every message arrives once, and the
    backlog held in this process costs little memory."""
    events = collector()
    received = []
    gate = threading.Event()
    done = threading.Event()
    count = 8_000

    def on_message(message, handle):
        if not received:
            gate.wait(30)  # stuck, as a consumer doing slow work would be
        received.append(message.data)
        handle.confirm()
        if len(received) == count:
            done.set()

    uri = queue_uri()
    consumer = session_factory(events, on_message=on_message, event_queue_watermarks=(10, 50))
    consumer.open_queue(
        uri, read=True, options=QueueOptions(max_unconfirmed_messages=count, max_unconfirmed_bytes=2**30)
    )
    producer = session_factory()
    producer.open_queue(uri, write=True)
    # libbmq's buffer pools grow once to hold a burst of posts (about 90 MiB
    # for 20,000 posts in a row) and are reused afterwards: warm them up
    # first, so that the growth measured is the consumer's.
    producer.open_queue(uri + "_warmup", write=True)
    for number in range(count):
        producer.post(uri + "_warmup", b"%d" % number)
    time.sleep(0.5)
    rss_before = rss_bytes()
    for number in range(count):
        producer.post(uri, b"%d" % number)
        if number % 4 == 0:
            time.sleep(0.0002)  # separate PUSH events: more than the queues between libbmq and us hold
    time.sleep(0.5)
    gate.set()
    assert done.wait(60), len(received)
    growth = rss_bytes() - rss_before
    print(f"\nslow consumer: {len(received)} received, RSS growth {growth / 2**20:.1f} MiB")
    assert sorted(received, key=int) == [b"%d" % n for n in range(count)]
    kinds = [type(e) for e in events.items if isinstance(e, (session_events.SlowConsumerHighWaterMark, session_events.SlowConsumerNormal))]
    assert kinds[0] is session_events.SlowConsumerHighWaterMark
    assert kinds[-1] is session_events.SlowConsumerNormal
    assert growth < 64 * 1024 * 1024
