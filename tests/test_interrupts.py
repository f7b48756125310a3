"""Ctrl-C (SIGINT) during every blocking call raises KeyboardInterrupt at
once and leaves the session in a defined state.

The broker is paused with SIGSTOP so that each call really blocks; a timer
thread sends SIGINT to this process, as a terminal's Ctrl-C does."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Callable, Iterator

import pytest

import blazingmq
from blazingmq import Error, QueueOptions, Timeouts

from conftest import paused  # the shared helpers of this folder

# The bound between Ctrl-C and the exception.
_PROMPT = 0.5


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """Python's own SIGINT handler, whatever the process inherited: a shell
    without job control starts background programs with SIGINT ignored, and
    Python then installs no handler (Ctrl-C would do nothing)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c_after(delay: float) -> Callable[[], float]:
    """Send SIGINT to this process after ``delay`` seconds; the returned
    function tells when it was sent."""
    sent = []

    def fire() -> None:
        time.sleep(delay)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=fire, daemon=True).start()

    def when() -> float:
        assert sent, "SIGINT was never sent"
        return sent[0]

    return when


def _assert_interrupted_promptly(call: Callable[[], object], delay: float = 1.0) -> None:
    sent_at = _ctrl_c_after(delay)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        call()
    raised_at = time.monotonic()
    # It blocked until the signal, then gave up within the bound.
    assert raised_at - started >= delay * 0.9
    assert raised_at - sent_at() < _PROMPT


def _eventually(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _queue_open(session: blazingmq.Session, uri: str) -> bool:
    try:
        session.get_queue_options(uri)
        return True
    except Error:
        return False


def test_ctrl_c_interrupts_connecting_and_nothing_is_left_running(bmq_broker_uri):
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # A first session starts what lives for the whole process (the thread
    # forwarding libbmq's logs), so that the count below is a fair baseline.
    blazingmq.Session(lambda event: None, broker=bmq_broker_uri).stop()
    tasks_before = len(os.listdir("/proc/self/task"))

    _assert_interrupted_promptly(
        lambda: blazingmq.Session(
            lambda event: None, broker=f"tcp://127.0.0.1:{port}", timeout=Timeouts(connect_timeout=60)
        )
    )

    # The half-started session stopped its threads (libbmq's and ours).
    _eventually(lambda: len(os.listdir("/proc/self/task")) <= tasks_before, 10)
    with blazingmq.Session(lambda event: None, broker=bmq_broker_uri) as session:
        session.open_queue("bmq://bmq.test.mem.priority/after-interrupted-connect", write=True)


def test_ctrl_c_interrupts_open_queue_and_the_queue_is_not_open(own_broker):
    uri = "bmq://bmq.test.mem.priority/interrupted-open"
    with blazingmq.Session(lambda event: None, broker=own_broker.uri) as session:
        with paused(own_broker):
            _assert_interrupted_promptly(lambda: session.open_queue(uri, write=True))
            # Forgotten at once: the program sees no half-open queue.
            with pytest.raises(Error, match="^Queue not opened$"):
                session.post(uri, b"x")
        # The abandoned open completes and is closed in the background; the
        # queue can then be opened again and used.
        def reopened() -> bool:
            try:
                session.open_queue(uri, write=True, timeout=5)
                return True
            except Error:
                return False

        _eventually(reopened)
        acks: list = []
        done = threading.Event()
        session.post(uri, b"after", on_ack=lambda ack: (acks.append(ack), done.set()))
        assert done.wait(30)
        assert acks[0].status is blazingmq.AckStatus.SUCCESS


def test_ctrl_c_interrupts_configure_queue_and_the_queue_stays_open(own_broker):
    uri = "bmq://bmq.test.mem.priority/interrupted-configure"
    with blazingmq.Session(lambda event: None, on_message=lambda m, h: None, broker=own_broker.uri) as session:
        session.open_queue(uri, read=True, write=True)
        with paused(own_broker):
            _assert_interrupted_promptly(lambda: session.configure_queue(uri, QueueOptions(max_unconfirmed_messages=7)))
            assert _queue_open(session, uri)
        # The interrupted configure goes on in libbmq (a new one is refused
        # with ALREADY_IN_PROGRESS until it ends); then a new one works.
        def configured() -> bool:
            try:
                session.configure_queue(uri, QueueOptions(max_unconfirmed_messages=9), timeout=30)
                return True
            except Error as error:
                assert "ALREADY_IN_PROGRESS" in str(error)
                return False

        _eventually(configured)
        assert session.get_queue_options(uri).max_unconfirmed_messages == 9


def test_ctrl_c_interrupts_close_queue_and_the_close_completes_in_the_background(own_broker):
    uri = "bmq://bmq.test.mem.priority/interrupted-close"
    with blazingmq.Session(lambda event: None, broker=own_broker.uri) as session:
        session.open_queue(uri, write=True)
        with paused(own_broker):
            _assert_interrupted_promptly(lambda: session.close_queue(uri))
        _eventually(lambda: not _queue_open(session, uri))
        session.open_queue(uri, write=True, timeout=30)
        assert _queue_open(session, uri)


def test_ctrl_c_interrupts_a_post_waiting_for_a_full_channel(own_broker):
    uri = "bmq://bmq.test.mem.priority/interrupted-post"
    with blazingmq.Session(
        lambda event: None,
        broker=own_broker.uri,
        channel_high_watermark=9 * 1024 * 1024,
        channel_write_timeout=120,
    ) as session:
        session.open_queue(uri, write=True)
        payload = b"x" * 65536
        with paused(own_broker):

            def post_until_blocked() -> None:
                for _ in range(100000):
                    session.post(uri, payload)

            _assert_interrupted_promptly(post_until_blocked, delay=3.0)
        # The session still works once the broker drains the channel.
        done = threading.Event()
        session.post(uri, b"after", on_ack=lambda ack: done.set())
        assert done.wait(60)
