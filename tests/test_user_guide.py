"""The code of the user guide (shared/seed/user_guide.txt), run unchanged.

The two whole programs run in child interpreters, pointed at the test broker
through ``BMQ_BROKER_URI`` (libbmq replaces the default broker URI with it);
the consumer runs until SIGINT, as the guide says.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import blazingmq

SIMPLE_PRODUCER = textwrap.dedent(
    """\
    import blazingmq

    queue_uri = "bmq://bmq.tutorial.workqueue/example_queue"

    with blazingmq.Session(blazingmq.session_events.log_session_event) as session:
        session.open_queue(queue_uri, write=True)
        session.post(queue_uri, b"Some message here")
        session.close_queue(queue_uri)
    """
)

SIMPLE_CONSUMER = textwrap.dedent(
    """\
    import blazingmq
    import signal
    import threading

    def on_message_callback(message, message_handle):
        print(message.data)
        message_handle.confirm()

    event = threading.Event()

    def handler(signum, frame):
        print("Goodbye!")
        event.set()

    signal.signal(signal.SIGINT, handler)

    queue_uri = "bmq://bmq.tutorial.workqueue/example_queue"

    with blazingmq.Session(blazingmq.session_events.log_session_event,
                           on_message=on_message_callback) as session:
        session.open_queue(queue_uri, read=True)
        event.wait()
        session.configure_queue(queue_uri, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(queue_uri)
    """
)


def _env(broker_uri: str) -> dict:
    env = dict(os.environ)
    env["BMQ_BROKER_URI"] = broker_uri
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_output(process: subprocess.Popen, needle: str, timeout: float = 30.0) -> str:
    """Read the child's stdout until ``needle`` appears."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{needle!r} not printed in {timeout} s; output so far: {seen!r}")
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"exited with {process.wait()} before printing {needle!r}: {seen!r}")
            seen += chunk
    return seen.decode()


def test_simple_producer_then_simple_consumer(bmq_broker_uri, tmp_path):
    producer = subprocess.run(
        [sys.executable, "-c", SIMPLE_PRODUCER],
        env=_env(bmq_broker_uri),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert producer.returncode == 0, producer.stderr
    assert "Traceback" not in producer.stderr

    consumer = subprocess.Popen(
        [sys.executable, "-c", SIMPLE_CONSUMER],
        env=_env(bmq_broker_uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output = _wait_for_output(consumer, "b'Some message here'")
        consumer.send_signal(signal.SIGINT)
        rest, errors = consumer.communicate(timeout=30)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.communicate()
    assert consumer.returncode == 0, errors
    assert "Goodbye!" in output + rest
    assert "Traceback" not in errors

    # The consumer confirmed the message: nothing is left in the queue.
    leftovers = []
    with blazingmq.Session(lambda e: None, on_message=lambda m, h: leftovers.append(m),
                           broker=bmq_broker_uri) as session:
        session.open_queue("bmq://bmq.tutorial.workqueue/example_queue", read=True)
        time.sleep(0.5)
        session.configure_queue("bmq://bmq.tutorial.workqueue/example_queue", blazingmq.QueueOptions(0, 0, 0))
        session.close_queue("bmq://bmq.tutorial.workqueue/example_queue")
    assert leftovers == []


def test_on_ack_fragment_and_on_session_event_fragment(bmq_broker_uri, capsys):
    # The guide's fragments, in the context the guide gives them ("from
    # blazingmq" in the guide is a typo for "import blazingmq").
    import blazingmq

    def on_session_event(event):
        print(event)

    def on_ack_callback(ack):
        if ack.status != blazingmq.AckStatus.SUCCESS:
            print("Post failed")
        print("Post success")

    queue_uri = "bmq://bmq.tutorial.workqueue/ack_fragment"
    with blazingmq.Session(on_session_event, broker=bmq_broker_uri) as session:
        session.open_queue(queue_uri, write=True)
        session.post(queue_uri, b"Some message here", on_ack=on_ack_callback)
        session.close_queue(queue_uri)
    out = capsys.readouterr().out
    assert "<Connected>" in out
    assert "Post success" in out
    assert "Post failed" not in out
    assert "<Disconnected>" in out


def test_read_and_write_on_one_queue_with_session_confirm(bmq_broker_uri):
    # "You can create a queue that is both a producer and a consumer", and
    # `session.confirm(message)` in place of `message_handle.confirm()`.
    import threading

    got = threading.Event()
    seen = []

    queue_uri = "bmq://bmq.tutorial.workqueue/read_write"

    def on_message_callback(message, message_handle):
        print(message.data)
        seen.append(message.data)
        session.confirm(message)
        got.set()

    with blazingmq.Session(blazingmq.session_events.log_session_event,
                           on_message=on_message_callback, broker=bmq_broker_uri) as session:
        session.open_queue(queue_uri, read=True, write=True)
        session.post(queue_uri, b"Some message here")
        assert got.wait(10)
        session.configure_queue(queue_uri, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(queue_uri)
    assert seen == [b"Some message here"]
