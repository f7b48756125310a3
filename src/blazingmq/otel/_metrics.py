"""Observable instruments that read :meth:`blazingmq.Session.stats`.

Counts the SDK keeps anyway (ACKs by status, waits for the channel,
reconnections, slow-consumer and channel watermark events, posts awaiting
their ACK) are reported from each instrumented session's statistics when the
meter provider collects: nothing is done per message for them.  Each session
is a series of its own (attribute ``messaging.client.id``), so that a
session that stops cannot make a counter go down.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, Iterable, Iterator, Tuple

from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["register_observable_instruments"]

def register_observable_instruments(meter: Meter, sessions: "weakref.WeakKeyDictionary[Any, Dict[str, Any]]") -> None:
    """Create the observable instruments of ``meter``, reading the
    statistics of ``sessions`` (session -> attributes)."""

    def each() -> Iterator[Tuple[Any, Dict[str, Any]]]:
        for session, attributes in list(sessions.items()):
            yield session.stats(), attributes

    def observe(read: Callable[[Any], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(read(stats), attributes) for stats, attributes in each()]

        return callback

    def acks(options: CallbackOptions) -> Iterable[Observation]:
        observations = []
        for stats, attributes in each():
            for status, count in stats.acks.items():
                observations.append(Observation(count, {**attributes, "messaging.blazingmq.ack.status": status.name}))
        return observations

    def sent(options: CallbackOptions) -> Iterable[Observation]:
        observations = []
        for session, attributes in list(sessions.items()):
            telemetry = session._telemetry
            sent_counts, _ = telemetry.message_counts()
            for (queue_uri, error_type), count in sent_counts.items():
                point = {**telemetry.send_attributes(queue_uri), "messaging.client.id": telemetry.client_id}
                if error_type is not None:
                    point["error.type"] = error_type
                observations.append(Observation(count, point))
        return observations

    def consumed(options: CallbackOptions) -> Iterable[Observation]:
        observations = []
        for session, attributes in list(sessions.items()):
            telemetry = session._telemetry
            _, consumed_counts = telemetry.message_counts()
            for queue_uri, count in consumed_counts.items():
                point = {**telemetry.process_attributes(queue_uri), "messaging.client.id": telemetry.client_id}
                observations.append(Observation(count, point))
        return observations

    meter.create_observable_counter(
        "messaging.client.sent.messages",
        [sent],
        unit="{message}",
        description="Messages the producer attempted to send to the broker.",
    )
    meter.create_observable_counter(
        "messaging.client.consumed.messages",
        [consumed],
        unit="{message}",
        description="Messages delivered to the consumer.",
    )
    meter.create_observable_counter(
        "blazingmq.client.acks", [acks], unit="{ack}", description="ACKs received from the broker, by status."
    )
    meter.create_observable_counter(
        "blazingmq.client.nacks",
        [observe(lambda stats: stats.nacks)],
        unit="{ack}",
        description="ACKs whose status is not SUCCESS (posts the broker did not store).",
    )
    meter.create_observable_counter(
        "blazingmq.client.channel_waits",
        [observe(lambda stats: stats.channel_waits)],
        unit="{post}",
        description="Posts that found the channel full (or the unacknowledged limits reached) and waited.",
    )
    meter.create_observable_counter(
        "blazingmq.client.reconnections",
        [observe(lambda stats: stats.reconnections)],
        unit="{reconnection}",
        description="Reconnections to the broker after a lost connection.",
    )
    meter.create_observable_counter(
        "blazingmq.client.slow_consumer_high_watermarks",
        [observe(lambda stats: stats.slow_consumer_high_watermarks)],
        unit="{event}",
        description="Times libbmq's event queue reached its high watermark (the program was slow).",
    )
    meter.create_observable_counter(
        "blazingmq.client.channel_high_watermarks",
        [observe(lambda stats: stats.channel_high_watermarks)],
        unit="{event}",
        description="Times the channel to the broker filled up.",
    )
    meter.create_observable_gauge(
        "blazingmq.client.messages_in_flight",
        [observe(lambda stats: stats.posts_awaiting_ack)],
        unit="{message}",
        description="Posts awaiting their ACK.",
    )
