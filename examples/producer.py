"""Post messages and wait until the broker has acknowledged each one.

    python examples/producer.py [COUNT]

The broker is ``tcp://localhost:30114`` unless ``BMQ_BROKER_URI`` is set.
"""

from __future__ import annotations

import sys
import threading

import blazingmq

QUEUE_URI = "bmq://bmq.test.mem.priority/example"


def main(count: int) -> int:
    remaining = count
    failures = 0
    all_acked = threading.Event()
    lock = threading.Lock()

    def on_ack(ack: blazingmq.Ack) -> None:
        nonlocal remaining, failures
        with lock:
            if ack.status is not blazingmq.AckStatus.SUCCESS:
                failures += 1
            remaining -= 1
            if remaining == 0:
                all_acked.set()

    with blazingmq.Session(blazingmq.session_events.log_session_event) as session:
        session.open_queue(QUEUE_URI, write=True)
        for number in range(count):
            session.post(
                QUEUE_URI,
                f"message {number}".encode(),
                properties={"number": number, "source": "examples/producer.py"},
                on_ack=on_ack,
            )
        if count:
            all_acked.wait()
        session.close_queue(QUEUE_URI)
    print(f"posted {count} messages, {failures} not acknowledged")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
