"""Tracing of a synchronous :class:`blazingmq.Session`.

An instrumented session gets, once, at construction, instance attributes
that stand in front of its class's ``post``, ``post_many``, ``confirm`` and
``confirm_many``, and an ``on_message`` wrapped in a CONSUMER span.
Sessions that are not instrumented keep the class's methods: their hot
paths run exactly the code they ran before.

The stand-ins hold their session weakly: the session owns them (its
``__dict__``), and a reference cycle would keep a dropped session alive
until the garbage collector runs, instead of stopping it at once.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from .._messages import Message, MessageHandle
from ._telemetry import SessionTelemetry, TracedMethod, report_failure

__all__ = ["attach", "wrap_on_message"]


class _TracedMessageHandle(MessageHandle):
    """The handle an instrumented ``on_message`` receives: confirming is an
    event of the message's process span."""

    __slots__ = ("_span", "_telemetry")

    _span: Span
    _telemetry: SessionTelemetry

    def confirm(self) -> None:
        MessageHandle.confirm(self)
        message = self._message
        self._telemetry.confirmed(self._span, message.queue_uri, message.guid)


def wrap_on_message(telemetry: SessionTelemetry, on_message: Callable[..., Any]) -> Callable[[Message, MessageHandle], None]:
    """``on_message`` run inside a CONSUMER ``process <queue>`` span per
    message; an exception it raises is recorded on the span (and reported
    as before)."""
    processing = telemetry.processing
    attach = otel_context.attach
    detach = otel_context.detach
    set_span_in_context = trace.set_span_in_context

    def traced_on_message(message: Message, handle: MessageHandle) -> None:
        queue_uri = message.queue_uri
        try:
            span = telemetry.start_process(queue_uri, message.properties, message.guid, len(message.data))
        except Exception:  # the program's callback runs all the same
            report_failure()
            on_message(message, handle)
            return
        traced = _TracedMessageHandle.__new__(_TracedMessageHandle)
        traced._message = handle._message
        traced._session = handle._session
        traced._span = span
        traced._telemetry = telemetry
        processing.message = message
        processing.span = span
        token = attach(set_span_in_context(span))
        started = time.monotonic()
        try:
            on_message(message, traced)
        except BaseException as error:
            detach(token)
            processing.message = processing.span = None
            _end(span, queue_uri, started, error)
            raise
        detach(token)
        processing.message = processing.span = None
        _end(span, queue_uri, started, None)

    def _end(span: Span, queue_uri: str, started: float, error: Optional[BaseException]) -> None:
        try:
            telemetry.end_process(span, queue_uri, started, error)
        except Exception:
            report_failure()

    return traced_on_message


class _TracedPost(TracedMethod):
    __slots__ = ()

    def __call__(
        self,
        queue_uri: str,
        message: bytes,
        properties: Optional[Mapping[Any, Any]] = None,
        property_type_overrides: Optional[Mapping[Any, Any]] = None,
        on_ack: Optional[Callable[..., Any]] = None,
    ) -> None:
        session = self._owner()
        post = type(session).post
        if not isinstance(message, bytes) or not (properties is None or isinstance(properties, Mapping)):
            # Refused as it is, with the usual error; no span.
            post(session, queue_uri, message, properties, property_type_overrides, on_ack)
            return
        try:
            state, traced_properties, traced_on_ack = self._telemetry.start_send(
                queue_uri, properties, on_ack, 1, len(message)
            )
        except Exception:  # posted all the same, untraced
            report_failure()
            post(session, queue_uri, message, properties, property_type_overrides, on_ack)
            return
        try:
            post(session, queue_uri, message, traced_properties, property_type_overrides, traced_on_ack)
        except BaseException as error:
            state.failed(error, 1)
            raise
        state.posted(1, traced_on_ack is not None)


class _TracedPostMany(TracedMethod):
    __slots__ = ()

    def __call__(
        self,
        queue_uri: str,
        messages: Iterable[bytes],
        properties: Optional[Mapping[Any, Any]] = None,
        property_type_overrides: Optional[Mapping[Any, Any]] = None,
        on_ack: Optional[Callable[..., Any]] = None,
    ) -> None:
        session = self._owner()
        post_many = type(session).post_many
        payloads: Any = None
        if (
            not isinstance(messages, (bytes, bytearray, str))
            and (properties is None or isinstance(properties, Mapping))
            and (on_ack is None or callable(on_ack))
        ):
            try:
                payloads = list(messages)
            except TypeError:
                pass  # not iterable: refused below, with the usual error
        if not payloads:
            # Refused (or nothing to post) as usual; no span.
            post_many(
                session, queue_uri, messages if payloads is None else payloads, properties, property_type_overrides, on_ack
            )
            return
        count = len(payloads)
        try:
            state, traced_properties, traced_on_ack = self._telemetry.start_send(
                queue_uri, properties, on_ack, count, 0
            )
        except Exception:  # posted all the same, untraced
            report_failure()
            post_many(session, queue_uri, payloads, properties, property_type_overrides, on_ack)
            return
        try:
            post_many(session, queue_uri, payloads, traced_properties, property_type_overrides, traced_on_ack)
        except BaseException as error:
            state.failed(error, count)
            raise
        state.posted(count, traced_on_ack is not None)


class _TracedConfirm(TracedMethod):
    __slots__ = ()

    def __call__(self, message: Message) -> None:
        session = self._owner()
        type(session).confirm(session, message)
        telemetry = self._telemetry
        processing = telemetry.processing
        span = getattr(processing, "span", None) if getattr(processing, "message", None) is message else None
        telemetry.confirmed(span, message.queue_uri, message.guid)


class _TracedConfirmMany(TracedMethod):
    __slots__ = ()

    def __call__(self, messages: Iterable[Message]) -> None:
        session = self._owner()
        items: Any = messages
        try:
            items = list(messages)
        except TypeError:
            pass  # not iterable: refused below, with the usual error
        type(session).confirm_many(session, items)
        if not isinstance(items, list) or not items:
            return
        telemetry = self._telemetry
        queue_uri = items[0].queue_uri
        attributes = {
            **telemetry.base_attributes,
            "messaging.destination.name": queue_uri,
            "messaging.operation.name": "confirm",
            "messaging.operation.type": "settle",
            "messaging.batch.message_count": len(items),
        }
        try:
            telemetry.tracer.start_span(f"confirm {queue_uri}", kind=SpanKind.CLIENT, attributes=attributes).end()
        except Exception:  # the confirmation itself was made
            report_failure()


def attach(session: Any, telemetry: SessionTelemetry) -> None:
    """Give ``session`` its traced stand-ins (once, at construction)."""
    session.post = _TracedPost(session, telemetry)
    session.post_many = _TracedPostMany(session, telemetry)
    session.confirm = _TracedConfirm(session, telemetry)
    session.confirm_many = _TracedConfirmMany(session, telemetry)
