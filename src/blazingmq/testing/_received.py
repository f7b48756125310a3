"""Collects the messages a session receives, so a test can wait for them."""

from __future__ import annotations

import threading
import time
from typing import Callable, List

from .._messages import Message, MessageHandle

__all__ = ["Received"]


class Received:
    """The messages handed to :meth:`on_message`, in arrival order.

    Pass ``received.on_message`` as a session's ``on_message``; libbmq's
    callback thread appends, the test waits.  Messages are not confirmed.
    """

    def __init__(self) -> None:
        self.messages: List[Message] = []
        self._taken = 0
        self._condition = threading.Condition()

    def on_message(self, message: Message, handle: MessageHandle) -> None:
        with self._condition:
            self.messages.append(message)
            self._condition.notify_all()

    def get(self, timeout: float = 30.0) -> Message:
        """The next message not yet returned by :meth:`get`, waiting up to
        ``timeout`` seconds for it.

        Raises:
            TimeoutError: None arrived in time.
        """
        with self._condition:
            self._wait_until(lambda: len(self.messages) > self._taken, timeout, "a message")
            message = self.messages[self._taken]
            self._taken += 1
            return message

    def wait_for(self, count: int, timeout: float = 30.0) -> List[Message]:
        """All messages received so far, once there are at least ``count``.

        Raises:
            TimeoutError: Fewer arrived in time.
        """
        with self._condition:
            self._wait_until(lambda: len(self.messages) >= count, timeout, f"{count} messages")
            return list(self.messages)

    def __len__(self) -> int:
        with self._condition:
            return len(self.messages)

    def _wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"waited {timeout} s for {what}; received {len(self.messages)}")
            self._condition.wait(remaining)

    def __repr__(self) -> str:
        return f"<Received {len(self.messages)} messages>"
