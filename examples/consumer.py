"""Print and confirm messages until COUNT have arrived or Ctrl-C.

    python examples/consumer.py [COUNT]

The broker is ``tcp://localhost:30114`` unless ``BMQ_BROKER_URI`` is set.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Optional

import blazingmq

QUEUE_URI = "bmq://bmq.test.mem.priority/example"


def main(count: Optional[int]) -> int:
    done = threading.Event()
    received = 0

    def on_message(message: blazingmq.Message, handle: blazingmq.MessageHandle) -> None:
        nonlocal received
        print(message.data.decode(), message.properties, flush=True)
        handle.confirm()
        received += 1
        if count is not None and received >= count:
            done.set()

    def on_sigint(signum: int, frame: Optional[FrameType]) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_sigint)
    with blazingmq.Session(blazingmq.session_events.log_session_event, on_message=on_message) as session:
        session.open_queue(QUEUE_URI, read=True)
        done.wait()
        # Pause delivery and let running callbacks finish before closing.
        session.configure_queue(QUEUE_URI, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(QUEUE_URI)
    print(f"received {received} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else None))
