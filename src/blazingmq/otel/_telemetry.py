"""What one instrumented session records: its spans and measurements.

A :class:`SessionTelemetry` is made per session by
:func:`blazingmq.otel.instrument`'s hook and holds everything that does not
change per message (the tracer, the instruments, the attributes of the
broker), so that the per-message work is a span, a context injection or
extraction, and a few counter updates.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import traceback
import urllib.parse
import weakref
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from .._enums import AckStatus
from .._messages import Ack
from ..exceptions import Error
from ._control_spans import control_spans

__all__ = ["SessionTelemetry", "SendState", "report_failure"]

SYSTEM = "blazingmq"
_SCOPE = "blazingmq"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.27.0"
# Seconds; the semantic conventions' advice for messaging durations.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_DEFAULT_BROKER_PORT = 30114

# Ids of the sessions (``messaging.client.id``), unique in the process.
_client_numbers = itertools.count(1)


class _StringGetter(Getter[Mapping[str, Any]]):
    """Reads a propagation field from received message properties: only a
    STRING property can carry one (a property of another type with the same
    name is not a trace context)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> Optional[List[str]]:
        value = carrier.get(key)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Mapping[str, Any]) -> List[str]:
        return list(carrier)


_GETTER = _StringGetter()


def broker_address(broker: str) -> Tuple[Optional[str], Optional[int]]:
    """``server.address`` and ``server.port`` of a broker URI such as
    ``tcp://localhost:30114``; libbmq uses ``BMQ_BROKER_URI`` instead when
    that is set, and so does this."""
    uri = os.environ.get("BMQ_BROKER_URI") or broker
    try:
        parsed = urllib.parse.urlsplit(uri)
        return parsed.hostname, parsed.port or _DEFAULT_BROKER_PORT
    except ValueError:
        return None, None


def _histogram(meter: Meter, name: str, description: str) -> Histogram:
    try:
        return meter.create_histogram(
            name, unit="s", description=description, explicit_bucket_boundaries_advisory=_DURATION_BUCKETS
        )
    except TypeError:  # opentelemetry-api before 1.23 has no bucket advice
        return meter.create_histogram(name, unit="s", description=description)


class _Instruments:
    """The synchronous instruments of one meter provider, shared by its
    sessions."""

    __slots__ = ("operation_duration", "process_duration")

    def __init__(self, meter: Meter) -> None:
        # (The message counters are observable: see `_metrics.py`.)
        self.operation_duration = _histogram(
            meter,
            "messaging.client.operation.duration",
            "Duration of a send: from the post to its ACK (or, without on_ack, to the post's return).",
        )
        self.process_duration = _histogram(
            meter, "messaging.process.duration", "Duration of processing a message (on_message, or one iteration)."
        )


