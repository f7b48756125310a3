"""Post messages and match each acknowledgement to the post it answers.

    python examples/producer_acks.py [COUNT] [BROKER_URI]

Each post gets its own ``on_ack`` callback (a ``functools.partial`` carrying
the message's number), so the program knows which message every ACK is
about: it prints one line per message, in posting order, with its status and
the GUID the broker gave it.

The broker is BROKER_URI, else ``tcp://localhost:30114``; libbmq uses the
environment variable ``BMQ_BROKER_URI`` instead when it is set.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Dict

import blazingmq

QUEUE_URI = "bmq://bmq.test.mem.priority/example-acks"
DEFAULT_BROKER = "tcp://localhost:30114"


def main(count: int, broker: str = DEFAULT_BROKER) -> int:
    acks: Dict[int, blazingmq.Ack] = {}
    lock = threading.Lock()
    all_acked = threading.Event()

    def on_ack(number: int, ack: blazingmq.Ack) -> None:
        # Runs on the session's callback thread.
        with lock:
            acks[number] = ack
            if len(acks) == count:
                all_acked.set()

    with blazingmq.Session(blazingmq.session_events.log_session_event, broker=broker) as session:
        session.open_queue(QUEUE_URI, write=True)
        for number in range(count):
            session.post(
                QUEUE_URI,
                f"order {number}".encode(),
                properties={"order": number},
                on_ack=functools.partial(on_ack, number),
            )
        if count and not all_acked.wait(timeout=60):
            print("timed out waiting for the acknowledgements", file=sys.stderr)
        # Closing the queue turns the ACKs still outstanding into failures.
        session.close_queue(QUEUE_URI)

    failures = 0
    for number in range(count):
        ack = acks[number]
        guid = ack.guid.hex().upper() if ack.guid is not None else "-"
        print(f"order {number}: {ack.status.name} {guid}")
        if ack.status is not blazingmq.AckStatus.SUCCESS:
            failures += 1
    print(f"posted {count} messages, {failures} not acknowledged")
    return 1 if failures else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.exit(main(int(arguments[0]) if arguments else 10, *arguments[1:2]))
