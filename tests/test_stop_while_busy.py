"""stop() while callbacks and other threads use the session: the session
counts as stopped as soon as stop() begins, so every method raises
``Error("Method called after session was stopped")`` from then on (also in
callbacks), and a call that had already begun ends in a defined way: done,
or that same error."""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

import blazingmq
from blazingmq import QueueOptions

STOPPED = "Method called after session was stopped"
# Generous bounds that only a hang exceeds (no timing is asserted).
HANG = 30.0


def _stop_in_thread(session: blazingmq.Session) -> threading.Thread:
    thread = threading.Thread(target=session.stop, name="test-stop")
    thread.start()
    return thread


def test_callback_looping_on_session_calls_ends_when_stop_begins(bmq_broker_uri, queue_uri):
    """A consumer whose callback calls session methods until they fail (as
    programs written for the existing SDK do) ends, and so does stop()."""
    uri = queue_uri()
    looping = threading.Event()
    outcome: Dict[str, Any] = {}

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        looping.set()
        calls = 0
        try:
            while session.get_queue_options(uri):
                calls += 1
        except blazingmq.Error as error:
            outcome["error"] = str(error)
        outcome["calls"] = calls

    session = blazingmq.Session(lambda event: None, on_message=on_message, broker=bmq_broker_uri)
    session.open_queue(uri, read=True, write=True)
    session.post(uri, b"start looping")
    assert looping.wait(HANG)
    stopper = _stop_in_thread(session)
    stopper.join(HANG)
    assert not stopper.is_alive(), "stop() hung while a callback kept calling the session"
    assert outcome["error"] == STOPPED
    assert outcome["calls"] > 0
    for call in (
        lambda: session.get_queue_options(uri),
        lambda: session.post(uri, b"x"),
        lambda: session.open_queue(uri, read=True),
    ):
        with pytest.raises(blazingmq.Error, match=STOPPED):
            call()


def test_every_method_raises_once_stop_has_begun(bmq_broker_uri, queue_uri):
    """While stop() waits for a callback (which here waits for the test),
    calls from another thread already raise."""
    uri = queue_uri()
    in_callback = threading.Event()
    release = threading.Event()
    received: List[blazingmq.Message] = []
    handles: List[blazingmq.MessageHandle] = []

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        received.append(message)
        handles.append(handle)
        in_callback.set()
        release.wait(HANG)

    session = blazingmq.Session(lambda event: None, on_message=on_message, broker=bmq_broker_uri)
    session.open_queue(uri, read=True, write=True)
    session.post(uri, b"held in the callback")
    assert in_callback.wait(HANG)
    stopper = _stop_in_thread(session)
    try:
        # stop() is under way (it waits for the callback): wait until it
        # has marked the session, then every method refuses at once.
        for _ in range(1000):
            if repr(session).startswith("<Session stopped"):
                break
            threading.Event().wait(0.01)
        assert repr(session).startswith("<Session stopped")
        assert stopper.is_alive()  # still waiting for the callback
        calls = {
            "post": lambda: session.post(uri, b"x"),
            "post_many": lambda: session.post_many(uri, [b"x"]),
            "confirm": lambda: session.confirm(received[0]),
            "confirm_many": lambda: session.confirm_many(received),
            "MessageHandle.confirm": lambda: handles[0].confirm(),
            "get_queue_options": lambda: session.get_queue_options(uri),
            "configure_queue": lambda: session.configure_queue(uri, QueueOptions(0, 0, 0)),
            "close_queue": lambda: session.close_queue(uri),
            "open_queue": lambda: session.open_queue(uri + "_other", write=True),
        }
        for name, call in calls.items():
            with pytest.raises(blazingmq.Error, match=STOPPED):
                call()
        # A second stop() waits for the first rather than returning early.
        second = _stop_in_thread(session)
        second.join(0.2)
        assert second.is_alive()
    finally:
        release.set()
    stopper.join(HANG)
    second.join(HANG)
    assert not stopper.is_alive() and not second.is_alive()


@pytest.mark.parametrize("round_number", range(15))
def test_posts_and_confirms_racing_with_stop(bmq_broker_uri, queue_uri, round_number):
    """Producer threads, a consumer callback that confirms and posts, and
    stop() at an arbitrary moment: every call ends (done or the stopped
    error, nothing else), and every post that returned normally got exactly
    one ACK by the time stop() returned."""
    uri = queue_uri()
    lock = threading.Lock()
    posted_with_ack = 0
    acks: List[blazingmq.Ack] = []
    unexpected: List[BaseException] = []
    refused_after_stop = [0]
    confirmed = [0]
    received = threading.Semaphore(0)

    def on_ack(ack: blazingmq.Ack) -> None:
        with lock:
            acks.append(ack)

    def ended_by_stop(error: BaseException) -> None:
        if isinstance(error, blazingmq.Error) and str(error).startswith(STOPPED):
            with lock:
                refused_after_stop[0] += 1
        else:
            unexpected.append(error)

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        nonlocal posted_with_ack
        received.release()
        try:
            handle.confirm()
            with lock:
                confirmed[0] += 1
            session.post(uri, b"from the callback", on_ack=on_ack)
            with lock:
                posted_with_ack += 1
        except BaseException as error:  # noqa: BLE001 - sorted below
            ended_by_stop(error)

    def produce() -> None:
        nonlocal posted_with_ack
        try:
            while True:
                session.post(uri, b"from a thread", on_ack=on_ack)
                with lock:
                    posted_with_ack += 1
                session.post_many(uri, [b"a", b"b"])
                session.get_queue_options(uri)
        except BaseException as error:  # noqa: BLE001 - sorted below
            ended_by_stop(error)

    session = blazingmq.Session(lambda event: None, on_message=on_message, broker=bmq_broker_uri)
    session.open_queue(uri, read=True, write=True)
    producers = [threading.Thread(target=produce) for _ in range(3)]
    for thread in producers:
        thread.start()
    # Let traffic flow in both directions for a moment that varies by round.
    for _ in range(20 + 37 * round_number):
        assert received.acquire(timeout=HANG)
    session.stop()
    for thread in producers:
        thread.join(HANG)
        assert not thread.is_alive()
    assert not unexpected, unexpected
    assert refused_after_stop[0] >= len(producers)
    assert confirmed[0] > 0
    # ACKs (NACKs included) of every post that returned normally came
    # before stop() returned, exactly once each.
    assert len(acks) == posted_with_ack
    guids = [ack.guid for ack in acks if ack.guid is not None]
    assert len(set(guids)) == len(guids)
