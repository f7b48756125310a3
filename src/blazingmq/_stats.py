"""The :class:`SessionStats` snapshot returned by ``Session.stats()``."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Dict, Mapping, Sequence

from ._enums import AckStatus, ack_status_from_code

__all__ = ["SessionStats", "stats_from_counts"]

# bmqt::SessionEventType codes of the events counted.
_CONNECTION_LOST = 3
_RECONNECTED = 4
_SLOW_CONSUMER_HIGH_WATERMARK = 11
_CHANNEL_HIGH_WATERMARK = 18


@dataclasses.dataclass(frozen=True)
class SessionStats:
    """What a session has done since it was created: a snapshot taken by
    :meth:`Session.stats() <blazingmq.Session.stats>`.

    Every field is a count since the session was created, except
    ``posts_awaiting_ack`` (the current number).  Taking a snapshot is
    cheap, and counting costs nothing measurable: the counters are plain C
    integers that the SDK updates where it already holds the GIL.

    Attributes:
        messages_posted: Messages that libbmq accepted from :meth:`post
            <blazingmq.Session.post>` and :meth:`post_many
            <blazingmq.Session.post_many>` (a refused post is not counted).
        bytes_posted: Their payload bytes.
        acks: ACKs received from the broker, by status; only statuses that
            occurred are present (``stats.acks.get(AckStatus.SUCCESS, 0)``).
            A failed post is NACKed even when it asked for no ACK, so NACKs
            of posts without ``on_ack`` are counted too.
        messages_received: Messages handed to ``on_message`` (or, for
            :class:`blazingmq.aio.Session`, to :meth:`messages()
            <blazingmq.aio.Session.messages>`).
        bytes_received: Their payload bytes.
        messages_confirmed: Confirmations that libbmq accepted.
        posts_awaiting_ack: Posts with an ``on_ack`` whose ACK has not been
            delivered yet (the messages in flight).
        channel_waits: Posts (or :meth:`post_many
            <blazingmq.Session.post_many>` calls) that found the channel to
            the broker full, or ``max_unacked_posts``/``max_unacked_bytes``
            reached, and had to wait.
        connections_lost: ``ConnectionLost`` events.
        reconnections: ``Reconnected`` events.
        channel_high_watermarks: ``ChannelHighWatermark`` events.
        slow_consumer_high_watermarks: ``SlowConsumerHighWaterMark`` events
            (libbmq's event queue filled up: the program was too slow).
    """

    messages_posted: int
    bytes_posted: int
    acks: Mapping[AckStatus, int] = dataclasses.field(hash=False)
    messages_received: int
    bytes_received: int
    messages_confirmed: int
    posts_awaiting_ack: int
    channel_waits: int
    connections_lost: int
    reconnections: int
    channel_high_watermarks: int
    slow_consumer_high_watermarks: int

    @property
    def nacks(self) -> int:
        """ACKs whose status is not ``SUCCESS``."""
        return sum(count for status, count in self.acks.items() if status is not AckStatus.SUCCESS)

    def __repr__(self) -> str:
        fields = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "acks":
                value = "{" + ", ".join(f"{status.name}: {count}" for status, count in value.items()) + "}"
            fields.append(f"{field.name}={value}")
        return f"SessionStats({', '.join(fields)})"


def stats_from_counts(counts: Sequence[Any], ack_codes: Sequence[Any]) -> SessionStats:
    """Build a :class:`SessionStats` from ``SessionHandle.stats()``;
    ``ack_codes[i]`` is the ACK result code counted at index ``i`` (None:
    any code this SDK does not know)."""
    (
        posted,
        posted_bytes,
        received,
        received_bytes,
        confirmed,
        ack_counts,
        event_counts,
        awaiting,
        channel_waits,
    ) = counts
    acks: Dict[AckStatus, int] = {}
    for code, count in zip(ack_codes, ack_counts):
        if count:
            status = AckStatus.UNRECOGNIZED if code is None else ack_status_from_code(code)
            acks[status] = acks.get(status, 0) + count
    return SessionStats(
        messages_posted=posted,
        bytes_posted=posted_bytes,
        acks=types.MappingProxyType(acks),
        messages_received=received,
        bytes_received=received_bytes,
        messages_confirmed=confirmed,
        posts_awaiting_ack=awaiting,
        channel_waits=channel_waits,
        connections_lost=event_counts.get(_CONNECTION_LOST, 0),
        reconnections=event_counts.get(_RECONNECTED, 0),
        channel_high_watermarks=event_counts.get(_CHANNEL_HIGH_WATERMARK, 0),
        slow_consumer_high_watermarks=event_counts.get(_SLOW_CONSUMER_HIGH_WATERMARK, 0),
    )
