"""Session events: what ``on_session_event`` receives.

Every event is a :class:`SessionEvent`; events about one queue are
:class:`QueueEvent` and carry its URI.  Equality compares the class and the
message (and the queue URI).
"""

from __future__ import annotations

import logging
from typing import Optional, Type

__all__ = [
    "SessionEvent",
    "QueueEvent",
    "Connected",
    "Disconnected",
    "ConnectionLost",
    "Reconnected",
    "StateRestored",
    "ConnectionTimeout",
    "HostUnhealthy",
    "HostHealthRestored",
    "QueueReopened",
    "QueueReopenFailed",
    "QueueSuspended",
    "QueueSuspendFailed",
    "QueueResumed",
    "QueueResumeFailed",
    "SlowConsumerNormal",
    "SlowConsumerHighWaterMark",
    "ChannelHighWatermark",
    "ChannelLowWatermark",
    "Error",
    "InterfaceError",
    "log_session_event",
]


class SessionEvent:
    """The base class of every session event.

    Events are passed to the session's ``on_session_event`` callback, on the
    session's callback thread.  A failed status renders as
    ``"<description>: <STATUS> (<code>)"`` in ``message``.

    Args:
        message: A description of the event, if it has one.

    Attributes:
        message (str | None): The description, or None.
    """

    def __init__(self, message: Optional[str] = None) -> None:
        self.message = message

    def __repr__(self) -> str:
        if self.message:
            return f"<{type(self).__name__}: {self.message}>"
        return f"<{type(self).__name__}>"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self.message == other.message)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]


class QueueEvent(SessionEvent):
    """A session event about one queue.

    Args:
        queue_uri: The queue the event is about.
        message: A description of the event, if it has one.

    Attributes:
        queue_uri (str): The queue the event is about.
    """

    def __init__(self, queue_uri: str, message: Optional[str] = None) -> None:
        super().__init__(message)
        self.queue_uri = queue_uri

    def __repr__(self) -> str:
        if self.message:
            return f"<{type(self).__name__}: {self.queue_uri} {self.message}>"
        return f"<{type(self).__name__}: {self.queue_uri}>"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(
            self.message == other.message and self.queue_uri == other.queue_uri
        )


class Connected(SessionEvent):
    """The session connected to the broker."""


class Disconnected(SessionEvent):
    """The session disconnected from the broker (after ``stop()``)."""


class ConnectionLost(SessionEvent):
    """The connection to the broker was lost; libbmq reconnects by itself."""


class Reconnected(SessionEvent):
    """The session reconnected; queues are being reopened."""


class StateRestored(SessionEvent):
    """Every queue was reopened after a reconnection."""


class ConnectionTimeout(SessionEvent):
    """The connection to the broker could not be established in time."""


class HostUnhealthy(SessionEvent):
    """The host health monitor reported the host unhealthy."""


class HostHealthRestored(SessionEvent):
    """The host is healthy again and every suspended queue has resumed."""


class QueueReopened(QueueEvent):
    """A queue was reopened after a reconnection."""


class QueueReopenFailed(QueueEvent):
    """A queue could not be reopened after a reconnection."""


class QueueSuspended(QueueEvent):
    """A queue was suspended because the host is unhealthy."""


class QueueSuspendFailed(QueueEvent):
    """A queue could not be suspended."""


class QueueResumed(QueueEvent):
    """A suspended queue resumed because the host is healthy again."""


class QueueResumeFailed(QueueEvent):
    """A suspended queue could not be resumed."""


class SlowConsumerNormal(SessionEvent):
    """The event queue went back below its low watermark."""


class SlowConsumerHighWaterMark(SessionEvent):
    """The event queue reached its high watermark: callbacks are too slow."""


class ChannelHighWatermark(SessionEvent):
    """The channel to the broker is full: posts wait, then fail with
    :class:`blazingmq.exceptions.BandwidthLimitError`.  Pause producing."""


class ChannelLowWatermark(SessionEvent):
    """The channel to the broker drained: producing may resume."""


class Error(SessionEvent):
    """libbmq reported an error (an event, not the exception
    :class:`blazingmq.exceptions.Error`)."""


class InterfaceError(SessionEvent):
    """The SDK met something it could not hand to the program (an unexpected
    event type, a message with no ``on_message`` callback, a STRING property
    that is not UTF-8)."""


_INFO = (
    Connected,
    Disconnected,
    StateRestored,
    SlowConsumerNormal,
    QueueReopened,
    HostUnhealthy,
    HostHealthRestored,
    QueueSuspended,
    QueueResumed,
    ChannelLowWatermark,
)
_WARNING = (ConnectionLost, Reconnected, SlowConsumerHighWaterMark, ChannelHighWatermark)

_logger = logging.getLogger(__name__)


def log_session_event(event: SessionEvent) -> None:
    """Log ``event`` to the ``blazingmq.session_events`` logger.

    INFO for the events of normal operation, WARNING for connection trouble
    and watermarks, ERROR for everything else.  Usable directly as the
    ``on_session_event`` callback.

    Args:
        event: The event to log.
    """
    level = logging.ERROR
    if isinstance(event, _INFO):
        level = logging.INFO
    elif isinstance(event, _WARNING):
        level = logging.WARNING
    _logger.log(level, "Received session event: %s", event)


# libbmq session event types (bmqt::SessionEventType) -> event classes.
# Queue results pick the success or failure class by status.
EVENT_CLASS_BY_TYPE: "dict[int, Type[SessionEvent]]" = {
    -1: Error,
    -2: Error,
    -3: Error,
    1: Connected,
    2: Disconnected,
    3: ConnectionLost,
    4: Reconnected,
    5: StateRestored,
    6: ConnectionTimeout,
    10: SlowConsumerNormal,
    11: SlowConsumerHighWaterMark,
    13: HostUnhealthy,
    14: HostHealthRestored,
    17: ChannelLowWatermark,
    18: ChannelHighWatermark,
}
QUEUE_EVENT_CLASSES_BY_TYPE: "dict[int, tuple[Type[QueueEvent], Type[QueueEvent]]]" = {
    8: (QueueReopened, QueueReopenFailed),
    15: (QueueSuspended, QueueSuspendFailed),
    16: (QueueResumed, QueueResumeFailed),
}
EVENT_TYPE_NAMES = {
    0: "UNDEFINED",
    7: "QUEUE_OPEN_RESULT",
    9: "QUEUE_CLOSE_RESULT",
    12: "QUEUE_CONFIGURE_RESULT",
}
