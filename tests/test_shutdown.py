"""Interpreter exit and fork() while sessions are busy: child interpreters
must exit promptly and cleanly (no hang, no crash, no fatal error), and a
forked child must be able to work on its own while the parent carries on.

Each scenario runs in a child interpreter with a timeout; "promptly" means
well within it (no timing assertion on speed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import assert_at_most_the_interrupted_callback_failed  # the shared helpers of this folder

EXIT_TIMEOUT = 60


def run_child(script: str, broker_uri: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(script), broker_uri, *args],
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
    )


def assert_clean(result: subprocess.CompletedProcess, returncode: int = 0) -> None:
    assert result.returncode == returncode, result.stderr[-5000:]
    for bad in ("Fatal Python error", "Segmentation fault", "terminate called", "Aborted"):
        assert bad not in result.stderr, result.stderr[-5000:]


EXIT_WHILE_DAEMON_THREADS_POST = """
    import sys, threading, time, blazingmq
    uri = "bmq://bmq.test.mem.priority/exit_posting_%s" % sys.argv[2]
    acks = []
    received = []

    def on_event(event):
        print("event", type(event).__name__, flush=True)

    consumer = blazingmq.Session(on_event, on_message=lambda m, h: (received.append(1), h.confirm()),
                                 broker=sys.argv[1])
    consumer.open_queue(uri, read=True)
    producer = blazingmq.Session(on_event, broker=sys.argv[1])
    producer.open_queue(uri, write=True)

    def post_forever(number):
        # Posts until the atexit hook stops the session under it.
        try:
            while True:
                producer.post(uri, b"x" * 100, properties={"thread": number}, on_ack=acks.append)
        except blazingmq.Error as error:
            assert str(error) == "Method called after session was stopped", error

    for number in range(4):
        threading.Thread(target=post_forever, args=(number,), daemon=True).start()
    while len(received) < 1000:
        time.sleep(0.01)
    print("exiting", len(received) > 0, flush=True)
    if sys.argv[2] == "raise":
        raise RuntimeError("unhandled in main")
"""


@pytest.mark.parametrize("how", ["return", "raise"])
def test_exit_while_daemon_threads_post_and_messages_flow(bmq_broker_uri, how):
    result = run_child(EXIT_WHILE_DAEMON_THREADS_POST, bmq_broker_uri, how)
    assert_clean(result, 0 if how == "return" else 1)
    lines = result.stdout.splitlines()
    assert lines.count("event Connected") == 2
    assert "exiting True" in lines
    # The atexit hook stopped both sessions while callbacks could still run.
    assert lines.count("event Disconnected") == 2
    if how == "raise":
        assert "RuntimeError: unhandled in main" in result.stderr


EXIT_WITH_A_BACKLOG_IN_FLIGHT = """
    import sys, threading, time, blazingmq
    uri = "bmq://bmq.test.mem.priority/exit_backlog"
    with blazingmq.Session(lambda e: None, broker=sys.argv[1]) as producer:
        producer.open_queue(uri, write=True)
        for number in range(20000):
            producer.post(uri, b"%d" % number)
    started = threading.Event()

    def slow_consumer(message, handle):
        started.set()
        time.sleep(0.001)
        handle.confirm()

    consumer = blazingmq.Session(lambda e: None, on_message=slow_consumer, broker=sys.argv[1])
    consumer.open_queue(uri, read=True, options=blazingmq.QueueOptions(max_unconfirmed_messages=20000))
    assert started.wait(10)
    print("exiting with a backlog", flush=True)
"""


def test_exit_with_messages_in_flight(bmq_broker_uri):
    result = run_child(EXIT_WITH_A_BACKLOG_IN_FLIGHT, bmq_broker_uri)
    assert_clean(result)
    assert result.stdout.splitlines() == ["exiting with a backlog"]
    assert_at_most_the_interrupted_callback_failed(result.stderr)


EXIT_WITH_UNREFERENCED_SESSIONS = """
    import gc, sys, threading, blazingmq

    def start_in_thread():
        # The session is only referenced from a thread that has finished and
        # from a reference cycle.
        session = blazingmq.Session(lambda e: print("event", type(e).__name__, flush=True), broker=sys.argv[1])
        session.cycle = session
        session.open_queue("bmq://bmq.test.mem.priority/exit_unreferenced", write=True)
        session.post("bmq://bmq.test.mem.priority/exit_unreferenced", b"x", on_ack=lambda ack: None)

    thread = threading.Thread(target=start_in_thread)
    thread.start()
    thread.join()
    print("exiting", flush=True)
"""


def test_exit_with_sessions_only_in_reference_cycles(bmq_broker_uri):
    result = run_child(EXIT_WITH_UNREFERENCED_SESSIONS, bmq_broker_uri)
    assert_clean(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "event Connected" and "exiting" in lines and lines[-1] == "event Disconnected"


FORK_DURING_TRAFFIC = """
    import os, sys, threading, time, blazingmq
    uri = "bmq://bmq.test.mem.priority/fork_traffic"
    acks = []
    received = []
    posts = [0]
    stop = threading.Event()
    parent = blazingmq.Session(lambda e: None, on_message=lambda m, h: (received.append(1), h.confirm()),
                               broker=sys.argv[1])
    parent.open_queue(uri, read=True, write=True)

    def produce():
        while not stop.is_set():
            parent.post(uri, b"parent", on_ack=acks.append)
            posts[0] += 1
            time.sleep(0.0005)

    producer = threading.Thread(target=produce)
    producer.start()
    children = []
    for number in range(3):
        time.sleep(0.2)
        pid = os.fork()
        if pid == 0:
            # In the child: the parent's session is refused; a new one works;
            # sys.exit runs the atexit hook, which must leave the parent's
            # session alone.
            code = 0
            try:
                parent.post(uri, b"from the child")
                code = 10
            except blazingmq.Error:
                pass
            child_acks = []
            done = threading.Event()
            child = blazingmq.Session(lambda e: None, broker=sys.argv[1])
            child.open_queue("bmq://bmq.test.mem.priority/fork_child_%d" % number, write=True)
            child.post("bmq://bmq.test.mem.priority/fork_child_%d" % number, b"child",
                       on_ack=lambda ack: (child_acks.append(ack), done.set()))
            if not done.wait(20) or child_acks[0].status != blazingmq.AckStatus.SUCCESS:
                code = 12
            sys.exit(code)  # leaves `child` to the atexit hook
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    stop.set()
    producer.join()
    deadline = time.monotonic() + 30
    while (len(acks) < posts[0] or len(received) < posts[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    parent.stop()
    ok = all(a.status == blazingmq.AckStatus.SUCCESS for a in acks)
    print("children", codes, "parent acks ok", ok, len(acks) == posts[0] > 100, "delivered all", len(received) == posts[0],
          flush=True)
"""


def test_fork_during_traffic_children_work_and_parent_carries_on(bmq_broker_uri):
    result = run_child(FORK_DURING_TRAFFIC, bmq_broker_uri)
    assert_clean(result)
    assert result.stdout.splitlines() == ["children [0, 0, 0] parent acks ok True True delivered all True"]
