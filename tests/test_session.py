"""Connecting, stopping, and misuse of a session."""

from __future__ import annotations

import pytest

import blazingmq
from blazingmq import Error, Session, session_events
from blazingmq.exceptions import BrokerTimeoutError


def test_connect_and_stop_deliver_connected_then_disconnected(bmq_broker_uri, collector):
    events = collector()
    session = Session(events, broker=bmq_broker_uri)
    events.wait_count(1)
    session.stop()
    # stop() returns only after every callback has returned.
    assert [type(e) for e in events.items] == [session_events.Connected, session_events.Disconnected]


def test_context_manager_stops_the_session(bmq_broker_uri, collector):
    events = collector()
    with Session(events, broker=bmq_broker_uri) as session:
        assert isinstance(session, Session)
    assert isinstance(events.items[-1], session_events.Disconnected)
    with pytest.raises(Error, match="^Method called after session was stopped$"):
        session.open_queue("bmq://bmq.test.mem.priority/after-stop", write=True)


def test_stop_is_idempotent(session_factory, collector):
    events = collector()
    session = session_factory(events)
    session.stop()
    session.stop()
    assert sum(isinstance(e, session_events.Disconnected) for e in events.items) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.open_queue("bmq://bmq.test.mem.priority/q", write=True),
        lambda s: s.configure_queue("bmq://bmq.test.mem.priority/q", blazingmq.QueueOptions()),
        lambda s: s.close_queue("bmq://bmq.test.mem.priority/q"),
        lambda s: s.post("bmq://bmq.test.mem.priority/q", b"x"),
        lambda s: s.get_queue_options("bmq://bmq.test.mem.priority/q"),
    ],
    ids=["open_queue", "configure_queue", "close_queue", "post", "get_queue_options"],
)
def test_methods_after_stop_raise(session_factory, call):
    session = session_factory()
    session.stop()
    with pytest.raises(Error, match="^Method called after session was stopped$"):
        call(session)


def test_on_session_event_none_is_a_type_error(bmq_broker_uri):
    with pytest.raises(TypeError):
        Session(None, broker=bmq_broker_uri)  # type: ignore[arg-type]


def test_broker_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"^not expecting type '<class 'int'>'$"):
        Session(print, broker=30114)  # type: ignore[arg-type]


def test_broker_as_bytes_connects(bmq_broker_uri, collector):
    events = collector()
    with Session(events, broker=bmq_broker_uri.encode()):
        events.wait_count(1)
    assert isinstance(events.items[0], session_events.Connected)


def test_no_broker_listening_fails_with_timeout(collector):
    # Port 1 on loopback: nothing listens there, so the connect times out.
    with pytest.raises(BrokerTimeoutError, match="^Failed to start session: TIMEOUT$"):
        Session(collector(), broker="tcp://127.0.0.1:1", timeout=blazingmq.Timeouts(connect_timeout=1.0))


def _broker_log_mentions(broker, needle: str, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in broker.log_files():
            if needle in path.read_text(errors="replace"):
                return True
        time.sleep(0.2)
    return False


def test_process_name_is_the_main_script_or_py_unknown(bmq_broker, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "named_client_script.py"
    code = "import sys, blazingmq\nwith blazingmq.Session(lambda e: None, broker=sys.argv[1]):\n    pass\n"
    script.write_text(code)
    subprocess.run([sys.executable, str(script), bmq_broker.uri], check=True, timeout=60)
    assert _broker_log_mentions(bmq_broker, f'processName = "{script}"')
    subprocess.run([sys.executable, "-c", code, bmq_broker.uri], check=True, timeout=60)
    assert _broker_log_mentions(bmq_broker, 'processName = "py:UNKNOWN"')


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"on_session_event": "not callable"}, "on_session_event must be a callable, not 'str'"),
        ({"on_session_event": print, "on_message": 42}, "on_message must be a callable or None, not 'int'"),
    ],
)
def test_non_callable_callbacks_are_type_errors(kwargs, pattern):
    with pytest.raises(TypeError, match=pattern):
        Session(**kwargs)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.post(b"bmq://bmq.test.mem.priority/q", b"x"),
        lambda s: s.close_queue(42),
        lambda s: s.configure_queue(None, blazingmq.QueueOptions()),
        lambda s: s.get_queue_options(3.5),
        lambda s: s.open_queue(b"bmq://bmq.test.mem.priority/q", write=True),
        lambda s: s.open_queue("bmq://bmq.test.mem.priority/q", write=True, options={}),
        lambda s: s.open_queue("bmq://bmq.test.mem.priority/q", write=True, timeout="5"),
        lambda s: s.confirm("not a message"),
    ],
    ids=["post", "close_queue", "configure_queue", "get_queue_options", "open_queue-uri",
         "open_queue-options", "open_queue-timeout", "confirm"],
)
def test_wrong_argument_types_are_type_errors_and_leave_the_session_usable(session_factory, queue_uri, call):
    session = session_factory()
    with pytest.raises(TypeError):
        call(session)
    uri = queue_uri()
    session.open_queue(uri, write=True)
    session.post(uri, b"still works")


def test_connected_is_delivered_before_the_constructor_returns(bmq_broker_uri):
    events = []
    session = Session(events.append, broker=bmq_broker_uri)
    try:
        assert [type(e) for e in events] == [session_events.Connected]
    finally:
        session.stop()