class SessionTelemetry:
    """The tracer, instruments and constant attributes of one session."""

    def __init__(
        self,
        tracer: Tracer,
        instruments: _Instruments,
        broker: str,
    ) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.client_id = f"{os.getpid()}-{next(_client_numbers)}"
        address, port = broker_address(broker)
        base: Dict[str, Any] = {"messaging.system": SYSTEM}
        if address:
            base["server.address"] = address
        if port:
            base["server.port"] = port
        self.base_attributes = base
        # Per queue and operation: the span attributes and the metric
        # attributes (made once, reused for every message).
        self._send_attributes: Dict[str, Dict[str, Any]] = {}
        self._process_attributes: Dict[str, Dict[str, Any]] = {}
        # Messages sent, by (queue, error type or None), and consumed, by
        # queue: plain counts (an SDK counter's `add` costs ~8 us a call),
        # reported by observable counters (see `_metrics.py`).
        self._counts_lock = threading.Lock()
        self.sent_counts: Dict[Tuple[str, Optional[str]], int] = {}
        self.consumed_counts: Dict[str, int] = {}
        # The message whose `on_message` runs on this thread, and its span:
        # `Session.confirm` of that message is an event of the span.
        self.processing = threading.local()
        # libbmq's spans of this session's control operations (see
        # `_control_spans`): the id the C++ layer tags them with, and what
        # must live as long as the session for them to be recorded.
        self.control_tracer_id, self._control_tracer = control_spans.register(
            tracer, {**base, "messaging.client.id": self.client_id}
        )

    def caller_span(self) -> int:
        """Register the current span as the parent of libbmq's spans of the
        control operation about to start; return its id."""
        return control_spans.caller()

    def drain_control_spans(self) -> None:
        """Make the spans libbmq has ended so far (after ``stop()``, so that
        its spans are exported before the program goes on)."""
        control_spans.drain()

    # -- attributes ---------------------------------------------------------

    def send_attributes(self, queue_uri: str) -> Dict[str, Any]:
        attributes = self._send_attributes.get(queue_uri)
        if attributes is None:
            attributes = {
                **self.base_attributes,
                "messaging.destination.name": queue_uri,
                "messaging.operation.name": "send",
                "messaging.operation.type": "send",
            }
            self._send_attributes[queue_uri] = attributes
        return attributes

    def process_attributes(self, queue_uri: str) -> Dict[str, Any]:
        attributes = self._process_attributes.get(queue_uri)
        if attributes is None:
            attributes = {
                **self.base_attributes,
                "messaging.destination.name": queue_uri,
                "messaging.operation.name": "process",
                "messaging.operation.type": "process",
            }
            self._process_attributes[queue_uri] = attributes
        return attributes

    def count_sent(self, queue_uri: str, count: int, error_type: Optional[str]) -> None:
        key = (queue_uri, error_type)
        with self._counts_lock:
            self.sent_counts[key] = self.sent_counts.get(key, 0) + count

    def count_consumed(self, queue_uri: str) -> None:
        with self._counts_lock:
            self.consumed_counts[queue_uri] = self.consumed_counts.get(queue_uri, 0) + 1

    def message_counts(self) -> Tuple[Dict[Tuple[str, Optional[str]], int], Dict[str, int]]:
        """Copies of ``sent_counts`` and ``consumed_counts``."""
        with self._counts_lock:
            return dict(self.sent_counts), dict(self.consumed_counts)

    # -- producer -------------------------------------------------------------

    def start_send(
        self,
        queue_uri: str,
        properties: Any,
        on_ack: Any,
        count: int,
        body_size: int,
    ) -> Tuple["SendState", Any, Any]:
        """Start the PRODUCER span of a post (``count`` 1) or of a
        ``post_many`` call, as a child of the current span.  Return its
        state, the properties to post (the program's, plus the span's
        context; the program's own mapping is not changed) and the
        ``on_ack`` to post with (None if the program asked for no ACK)."""
        attributes = self.send_attributes(queue_uri)
        span = self.tracer.start_span(
            f"send {queue_uri}",
            kind=SpanKind.PRODUCER,
            attributes={
                **attributes,
                **(
                    {"messaging.message.body.size": body_size}
                    if count == 1
                    else {"messaging.batch.message_count": count}
                ),
            },
        )
        state = SendState(self, span, queue_uri, attributes, on_ack, count)
        carrier: Dict[Any, Any] = dict(properties) if properties else {}
        # A context the program put in the message itself is kept.
        if not carrier or not any(field in carrier for field in propagate.get_global_textmap().fields):
            propagate.inject(carrier, context=trace.set_span_in_context(span))
        return state, carrier, (state if on_ack is not None else None)

    # -- consumer -------------------------------------------------------------

    def start_process(self, queue_uri: str, properties: Mapping[str, Any], guid: bytes, size: int) -> Span:
        """Start the CONSUMER span of processing one message: its parent is
        the producer's context carried by the message (so both are in one
        trace), which it also links to, as the messaging conventions ask."""
        attributes = self.process_attributes(queue_uri)
        parent = propagate.extract(properties, getter=_GETTER)
        producer = trace.get_current_span(parent).get_span_context()
        links = [Link(producer)] if producer.is_valid else None
        span = self.tracer.start_span(
            f"process {queue_uri}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                **attributes,
                "messaging.message.id": guid.hex().upper(),
                "messaging.message.body.size": size,
            },
            links=links,
        )
        self.count_consumed(queue_uri)
        return span

    def end_process(self, span: Span, queue_uri: str, started: float, error: Optional[BaseException]) -> None:
        attributes = self.process_attributes(queue_uri)
        if error is not None:
            error_type = type(error).__qualname__
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{error_type}: {error}"))
            span.set_attribute("error.type", error_type)
            attributes = {**attributes, "error.type": error_type}
        span.end()
        self.instruments.process_duration.record(time.monotonic() - started, attributes)

    def confirmed(self, span: Optional[Span], queue_uri: str, guid: bytes) -> None:
        """A message was confirmed: an event of its process span while that
        runs, else a short ``settle`` span of its own.  Never raises (the
        confirmation itself was made)."""
        try:
            self._confirmed(span, queue_uri, guid)
        except Exception:
            report_failure()

    def _confirmed(self, span: Optional[Span], queue_uri: str, guid: bytes) -> None:
        if span is not None and span.is_recording():
            span.add_event("confirm")
            return
        attributes = {
            **self.base_attributes,
            "messaging.destination.name": queue_uri,
            "messaging.operation.name": "confirm",
            "messaging.operation.type": "settle",
            "messaging.message.id": guid.hex().upper(),
        }
        links = [Link(span.get_span_context())] if span is not None else None
        self.tracer.start_span(f"confirm {queue_uri}", kind=SpanKind.CLIENT, attributes=attributes, links=links).end()


