"""The session's limits on posts awaiting their ACK (``max_unacked_posts``,
``max_unacked_bytes``): a post beyond them waits for ACKs like a post to a
full channel, then raises BandwidthLimitError; posts without ``on_ack`` and
posts made in callbacks are not limited.  The broker is paused (SIGSTOP) so
that no ACK comes while a test fills the window."""

import asyncio
import contextlib
import threading
import time
from typing import Any, Iterator, List

import pytest
from conftest import paused

import blazingmq
import blazingmq.aio
from blazingmq import AckStatus, session_events
from blazingmq.exceptions import BandwidthLimitError

PAYLOAD = b"x" * 1024


@contextlib.contextmanager
def _producer(broker_uri: str, uri: str, **options: Any) -> Iterator[blazingmq.Session]:
    """A session with ``options`` and ``uri`` open for writing."""
    with blazingmq.Session(lambda event: None, broker=broker_uri, **options) as session:
        session.open_queue(uri, write=True)
        yield session


def _post_until_refused(session: blazingmq.Session, uri: str, acks: Any, limit: int) -> int:
    """Post with ``on_ack`` until BandwidthLimitError; return how many went."""
    for posted in range(limit):
        try:
            session.post(uri, PAYLOAD, on_ack=acks)
        except BandwidthLimitError as error:
            assert str(error) == f"Failed to post message to {uri} queue: BW_LIMIT"
            return posted
    raise AssertionError(f"{limit} posts and none refused")


def test_posts_beyond_max_unacked_posts_wait_then_raise_and_all_are_acked(own_broker, collector):
    acks = collector()
    uri = "bmq://bmq.test.mem.priority/unacked-posts"
    with _producer(own_broker.uri, uri, max_unacked_posts=100, channel_write_timeout=0.3) as session:
        with paused(own_broker):
            started = time.monotonic()
            assert _post_until_refused(session, uri, acks, 1000) == 100
            # The refused post waited for the timeout first.
            assert time.monotonic() - started >= 0.3
        assert [a.status for a in acks.wait_count(100, 30)] == [AckStatus.SUCCESS] * 100
        # The window is open again.
        session.post(uri, PAYLOAD, on_ack=acks)
        assert acks.wait_count(101, 30)[-1].status is AckStatus.SUCCESS


def test_max_unacked_bytes_counts_payload_bytes(own_broker, collector):
    acks = collector()
    uri = "bmq://bmq.test.mem.priority/unacked-bytes"
    with _producer(own_broker.uri, uri, max_unacked_bytes=10_000, channel_write_timeout=0.2) as session:
        with paused(own_broker):
            # Refused once the posts awaiting ACKs hold 10,000 bytes or more:
            # the tenth 1 KiB post brings them to 10,240.
            assert _post_until_refused(session, uri, acks, 1000) == 10
        assert len(acks.wait_count(10, 30)) == 10


def test_a_waiting_post_resumes_when_acks_come(own_broker, collector):
    acks = collector()
    uri = "bmq://bmq.test.mem.priority/unacked-resume"
    with _producer(own_broker.uri, uri, max_unacked_posts=50, channel_write_timeout=60) as session:
        outcome: List[Any] = []
        with paused(own_broker):
            for _ in range(50):
                session.post(uri, PAYLOAD, on_ack=acks)

            def post_one_more() -> None:
                try:
                    session.post(uri, b"the 51st", on_ack=acks)
                    outcome.append("posted")
                except BaseException as error:  # reported to the test below
                    outcome.append(error)

            poster = threading.Thread(target=post_one_more)
            poster.start()
            time.sleep(0.5)
            assert outcome == []  # waiting for ACKs, none can come
        poster.join(30)
        assert outcome == ["posted"]
        assert len(acks.wait_count(51, 30)) == 51
        assert all(a.status is AckStatus.SUCCESS for a in acks.items)


def test_the_limit_bounds_the_posts_kept_while_reconnecting(own_broker, collector):
    """libbmq keeps accepting posts while the connection is down and sends
    them after reconnecting: the limit bounds those too."""
    events = collector()
    acks = collector()
    uri = "bmq://bmq.test.persistent.priority/unacked-reconnect"
    with blazingmq.Session(
        events, broker=own_broker.uri, max_unacked_posts=50, channel_write_timeout=0.3
    ) as session:
        session.open_queue(uri, write=True)
        own_broker.kill()
        events.wait_for(lambda items: any(isinstance(e, session_events.ConnectionLost) for e in items))
        assert _post_until_refused(session, uri, acks, 1000) == 50
        own_broker.start()
        events.wait_for(lambda items: any(isinstance(e, session_events.StateRestored) for e in items), 60)
        # The kept posts went out after the reconnection, and the window is
        # open again.
        assert [a.status for a in acks.wait_count(50, 60)] == [AckStatus.SUCCESS] * 50
        session.post(uri, PAYLOAD, on_ack=acks)
        assert acks.wait_count(51, 30)[-1].status is AckStatus.SUCCESS


