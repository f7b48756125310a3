"""Session lifetime: forgotten stop(), reference cycles, interpreter exit."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import warnings

import pytest
from conftest import assert_at_most_the_interrupted_callback_failed  # the shared helpers of this folder

import blazingmq
from blazingmq import session_events


def test_forgotten_stop_warns_and_stops(bmq_broker_uri, collector):
    events = collector()
    session = blazingmq.Session(events, broker=bmq_broker_uri)
    address = id(session)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del session
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert messages == [f"stop() not invoked before destruction of Session<{address:#x}> object"]
    events.wait_for(lambda items: isinstance(items[-1], session_events.Disconnected))


def test_session_in_a_reference_cycle_is_collected(bmq_broker_uri, collector):
    events = collector()

    class Holder:
        pass

    holder = Holder()
    # The callback keeps the holder alive: holder -> session -> callback -> holder.
    holder.session = blazingmq.Session(lambda e, _holder=holder: events(e), broker=bmq_broker_uri)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del holder
        gc.collect()
    assert any("stop() not invoked" in str(w.message) for w in caught)
    events.wait_for(lambda items: any(isinstance(e, session_events.Disconnected) for e in items))


ATEXIT = textwrap.dedent(
    """\
    import sys, blazingmq, blazingmq._ext

    def on_event(event):
        print("event", type(event).__name__, flush=True)

    session = blazingmq.Session(on_event, broker=sys.argv[1])
    session.open_queue("bmq://bmq.test.mem.priority/atexit", write=True)
    session.post("bmq://bmq.test.mem.priority/atexit", b"x", on_ack=lambda ack: None)
    if len(sys.argv) > 2:
        # A program may replace attributes of the compiled module.
        blazingmq._ext.SessionHandle = None
        blazingmq._ext.in_callback_thread = None
    print("exiting", flush=True)
    """
)


def _exit_lines(script: str, broker_uri: str, replace_ext: bool) -> list:
    """Run ``script`` in a child interpreter (``replace`` as its second
    argument if ``replace_ext``); check it exits cleanly; return its stdout
    lines."""
    args = [sys.executable, "-c", script, broker_uri] + (["replace"] if replace_ext else [])
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("replace_ext", [False, True])
def test_exit_with_a_live_session_delivers_disconnected(bmq_broker_uri, replace_ext):
    lines = _exit_lines(ATEXIT, bmq_broker_uri, replace_ext)
    assert lines[0] == "event Connected"
    assert lines[-2:] == ["exiting", "event Disconnected"]


EXIT_ORDER = textwrap.dedent(
    """\
    import atexit, gc, sys, warnings, blazingmq, blazingmq._ext

    def say(text):
        return lambda: print(text, flush=True)

    def on_event(name):
        return lambda event: print(name, type(event).__name__, flush=True)

    atexit.register(say("handler registered first"))
    first = blazingmq.Session(on_event("first"), broker=sys.argv[1])
    atexit.register(say("handler registered between"))
    second = blazingmq.Session(on_event("second"), broker=sys.argv[1])
    stopped = blazingmq.Session(on_event("stopped"), broker=sys.argv[1])
    stopped.stop()  # a stopped session leaves no handler behind...
    dropped = blazingmq.Session(on_event("dropped"), broker=sys.argv[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        del dropped  # ...nor does a dropped one (the handler holds it weakly)
        gc.collect()
    atexit.register(say("handler registered last"))
    if len(sys.argv) > 2:
        # A program may replace attributes of the compiled module.
        blazingmq._ext.SessionHandle = None
        blazingmq._ext.in_callback_thread = None
    print("exiting", flush=True)
    """
)


@pytest.mark.parametrize("replace_ext", [False, True])
def test_exit_stops_each_session_where_it_was_created_among_atexit_handlers(bmq_broker_uri, replace_ext):
    """As in the existing SDK: handlers registered after a session was
    created run before it is stopped, earlier ones after its Disconnected."""
    lines = _exit_lines(EXIT_ORDER, bmq_broker_uri, replace_ext)
    exiting = lines.index("exiting")
    assert lines[exiting:] == [
        "exiting",
        "handler registered last",
        "second Disconnected",
        "handler registered between",
        "first Disconnected",
        "handler registered first",
    ]
    for name in ("stopped", "dropped"):
        assert lines.count(f"{name} Disconnected") == 1 and lines.index(f"{name} Disconnected") < exiting


DROP_IN_CALLBACK = textwrap.dedent(
    """\
    import sys, threading, time, warnings, blazingmq
    warnings.simplefilter("always")
    done = threading.Event()
    holder = {}

    def on_ack(ack):
        # The last reference to the session goes away on a libbmq thread.
        holder.clear()
        done.set()

    session = blazingmq.Session(lambda e: print("event", type(e).__name__, flush=True), broker=sys.argv[1])
    session.open_queue("bmq://bmq.test.mem.priority/drop", write=True)
    holder["session"] = session
    session.post("bmq://bmq.test.mem.priority/drop", b"x", on_ack=on_ack)
    del session
    assert done.wait(10)
    time.sleep(2)
    print("alive", flush=True)
    """
)


def test_dropping_the_last_reference_inside_a_callback(bmq_broker_uri):
    result = subprocess.run(
        [sys.executable, "-c", DROP_IN_CALLBACK, bmq_broker_uri], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "stop() not invoked before destruction" in result.stderr
    assert result.stdout.splitlines()[-2:] == ["event Disconnected", "alive"]


STOP_WITH_BACKLOG = textwrap.dedent(
    """\
    import sys, threading, time, blazingmq
    uri = "bmq://bmq.test.mem.priority/backlog"
    first = threading.Event()

    def on_message(message, handle):
        first.set()
        time.sleep(0.001)  # slower than the producer: a backlog builds up
        handle.confirm()

    with blazingmq.Session(lambda e: None, broker=sys.argv[1]) as producer:
        producer.open_queue(uri, write=True)
        consumer = blazingmq.Session(lambda e: None, on_message=on_message, broker=sys.argv[1])
        consumer.open_queue(uri, read=True)
        for _ in range(3000):
            producer.post(uri, b"x" * 100)
        assert first.wait(10)
        started = time.monotonic()
        consumer.stop()
        print("stopped in", round(time.monotonic() - started, 1), flush=True)
    """
)


def test_stop_with_a_backlog_drops_undelivered_messages_quietly(bmq_broker_uri):
    result = subprocess.run(
        [sys.executable, "-c", STOP_WITH_BACKLOG, bmq_broker_uri], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "stopped in" in result.stdout
    # Without the drop, messages drained during stop() would reach
    # on_message and their confirms fail with a traceback each.
    assert_at_most_the_interrupted_callback_failed(result.stderr)
    assert float(result.stdout.split()[-1]) < 3.0


FORK = textwrap.dedent(
    """\
    import os, sys, threading, blazingmq
    uri = "bmq://bmq.test.mem.priority/fork"
    parent = blazingmq.Session(lambda e: None, broker=sys.argv[1])
    parent.open_queue(uri, write=True)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            parent.post(uri, b"from the child")
            code = 10  # must not get here
        except blazingmq.Error as error:
            if "fork()" not in str(error):
                code = 11
        parent.stop()  # a no-op in the child, must not hang
        acks = []
        done = threading.Event()
        with blazingmq.Session(lambda e: None, broker=sys.argv[1]) as child:
            child.open_queue(uri, write=True)
            child.post(uri, b"child's own", on_ack=lambda ack: (acks.append(ack), done.set()))
            if not done.wait(10) or acks[0].status != blazingmq.AckStatus.SUCCESS:
                code = 12
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
    acks = []
    done = threading.Event()
    parent.post(uri, b"parent still works", on_ack=lambda ack: (acks.append(ack), done.set()))
    assert done.wait(10) and acks[0].status == blazingmq.AckStatus.SUCCESS
    parent.stop()
    print("parent ok", flush=True)
    """
)


def test_session_after_fork_raises_in_child_and_new_session_works(bmq_broker_uri):
    result = subprocess.run(
        [sys.executable, "-c", FORK, bmq_broker_uri], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["child exit 0", "parent ok"]