def report_failure() -> None:
    """Print the exception being handled: recording telemetry failed (an
    exporter or processor raised), which must never cost the program a
    callback."""
    try:
        print("blazingmq.otel: recording telemetry failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
    except Exception:  # pragma: no cover - stderr itself is broken
        pass


class SendState:
    """One traced post (or ``post_many`` call) until its last ACK: it is the
    ``on_ack`` given to libbmq, and calls the program's own after recording
    the ACK on the span."""

    __slots__ = (
        "_telemetry",
        "span",
        "_queue_uri",
        "_attributes",
        "_on_ack",
        "_single",
        "_remaining",
        "_failed",
        "_ended",
        "_started",
    )

    def __init__(
        self,
        telemetry: SessionTelemetry,
        span: Span,
        queue_uri: str,
        attributes: Dict[str, Any],
        on_ack: Any,
        count: int,
    ) -> None:
        self._telemetry = telemetry
        self.span = span
        self._queue_uri = queue_uri
        self._attributes = attributes
        self._on_ack = on_ack
        self._single = count == 1
        self._remaining = count
        self._failed: Optional[AckStatus] = None
        self._ended = False
        self._started = time.monotonic()

    def __call__(self, ack: Ack) -> Any:
        if not self._ended:
            try:
                self.record_ack(ack)
            except Exception:  # the program's on_ack is called all the same
                report_failure()
        return self._on_ack(ack)  # a non-callable is reported as before

    def record_ack(self, ack: Ack) -> None:
        """Record one ACK; the last one ends the span."""
        span = self.span
        if ack.status is not AckStatus.SUCCESS and self._failed is None:
            self._failed = ack.status
        self._remaining -= 1
        if self._remaining > 0:
            return
        if self._failed is not None:
            name = self._failed.name
            span.set_attributes({"messaging.blazingmq.ack.status": name, "error.type": name})
            span.set_status(Status(StatusCode.ERROR, f"NACK: {name}"))
            self.end({**self._attributes, "error.type": name})
        elif self._single and ack.guid:
            span.set_attributes(
                {"messaging.blazingmq.ack.status": "SUCCESS", "messaging.message.id": ack.guid.hex().upper()}
            )
            self.end(self._attributes)
        else:
            span.set_attribute("messaging.blazingmq.ack.status", "SUCCESS")
            self.end(self._attributes)

    def posted(self, posted: int, acked: bool) -> None:
        """The post returned normally; ``posted`` messages were sent.
        Without ACKs the span ends now."""
        self._telemetry.count_sent(self._queue_uri, posted, None)
        if not acked:
            self.end(self._attributes)

    def failed(self, error: BaseException, count: int) -> None:
        """The post raised: the span ends with the exception; ACKs of the
        messages it did post still reach the program."""
        error_type = type(error).__qualname__
        attributes = {**self._attributes, "error.type": error_type}
        if count:
            self._telemetry.count_sent(self._queue_uri, count, error_type)
        self.span.record_exception(error)
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR, f"{error_type}: {error}"))
        self.end(attributes)

    def end(self, metric_attributes: Mapping[str, Any]) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.span.end()
            self._telemetry.instruments.operation_duration.record(time.monotonic() - self._started, metric_attributes)
        except Exception:  # the post itself succeeded: it must not raise
            report_failure()


class TracedMethod:
    """A stand-in for one method of one instrumented session (sync or
    aio), set as an attribute of that session only: other sessions keep the
    class's methods.  Holds the session weakly, so that the stand-ins do not
    keep a dropped session alive."""

    __slots__ = ("_session", "_telemetry")

    def __init__(self, session: Any, telemetry: "SessionTelemetry") -> None:
        self._session = weakref.ref(session)
        self._telemetry = telemetry

    def _owner(self) -> Any:
        session = self._session()
        if session is None:
            raise Error("Method called after session was stopped")
        return session