def test_posts_without_on_ack_are_not_limited(own_broker):
    uri = "bmq://bmq.test.mem.priority/unacked-no-ack"
    with _producer(own_broker.uri, uri, max_unacked_posts=10, channel_write_timeout=0) as session:
        with paused(own_broker):
            for _ in range(200):
                session.post(uri, PAYLOAD)  # would raise at the 11th if counted


def test_zero_means_no_limit(own_broker, collector):
    acks = collector()
    uri = "bmq://bmq.test.mem.priority/unacked-unlimited"
    with _producer(
        own_broker.uri, uri, max_unacked_posts=0, max_unacked_bytes=0, channel_write_timeout=0
    ) as session:
        with paused(own_broker):
            # More than the default limit of 20,000 (20 MiB: below the
            # channel's high watermark, so the channel does not refuse them).
            for _ in range(20_500):
                session.post(uri, PAYLOAD, on_ack=acks)
        assert len(acks.wait_count(20_500, 60)) == 20_500


def test_posts_from_a_callback_are_not_limited(bmq_broker_uri, queue_uri, collector):
    """The callback thread delivers the ACKs: waiting there for ACKs would
    wait for itself.  With a limit of one post, the first post's ACK
    callback posts again (the window is still full then) and succeeds."""
    uri = queue_uri()
    acks = collector()
    errors: List[BaseException] = []

    with _producer(bmq_broker_uri, uri, max_unacked_posts=1, channel_write_timeout=0) as session:

        def post_from_callback(ack: blazingmq.Ack) -> None:
            acks(ack)
            try:
                for _ in range(5):
                    session.post(uri, b"from the callback", on_ack=acks)
            except BaseException as error:
                errors.append(error)

        session.post(uri, b"first", on_ack=post_from_callback)
        assert len(acks.wait_count(6, 30)) == 6
    assert errors == []
    assert all(a.status is AckStatus.SUCCESS for a in acks.items)


def test_post_many_waits_for_the_window_between_events(own_broker, collector):
    acks = collector()
    uri = "bmq://bmq.test.mem.priority/unacked-post-many"
    with _producer(own_broker.uri, uri, max_unacked_posts=100, channel_write_timeout=0.3) as session:
        with paused(own_broker):
            session.post_many(uri, [PAYLOAD] * 100, on_ack=acks)  # fills the window
            with pytest.raises(BandwidthLimitError, match=r"BW_LIMIT \(0 of 10 messages were posted\)$"):
                session.post_many(uri, [PAYLOAD] * 10, on_ack=acks)
        assert len(acks.wait_count(100, 30)) == 100
        session.post_many(uri, [PAYLOAD] * 10, on_ack=acks)
        assert len(acks.wait_count(110, 30)) == 110


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"max_unacked_posts": "1"}, TypeError, "max_unacked_posts must be an int, not 'str'"),
        ({"max_unacked_posts": True}, TypeError, "max_unacked_posts must be an int, not 'bool'"),
        ({"max_unacked_posts": -1}, ValueError, "max_unacked_posts must be 0 (no limit) or more, was -1"),
        ({"max_unacked_bytes": 1.5}, TypeError, "max_unacked_bytes must be an int, not 'float'"),
        ({"max_unacked_bytes": 2**63}, ValueError, "max_unacked_bytes must be 0 (no limit) or more, was"),
    ],
)
def test_bad_limits_are_refused(bmq_broker_uri, kwargs, error, text):
    with pytest.raises(error) as raised:
        blazingmq.Session(lambda event: None, broker=bmq_broker_uri, **kwargs)
    assert str(raised.value).startswith(text)
    with pytest.raises(error) as raised:
        blazingmq.aio.Session(broker=bmq_broker_uri, **kwargs)
    assert str(raised.value).startswith(text)


def test_aio_posts_beyond_the_window_wait_without_blocking_the_loop(own_broker):
    uri = "bmq://bmq.test.mem.priority/aio-unacked"

    async def main() -> None:
        async with blazingmq.aio.Session(
            broker=own_broker.uri, max_unacked_posts=50, channel_write_timeout=60
        ) as session:
            await session.open_queue(uri, write=True)
            with paused(own_broker):
                futures = [session.post(uri, b"%04d" % i) for i in range(120)]
                # 50 were handed to libbmq; the rest wait in the session.
                assert len(session._waiting_posts) == 70
                ticks = 0
                for _ in range(5):
                    await asyncio.sleep(0.05)  # the loop runs meanwhile
                    ticks += 1
                assert ticks == 5
            acks = await asyncio.wait_for(asyncio.gather(*futures), 60)
            assert [a.status for a in acks] == [AckStatus.SUCCESS] * 120

    asyncio.run(main())
