"""``blazingmq.aio`` against the real broker, on asyncio's default event loop
and on uvloop when it is importable (every test runs on each)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable, Dict, Iterator, List

import pytest

import blazingmq
import blazingmq.aio
from blazingmq import AckStatus, Error, QueueOptions, Timeouts, session_events
from blazingmq.exceptions import BandwidthLimitError

from conftest import paused  # the shared helpers of this folder

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the test extra
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])

# Generous: the machine is shared; nothing here asserts on speed.
_TIMEOUT = 120.0

Run = Callable[[Awaitable[Any]], Any]


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    """``run(coroutine)`` on a fresh event loop of the parametrized kind."""

    def run(coroutine: Awaitable[Any]) -> Any:
        if request.param == "uvloop":
            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(asyncio.wait_for(coroutine, _TIMEOUT))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    yield run


async def _take(iterator: Any, count: int) -> List[Any]:
    items = []
    async for item in iterator:
        items.append(item)
        if len(items) == count:
            break
    return items


async def _drain(session: blazingmq.aio.Session, uri: str, quiet: float = 1.0) -> List[bytes]:
    """Confirm and return every message of ``uri`` until none comes for
    ``quiet`` seconds."""
    payloads = []
    iterator = session.messages(uri)
    while True:
        try:
            message = await asyncio.wait_for(iterator.__anext__(), quiet)
        except asyncio.TimeoutError:
            return payloads
        payloads.append(message.data)
        message.confirm()


def test_post_ack_and_confirm_round_trip(run, bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True, write=True)
            ack = await session.post(uri, b"first", {"n": 1, "who": "aio"})
            assert isinstance(ack, blazingmq.Ack)
            assert ack.status is AckStatus.SUCCESS
            assert ack.queue_uri == uri and len(ack.guid) == 16
            # Futures kept and awaited together: posted at once, in order.
            acks = await asyncio.gather(*[session.post(uri, f"m{i}".encode()) for i in range(3)])
            assert [a.status for a in acks] == [AckStatus.SUCCESS] * 3

            messages = await _take(session.messages(uri), 4)
            assert [m.data for m in messages] == [b"first", b"m0", b"m1", b"m2"]
            first = messages[0]
            assert first.guid == ack.guid and first.queue_uri == uri
            assert first.properties == {"n": 1, "who": "aio"}
            assert first.property_types == {"n": blazingmq.PropertyType.INT64, "who": blazingmq.PropertyType.STRING}
            await first.confirm()  # awaited ...
            messages[1].confirm()  # ... or not: both confirm
            session.confirm(messages[2])
            # messages[3] stays unconfirmed.
            await session.configure_queue(uri, QueueOptions(0, 0, 0))
            await session.close_queue(uri)

        # Only the unconfirmed message is delivered again.
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True)
            assert await _drain(session, uri) == [b"m2"]

    run(main())


def test_post_nowait_posts_without_an_ack(run, bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True, write=True)
            assert session.post_nowait(uri, b"fire", {"k": b"v"}) is None
            (message,) = await _take(session.messages(), 1)
            assert (message.data, message.properties) == (b"fire", {"k": b"v"})
            message.confirm()
            # Input errors are raised at once, as by the sync post.
            with pytest.raises(TypeError):
                session.post_nowait(uri, "not bytes")  # type: ignore[arg-type]
            with pytest.raises(Error, match="Queue not opened"):
                session.post(uri + "-other", b"x")

    run(main())


def test_messages_per_queue_and_for_all_queues(run, bmq_broker_uri, queue_uri):
    first, second = queue_uri(), queue_uri()

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(first, read=True, write=True)
            await session.open_queue(second, read=True, write=True)
            await asyncio.gather(*[session.post(first, b"1-%d" % i) for i in range(5)])
            await asyncio.gather(*[session.post(second, b"2-%d" % i) for i in range(5)])
            # One queue's iterator sees only that queue.
            only_second = await _take(session.messages(second), 5)
            assert [m.data for m in only_second] == [b"2-%d" % i for i in range(5)]
            for message in only_second:
                message.confirm()
            # The iterator over every queue gets the rest.
            rest = await _take(session.messages(), 5)
            assert [m.data for m in rest] == [b"1-%d" % i for i in range(5)]
            assert {m.queue_uri for m in rest} == {first}
            for message in rest:
                message.confirm()
            # Closing a queue ends its iterator.
            waiting = asyncio.ensure_future(_take(session.messages(second), 1))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            await session.close_queue(second)
            assert await waiting == []
            with pytest.raises(Error, match="not open for reading"):
                session.messages(second)

    run(main())


def test_events_iterator_from_connected_to_disconnected(run, bmq_broker_uri, queue_uri):
    async def main() -> None:
        session = blazingmq.aio.Session(broker=bmq_broker_uri)
        collected = asyncio.ensure_future(_take(session.events(), 100))
        async with session:
            await session.open_queue(queue_uri(), write=True)
            await asyncio.sleep(0.1)
            assert not collected.done()
        # The iterator ends with the session, after its last events.
        events = await collected
        assert [type(e) for e in events] == [session_events.Connected, session_events.Disconnected]

    run(main())


def test_cancelled_posts_are_posted_exactly_once(run, bmq_broker_uri, queue_uri):
    """Cancelling an awaited post (directly, through a task, or by a
    timeout) neither loses nor duplicates its message: counted on the
    consumer side."""
    uri = queue_uri()

    async def main() -> None:
        posted: List[bytes] = []

        async def post(session: blazingmq.aio.Session, payload: bytes) -> None:
            future = session.post(uri, payload)
            posted.append(payload)
            await future

        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, write=True)
            tasks = [asyncio.ensure_future(post(session, b"task-%d" % i)) for i in range(100)]
            await asyncio.sleep(0)  # every task ran up to its await
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(isinstance(r, asyncio.CancelledError) for r in results)
            futures = [session.post(uri, b"future-%d" % i) for i in range(100)]
            for future in futures:
                future.cancel()
            timed_out = 0
            for i in range(20):
                try:
                    await asyncio.wait_for(session.post(uri, b"timeout-%d" % i), 0)
                except asyncio.TimeoutError:
                    timed_out += 1
            assert timed_out > 0  # an ACK cannot come back within no time at all
            # Cancelled before it ran: never posted.
            never = asyncio.ensure_future(post(session, b"never"))
            never.cancel()
            with pytest.raises(asyncio.CancelledError):
                await never
            # The session is still fine, and ACKs arrive for later posts.
            assert (await session.post(uri, b"last")).status is AckStatus.SUCCESS

        expected = sorted(posted + [b"future-%d" % i for i in range(100)]
                          + [b"timeout-%d" % i for i in range(20)] + [b"last"])
        assert len(expected) == 221
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True)
            assert sorted(await _drain(session, uri)) == expected

    run(main())


def test_timeouts_leave_iterators_usable(run, bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True, write=True)
            messages = session.messages(uri)
            events = session.events()
            assert type(await events.__anext__()) is session_events.Connected
            for _ in range(3):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(messages.__anext__(), 0.05)
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(events.__anext__(), 0.05)
            # The abandoned waits left nothing behind.
            assert session._message_waiters == [] and session._event_waiters == []
            await session.post(uri, b"after timeouts")
            message = await asyncio.wait_for(messages.__anext__(), 10)
            assert message.data == b"after timeouts"
            await message.confirm()

    run(main())


def test_queue_operations_do_not_block_the_loop_and_stop_cancels_waiters(run, own_broker):
    uri = "bmq://bmq.test.mem.priority/aio-stop"

    async def main() -> None:
        session = blazingmq.aio.Session(broker=own_broker.uri, timeout=Timeouts(disconnect_timeout=2))
        await session.start()
        await session.open_queue(uri, write=True)
        with paused(own_broker):
            await asyncio.sleep(0.2)  # SIGSTOP takes effect asynchronously
            ack = session.post(uri, b"unanswered")
            opening = asyncio.ensure_future(session.open_queue(uri + "-2", read=True))
            message = asyncio.ensure_future(session.messages().__anext__())
            event = asyncio.ensure_future(_take(session.events(), 100))
            # The loop keeps running while libbmq waits for the broker.
            ticks = 0
            for _ in range(5):
                await asyncio.sleep(0.05)
                ticks += 1
            assert ticks == 5 and not opening.done() and not ack.done()
            await session.stop()
            # libbmq fails the unacknowledged post when it stops ...
            assert (await ack).status is AckStatus.UNKNOWN
            # ... and every other wait is cancelled or ended.
            with pytest.raises(asyncio.CancelledError):
                await opening
            with pytest.raises(StopAsyncIteration):
                await message
            assert type((await event)[-1]) is session_events.Disconnected
        with pytest.raises(Error, match="stopped"):
            session.post(uri, b"after stop")
        with pytest.raises(Error, match="stopped"):
            await session.open_queue(uri, write=True)
        await session.stop()  # idempotent

    run(main())


def test_full_channel_posts_wait_in_order_then_go(run, own_broker):
    """With the broker paused the channel fills: later posts wait in the
    session (the loop is not blocked), fail after ``channel_write_timeout``
    or, with a generous one, all go through in order once it resumes."""
    uri = "bmq://bmq.bench.mem.priority/aio-bw-limit"
    payload = b"x" * 65536

    async def main() -> None:
        async with blazingmq.aio.Session(
            broker=own_broker.uri, channel_high_watermark=9 * 1024 * 1024, channel_write_timeout=60
        ) as session:
            await session.open_queue(uri, read=True, write=True)
            futures: List["asyncio.Future[blazingmq.Ack]"] = []
            with paused(own_broker):
                await asyncio.sleep(0.2)  # SIGSTOP takes effect asynchronously
                for i in range(2000):  # 128 MiB: more than the socket buffers take
                    futures.append(session.post(uri, b"%06d" % i + payload))
                waiting = len(session._waiting_posts)
                assert waiting > 0
                with pytest.raises(BandwidthLimitError):
                    session.post_nowait(uri, b"would overtake")
                await asyncio.sleep(1.0)
                # Those waiting for the channel were not posted yet.
                assert not any(f.done() for f in futures[-waiting:])
            acks = await asyncio.gather(*futures)
            assert all(a.status is AckStatus.SUCCESS for a in acks)
            received = []
            async for message in session.messages(uri):
                received.append(message.data[:6])
                message.confirm()  # within max_unconfirmed_bytes
                if len(received) == 2000:
                    break
            assert received == [b"%06d" % i for i in range(2000)]

    run(main())


def test_full_channel_post_times_out_and_stop_cancels_the_rest(run, own_broker):
    uri = "bmq://bmq.bench.mem.priority/aio-bw-timeout"
    payload = b"y" * 65536

    async def main() -> None:
        session = blazingmq.aio.Session(
            broker=own_broker.uri,
            channel_high_watermark=9 * 1024 * 1024,
            channel_write_timeout=0.5,
            timeout=Timeouts(disconnect_timeout=2),
        )
        async with session:
            await session.open_queue(uri, write=True)
            with paused(own_broker):
                await asyncio.sleep(0.2)  # SIGSTOP takes effect asynchronously
                futures = [session.post(uri, payload) for _ in range(2000)]
                waiting = futures[-len(session._waiting_posts):]
                assert waiting
                with pytest.raises(BandwidthLimitError, match="BW_LIMIT"):
                    await waiting[0]
                # Every post that waited failed the same way, none was posted.
                results = await asyncio.gather(*waiting, return_exceptions=True)
                assert all(isinstance(r, BandwidthLimitError) for r in results)
                # A waiting post at stop() is cancelled.
                late = [session.post(uri, payload) for _ in range(500)]
                assert session._waiting_posts
                await session.stop()
        assert any(f.cancelled() for f in late)

    run(main())


def test_the_loop_delivers_its_own_events_once_per_batch(run, bmq_broker_uri, queue_uri):
    """libbmq's thread only queues events and wakes the loop (through a
    pipe, once per batch): the callbacks run on the loop's thread, so no
    other thread is woken and none competes for the GIL; ACKs and messages
    of one batch cost one wake-up."""
    uri = queue_uri()
    counts: Dict[str, int] = {"batches": 0, "elsewhere": 0, "wakeups": 0}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            handle = session._session._handle
            batch_end = handle.on_batch_end

            def counting_batch_end() -> None:
                counts["batches"] += 1
                counts["elsewhere"] += threading.get_ident() != loop_thread
                batch_end()

            handle.on_batch_end = counting_batch_end
            original = loop.call_soon_threadsafe

            def counting_call_soon_threadsafe(callback: Any, *args: Any, **kwargs: Any) -> Any:
                if getattr(callback, "__func__", None) is blazingmq.aio.Session._wakeup:
                    counts["wakeups"] += 1
                return original(callback, *args, **kwargs)

            loop.call_soon_threadsafe = counting_call_soon_threadsafe  # type: ignore[method-assign]
            try:
                await session.open_queue(uri, read=True, write=True)
                acks = await asyncio.gather(*[session.post(uri, b"%d" % i) for i in range(2000)])
                assert len(acks) == 2000
                received = 0
                async for message in session.messages(uri):
                    message.confirm()  # within max_unconfirmed_messages
                    received += 1
                    if received == 2000:
                        break
            finally:
                handle.on_batch_end = batch_end
                del loop.call_soon_threadsafe

    run(main())
    # 2000 ACKs and 2000 messages: batching must have merged some.
    assert 0 < counts["batches"] < 4000
    # Only while the loop does not look for 100 ms (posting the 2000, on a
    # loaded machine) does the session's own thread deliver, and then wake
    # the loop the old way; before, every batch was delivered elsewhere.
    assert counts["elsewhere"] < counts["batches"], counts
    assert counts["wakeups"] <= counts["elsewhere"]


def test_a_blocked_loop_still_gets_its_events_delivered(run, bmq_broker_uri, queue_uri):
    """When the loop does not look for a while (blocked by a synchronous
    call, or not running between ``run_until_complete`` calls), the
    session's own thread delivers what waits, so that libbmq's queue does
    not back up; the messages are then there when the loop looks again."""
    uri = queue_uri()

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True, write=True)
            for i in range(20):
                session.post_nowait(uri, b"%d" % i)
            time.sleep(1.0)  # blocks the loop: deliberately
            # Delivered meanwhile, by the session's own thread.
            assert session.stats().messages_received == 20
            received = await _take(session.messages(uri), 20)
            assert [m.data for m in received] == [b"%d" % i for i in range(20)]
            for message in received:
                message.confirm()

    run(main())


def test_confirm_checks_the_message_its_session_and_its_queue(run, bmq_broker_uri, queue_uri):
    """``confirm`` takes a short way for a message of its own open queue;
    every other case still gets the precise error, at once."""
    uri = queue_uri()

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session, \
                blazingmq.aio.Session(broker=bmq_broker_uri) as other:
            await session.open_queue(uri, read=True, write=True)
            await other.open_queue(uri, write=True)  # (not a reader: the message must come to `session`)
            await session.post(uri, b"x")
            message = (await _take(session.messages(uri), 1))[0]
            with pytest.raises(Error, match="^Cannot confirm a message received by another session$"):
                other.confirm(message)
            await session.configure_queue(uri, QueueOptions(0, 0, 0))
            closing = asyncio.ensure_future(session.close_queue(uri))
            await asyncio.sleep(0)  # the close has begun
            with pytest.raises(Error, match="closing queue"):
                session.confirm(message)
            await closing
            with pytest.raises(Error, match="^Queue not opened$"):
                session.confirm(message)

    run(main())


def test_misuse_raises_clear_errors(run, bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> None:
        session = blazingmq.aio.Session(broker=bmq_broker_uri)
        with pytest.raises(Error, match="not started"):
            session.post(uri, b"x")
        with pytest.raises(Error, match="not started"):
            await session.open_queue(uri, write=True)
        async with session:
            with pytest.raises(Error, match="only once"):
                await session.start()
            with pytest.raises(Error, match="INVALID_URI"):
                await session.open_queue("bmq://bad uri", write=True)
            with pytest.raises(TypeError, match="blazingmq.aio.Message"):
                session.confirm(object())  # type: ignore[arg-type]
            with pytest.raises(Error, match="Queue not opened"):
                await session.close_queue(uri)
            with pytest.raises(TypeError):
                session.messages(42)  # type: ignore[arg-type]
            with pytest.raises(Error):
                blazingmq.aio.Message()
            await session.open_queue(uri, read=True, write=True)
            assert session.get_queue_options(uri) == session._session.get_queue_options(uri)
        assert "stopped" in repr(session)

    with pytest.raises(ValueError, match="channel_write_timeout"):
        blazingmq.aio.Session(broker=bmq_broker_uri, channel_write_timeout=-1)
    with pytest.raises(TypeError):
        blazingmq.aio.Session(broker=bmq_broker_uri, num_processing_threads="2")  # type: ignore[arg-type]
    run(main())


def test_connect_failure_and_cancelled_connect(run):
    import socket

    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        broker = f"tcp://127.0.0.1:{port}"
        with pytest.raises(blazingmq.exceptions.BrokerTimeoutError):
            async with blazingmq.aio.Session(broker=broker, timeout=Timeouts(connect_timeout=1)):
                pass  # pragma: no cover
        # Cancelled by a timeout while connecting; the loop ran meanwhile.
        session = blazingmq.aio.Session(broker=broker, timeout=Timeouts(connect_timeout=60))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(session.start(), 0.5)
        with pytest.raises(Error, match="stopped"):
            session.post("bmq://bmq.test.mem.priority/q", b"x")

    run(main())


def test_with_options(run, bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> None:
        options = blazingmq.SessionOptions(num_processing_threads=2)
        async with blazingmq.aio.Session.with_options(broker=bmq_broker_uri, session_options=options) as session:
            await session.open_queue(uri, write=True)
            assert (await session.post(uri, b"x")).status is AckStatus.SUCCESS

    run(main())


def test_messages_tell_their_subscription(run, bmq_broker_uri, queue_uri):
    uri = queue_uri()
    big = blazingmq.Subscription("x > 10")

    async def main() -> None:
        async with blazingmq.aio.Session(broker=bmq_broker_uri) as session:
            await session.open_queue(uri, read=True, write=True, options=QueueOptions(subscriptions=[big]))
            await session.post(uri, b"small", {"x": 1})
            await session.post(uri, b"big", {"x": 11})
            (message,) = await _take(session.messages(uri), 1)
            assert (message.data, message.subscription) == (b"big", big)
            message.confirm()

    run(main())


def test_cancelled_queue_operations_and_stop(run, own_broker):
    """A timeout around ``open_queue`` leaves no queue open behind it (the
    queue is closed again when it opens), and a cancelled ``stop()`` still
    stops, once, whoever awaits it."""
    uri = "bmq://bmq.test.mem.priority/aio-cancelled-open"

    async def main() -> None:
        session = blazingmq.aio.Session(broker=own_broker.uri)
        await session.start()
        with paused(own_broker):
            with pytest.raises(asyncio.TimeoutError):
                # The request reached libbmq; the paused broker answers later.
                await asyncio.wait_for(session.open_queue(uri, read=True), 0.5)
            with pytest.raises(Error, match="Queue not opened"):
                session.get_queue_options(uri)
            with pytest.raises(Error, match="not open for reading"):
                session.messages(uri)
        # The background close completes; then the queue opens again.
        for _ in range(100):
            try:
                await session.open_queue(uri, read=True, write=True)
                break
            except Error:
                await asyncio.sleep(0.1)
        await session.post(uri, b"reopened")
        (message,) = await _take(session.messages(uri), 1)
        assert message.data == b"reopened"
        message.confirm()

        stopping = asyncio.ensure_future(session.stop())
        await asyncio.sleep(0)
        stopping.cancel()
        await asyncio.gather(session.stop(), session.stop())
        assert "stopped" in repr(session)
        with pytest.raises(Error, match="stopped"):
            session.post(uri, b"x")

    run(main())


def test_every_method_raises_once_stop_has_begun(run, bmq_broker_uri, queue_uri):
    """As for the sync session: from the moment stop() begins (before it has
    finished), calls raise the stopped error; a second stop() waits."""
    uri = queue_uri()
    stopped = "Method called after session was stopped"

    async def main() -> None:
        session = blazingmq.aio.Session(broker=bmq_broker_uri)
        await session.start()
        await session.open_queue(uri, read=True, write=True)
        await session.post(uri, b"x")
        message = (await _take(session.messages(uri), 1))[0]
        stopping = asyncio.ensure_future(session.stop())
        await asyncio.sleep(0)  # stop() has begun, and is not finished
        assert not stopping.done()
        for call in (
            lambda: session.post(uri, b"y"),
            lambda: session.post_nowait(uri, b"y"),
            lambda: session.get_queue_options(uri),
            lambda: session.confirm(message),
            lambda: message.confirm(),
        ):
            with pytest.raises(Error, match=stopped):
                call()
        with pytest.raises(Error, match=stopped):
            await session.open_queue(uri + "_other", write=True)
        await session.stop()  # waits for the first
        assert stopping.done()

    run(main())
