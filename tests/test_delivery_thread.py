"""Which thread hands events to the callbacks: libbmq's own event thread
while the session is idle (no second thread to wake), the session's pump
thread while delivering keeps it busy (or another Python thread holds the
GIL).  Whichever it is, nothing is lost or reordered.

The session's private ``delivery_queued_ns`` / ``delivery_woken_ns`` say
which: equal when libbmq's thread delivered the event itself.  These tests
assert on the mechanism, never on how long anything took."""

from __future__ import annotations

import threading
import time
from typing import Any, List, Tuple

import blazingmq


def _recording(received: List[Tuple[int, bool]], done: threading.Event, count: int, holder: dict) -> Any:
    def on_message(message: Any, handle: Any) -> None:
        h = holder["session"]._handle
        received.append((int(message.data), h.delivery_woken_ns == h.delivery_queued_ns))
        handle.confirm()
        if len(received) == count:
            done.set()

    return on_message


def test_an_idle_session_delivers_on_libbmqs_event_thread(session_factory, queue_uri):
    uri = queue_uri()
    received: List[Tuple[int, bool]] = []
    done = threading.Event()
    holder: dict = {}
    count = 30
    session = session_factory(on_message=_recording(received, done, count, holder))
    holder["session"] = session
    session.open_queue(uri, read=True, write=True)
    for number in range(count):
        session.post(uri, str(number).encode())
        time.sleep(0.01)  # each message alone: the session is idle
    assert done.wait(10)
    assert [number for number, _ in received] == list(range(count))
    inline = sum(1 for _, on_libbmq_thread in received if on_libbmq_thread)
    # A loaded machine may make a delivery slow now and then (the pump
    # takes the next window); a session that always used the pump has 0.
    assert inline >= count // 2, received


def test_a_busy_interpreter_gets_the_pump_and_loses_nothing(session_factory, queue_uri):
    uri = queue_uri()
    received: List[Tuple[int, bool]] = []
    done = threading.Event()
    holder: dict = {}
    count = 400
    session = session_factory(on_message=_recording(received, done, count, holder))
    holder["session"] = session
    session.open_queue(uri, read=True, write=True)

    stop_spinning = threading.Event()

    def spin() -> None:
        # Pure Python: holds the GIL until the interpreter's switch
        # interval makes it let go, so every delivery waits for it.
        while not stop_spinning.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        for number in range(count):
            session.post(uri, str(number).encode())
            if number % 50 == 49:
                time.sleep(0.02)
        assert done.wait(30)
    finally:
        stop_spinning.set()
        spinner.join()
    assert [number for number, _ in received] == list(range(count))
    assert any(not on_libbmq_thread for _, on_libbmq_thread in received)


def test_order_and_count_across_idle_and_busy_phases(session_factory, queue_uri):
    uri = queue_uri()
    received: List[Tuple[int, bool]] = []
    done = threading.Event()
    holder: dict = {}
    phases = [(1, 0.005)] * 20 + [(500, 0.0)] + [(1, 0.005)] * 20 + [(2000, 0.0)] + [(3, 0.003)] * 20
    count = sum(n for n, _ in phases)
    acks: List[Any] = []
    session = session_factory(on_message=_recording(received, done, count, holder))
    holder["session"] = session
    session.open_queue(uri, read=True, write=True)
    number = 0
    for burst, pause in phases:
        for _ in range(burst):
            session.post(uri, str(number).encode(), on_ack=acks.append)
            number += 1
        time.sleep(pause)
    assert done.wait(30)
    assert [n for n, _ in received] == list(range(count))
    deadline = time.monotonic() + 10
    while len(acks) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acks) == count and all(ack.status == blazingmq.AckStatus.SUCCESS for ack in acks)
    # Both ways were used: the idle phases inline, the bursts (mostly) by
    # the pump.  Either alone would still deliver everything, in order.
    kinds = {on_libbmq_thread for _, on_libbmq_thread in received}
    assert kinds == {True, False}, kinds
