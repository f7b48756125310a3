"""Receive messages and print their properties with the type of each.

    python examples/consumer_properties.py [COUNT] [BROKER_URI]

Posts COUNT messages that carry properties of several types (so that it
runs on its own), then receives them from the same queue, prints each
message's properties as ``name=value (TYPE)`` and confirms it.

The broker is BROKER_URI, else ``tcp://localhost:30114``; libbmq uses the
environment variable ``BMQ_BROKER_URI`` instead when it is set.
"""

from __future__ import annotations

import sys
import threading
from typing import List

import blazingmq
from blazingmq import PropertyType

QUEUE_URI = "bmq://bmq.test.mem.priority/example-properties"
DEFAULT_BROKER = "tcp://localhost:30114"


def describe(message: blazingmq.Message) -> str:
    """``name=value (TYPE)`` for each property, sorted by name."""
    return ", ".join(
        f"{name}={message.properties[name]!r} ({message.property_types[name].name})"
        for name in sorted(message.properties)
    )


def main(count: int, broker: str = DEFAULT_BROKER) -> int:
    lines: List[str] = []
    lock = threading.Lock()
    all_received = threading.Event()

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        # Runs on the session's callback thread; confirming here is allowed.
        with lock:
            lines.append(f"{message.data.decode()}: {describe(message)}")
            if len(lines) == count:
                all_received.set()
        handle.confirm()

    with blazingmq.Session(
        blazingmq.session_events.log_session_event, on_message=on_message, broker=broker
    ) as session:
        session.open_queue(QUEUE_URI, read=True, write=True)
        for number in range(count):
            session.post(
                QUEUE_URI,
                f"reading {number}".encode(),
                properties={
                    "sensor": "t-1",
                    "sequence": number,
                    "calibrated": number % 2 == 0,
                    "grade": b"A",
                    "raw": bytes([number % 256, 0xFF]),
                },
                property_type_overrides={"grade": PropertyType.CHAR, "sequence": PropertyType.INT32},
            )
        received_all = all_received.wait(timeout=60) if count else True
        # Pause delivery and let running callbacks finish before closing.
        session.configure_queue(QUEUE_URI, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(QUEUE_URI)

    for line in sorted(lines, key=lambda text: int(text.split(":")[0].split()[1])):
        print(line)
    print(f"received {len(lines)} messages")
    return 0 if received_all else 1


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.exit(main(int(arguments[0]) if arguments else 5, *arguments[1:2]))
