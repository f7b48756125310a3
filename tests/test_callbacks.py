"""What may and may not be called from libbmq's callback threads, and what
happens when a callback raises."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

import blazingmq
from blazingmq import AckStatus, Error, QueueOptions


FORBIDDEN = {
    "open_queue": lambda s, uri: s.open_queue(uri + "-other", write=True),
    "configure_queue": lambda s, uri: s.configure_queue(uri, QueueOptions()),
    "close_queue": lambda s, uri: s.close_queue(uri),
    "stop": lambda s, uri: s.stop(),
}


def _try_forbidden(method, session, uri, outcome):
    """Call ``method`` (from a callback) and record its error and duration."""
    start = time.monotonic()
    try:
        FORBIDDEN[method](session, uri)
    except Error as error:
        outcome["error"] = str(error)
    outcome["seconds"] = time.monotonic() - start


@pytest.mark.parametrize("method", sorted(FORBIDDEN))
def test_forbidden_calls_from_on_message_raise_at_once(session_factory, queue_uri, method):
    uri = queue_uri()
    outcome = {}
    done = threading.Event()
    holder = {}

    def on_message(message, handle):
        _try_forbidden(method, holder["session"], uri, outcome)
        handle.confirm()
        done.set()

    session = session_factory(on_message=on_message)
    holder["session"] = session
    session.open_queue(uri, read=True, write=True)
    session.post(uri, b"x")
    assert done.wait(10)
    assert f"{method}()" in outcome["error"] and "callback" in outcome["error"]
    assert outcome["seconds"] < 1.0
    # The session is still usable.
    acks = []
    session.post(uri, b"y", on_ack=acks.append)
    session.configure_queue(uri, QueueOptions(0, 0, 0))
    session.close_queue(uri)
    assert [a.status for a in acks] == [AckStatus.SUCCESS]


@pytest.mark.parametrize("method", sorted(FORBIDDEN))
def test_forbidden_calls_from_on_ack_raise_at_once(session_factory, queue_uri, method):
    uri = queue_uri()
    outcome = {}
    done = threading.Event()
    session = session_factory()
    session.open_queue(uri, write=True)

    def on_ack(ack):
        _try_forbidden(method, session, uri, outcome)
        done.set()

    session.post(uri, b"x", on_ack=on_ack)
    assert done.wait(10)
    assert f"{method}()" in outcome["error"]
    assert outcome["seconds"] < 1.0
    session.close_queue(uri)


def test_post_and_confirm_from_on_message(session_factory, queue_uri, collector):
    source, sink = queue_uri(), queue_uri()
    forwarded = collector()
    holder = {}

    def on_message(message, handle):
        if message.queue_uri == source:
            holder["session"].post(sink, message.data + b"!")
            handle.confirm()
        else:
            forwarded(message.data)
            holder["session"].confirm(message)

    session = session_factory(on_message=on_message)
    holder["session"] = session
    session.open_queue(source, read=True, write=True)
    session.open_queue(sink, read=True, write=True)
    for i in range(10):
        session.post(source, b"m%d" % i)
    assert sorted(forwarded.wait_count(10)) == sorted(b"m%d!" % i for i in range(10))


CALLBACK_RAISES = textwrap.dedent(
    """\
    import sys, threading, blazingmq
    uri = "bmq://bmq.test.mem.priority/raises"
    got = []
    done = threading.Event()

    def on_message(message, handle):
        got.append(message.data)
        handle.confirm()
        if len(got) == 2:
            done.set()
        raise ValueError("boom in on_message")

    def on_ack(ack):
        raise RuntimeError("boom in on_ack")

    with blazingmq.Session(lambda e: None, on_message=on_message, broker=sys.argv[1]) as session:
        session.open_queue(uri, read=True, write=True)
        session.post(uri, b"1", on_ack=on_ack)
        session.post(uri, b"2", on_ack=42)
        assert done.wait(10), got
        session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(uri)
    print("received", sorted(got))
    """
)


def test_exceptions_in_callbacks_are_printed_and_do_not_stop_delivery(bmq_broker_uri):
    result = subprocess.run(
        [sys.executable, "-c", CALLBACK_RAISES, bmq_broker_uri], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "received [b'1', b'2']" in result.stdout
    assert result.stderr.count("Traceback") >= 4
    assert "ValueError: boom in on_message" in result.stderr
    assert "RuntimeError: boom in on_ack" in result.stderr
    assert "not callable" in result.stderr


@pytest.mark.parametrize("method", sorted(FORBIDDEN))
def test_forbidden_calls_from_on_session_event_raise_at_once(session_factory, queue_uri, method):
    uri = queue_uri()
    outcome = {}
    done = threading.Event()
    holder = {}

    def on_session_event(event):
        if isinstance(event, blazingmq.session_events.HostUnhealthy):
            _try_forbidden(method, holder["session"], uri, outcome)
            done.set()

    monitor = blazingmq.BasicHealthMonitor()
    session = session_factory(on_session_event, host_health_monitor=monitor)
    holder["session"] = session
    session.open_queue(uri, write=True)
    monitor.set_unhealthy()
    assert done.wait(10)
    monitor.set_healthy()
    assert f"{method}()" in outcome["error"]
    assert outcome["seconds"] < 1.0
    acks = []
    session.post(uri, b"still usable", on_ack=acks.append)
    session.close_queue(uri)
    assert [a.status for a in acks] == [AckStatus.SUCCESS]


EVERY_CALLBACK_RAISES = textwrap.dedent(
    """\
    import sys, threading, blazingmq
    from blazingmq import session_events
    uri = "bmq://bmq.test.mem.priority/every_callback_raises"
    got, acks, events = [], [], []
    done = threading.Event()

    def on_session_event(event):
        events.append(type(event).__name__)
        raise KeyError("boom in on_session_event " + type(event).__name__)

    def on_message(message, handle):
        got.append(int(message.data))
        handle.confirm()
        if len(got) == 50:
            done.set()
        raise ValueError("boom in on_message %d" % int(message.data))

    def on_ack(ack):
        acks.append(ack.status)
        raise RuntimeError("boom in on_ack")

    monitor = blazingmq.BasicHealthMonitor()
    session = blazingmq.Session(on_session_event, on_message=on_message, broker=sys.argv[1],
                                host_health_monitor=monitor)
    session.open_queue(uri, read=True, write=True)
    for number in range(50):
        session.post(uri, b"%d" % number, on_ack=on_ack)
    assert done.wait(20), got
    monitor.set_unhealthy()
    monitor.set_healthy()
    session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
    session.close_queue(uri)
    session.stop()
    print("received", sorted(got) == list(range(50)), "acks", len(acks), "events", ",".join(events))
    """
)


def test_every_callback_raising_every_time_keeps_the_event_thread_running(bmq_broker_uri):
    """on_session_event, on_message and on_ack all raise, every time: each
    exception is printed with its traceback and every later event,
    message and ACK still arrives."""
    result = subprocess.run(
        [sys.executable, "-c", EVERY_CALLBACK_RAISES, bmq_broker_uri], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "received True acks 50 events Connected,HostUnhealthy,HostHealthRestored,Disconnected" in result.stdout
    err = result.stderr
    assert err.count("ValueError: boom in on_message") == 50
    assert err.count("RuntimeError: boom in on_ack") == 50
    for event in ("Connected", "HostUnhealthy", "HostHealthRestored", "Disconnected"):
        assert f"KeyError: 'boom in on_session_event {event}'" in err
    # Full tracebacks: the frame that raised is named.
    assert err.count("Traceback (most recent call last)") == 104
    assert 'in on_session_event\n' in err and 'in on_message\n' in err and 'in on_ack\n' in err
