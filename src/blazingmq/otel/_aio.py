"""Tracing of a :class:`blazingmq.aio.Session`.

As for the synchronous session (see ``_sync.py``), an instrumented session
gets stand-ins for ``post``, ``post_nowait``, ``messages`` and ``confirm``
once, at construction; other sessions keep their class's methods.

``messages()`` yields each message inside a CONSUMER ``process <queue>``
span, current while the program handles the message (the body of its
``async for``): it starts when the message is yielded and ends when the
loop asks for the next one, or leaves.  ``await session.post(...)`` is a
PRODUCER span from the post to its ACK.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any, Mapping, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

from ._telemetry import SendState, SessionTelemetry, TracedMethod, report_failure

__all__ = ["attach"]


def _ack_settled(state: SendState, future: "asyncio.Future[Any]") -> None:
    try:
        if future.cancelled():
            state.failed(asyncio.CancelledError(), 0)
            return
        error = future.exception()
        if error is not None:
            state.failed(error, 0)
        else:
            state.record_ack(future.result())
    except Exception:
        report_failure()


class _TracedPost(TracedMethod):
    __slots__ = ()

    def __call__(
        self,
        queue_uri: str,
        message: bytes,
        properties: Optional[Mapping[Any, Any]] = None,
        property_type_overrides: Optional[Mapping[Any, Any]] = None,
    ) -> "asyncio.Future[Any]":
        session = self._owner()
        post = type(session).post
        if not isinstance(message, bytes) or not (properties is None or isinstance(properties, Mapping)):
            return post(session, queue_uri, message, properties, property_type_overrides)
        try:
            state, traced_properties, _ = self._telemetry.start_send(queue_uri, properties, None, 1, len(message))
        except Exception:  # posted all the same, untraced
            report_failure()
            return post(session, queue_uri, message, properties, property_type_overrides)  # type: ignore[no-any-return]
        try:
            future: "asyncio.Future[Any]" = post(session, queue_uri, message, traced_properties, property_type_overrides)
        except BaseException as error:
            state.failed(error, 1)
            raise
        state.posted(1, True)
        future.add_done_callback(lambda done: _ack_settled(state, done))
        return future


class _TracedPostNowait(TracedMethod):
    __slots__ = ()

    def __call__(
        self,
        queue_uri: str,
        message: bytes,
        properties: Optional[Mapping[Any, Any]] = None,
        property_type_overrides: Optional[Mapping[Any, Any]] = None,
    ) -> None:
        session = self._owner()
        post_nowait = type(session).post_nowait
        if not isinstance(message, bytes) or not (properties is None or isinstance(properties, Mapping)):
            post_nowait(session, queue_uri, message, properties, property_type_overrides)
            return
        try:
            state, traced_properties, _ = self._telemetry.start_send(queue_uri, properties, None, 1, len(message))
        except Exception:  # posted all the same, untraced
            report_failure()
            post_nowait(session, queue_uri, message, properties, property_type_overrides)
            return
        try:
            post_nowait(session, queue_uri, message, traced_properties, property_type_overrides)
        except BaseException as error:
            state.failed(error, 1)
            raise
        state.posted(1, False)


class _TracedMessageIterator:
    """Wraps the iterator of ``messages()``: one process span per message."""

    __slots__ = ("_inner", "_telemetry", "_span", "_token", "_started", "_queue_uri", "__weakref__")

    def __init__(self, inner: Any, telemetry: SessionTelemetry) -> None:
        self._inner = inner
        self._telemetry = telemetry
        self._span: Optional[Span] = None
        self._token: Any = None
        self._started = 0.0
        self._queue_uri = ""

    def __aiter__(self) -> "_TracedMessageIterator":
        return self

    async def __anext__(self) -> Any:
        self._finish()
        message = await self._inner.__anext__()
        telemetry = self._telemetry
        try:
            span = telemetry.start_process(message.queue_uri, message.properties, message.guid, len(message.data))
        except Exception:  # handed over all the same, untraced
            report_failure()
            return message
        message._span = span
        self._span = span
        self._queue_uri = message.queue_uri
        self._started = time.monotonic()
        # Set in the awaiting task's context (a coroutine awaited directly
        # shares it), so the span is current in the loop's body.
        self._token = otel_context.attach(trace.set_span_in_context(span))
        return message

    def _finish(self) -> None:
        span = self._span
        if span is None:
            return
        self._span = None
        token, self._token = self._token, None
        if isinstance(token, contextvars.Token):
            try:
                token.var.reset(token)
            except (ValueError, RuntimeError):
                pass  # another context (e.g. collected elsewhere): nothing is current there
        else:
            otel_context.detach(token)
        try:
            self._telemetry.end_process(span, self._queue_uri, self._started, None)
        except Exception:
            report_failure()

    def __del__(self) -> None:
        # The loop was left (``break``, an exception, the session stopped).
        self._finish()


class _TracedMessages(TracedMethod):
    __slots__ = ()

    def __call__(self, queue_uri: Optional[str] = None) -> _TracedMessageIterator:
        session = self._owner()
        return _TracedMessageIterator(type(session).messages(session, queue_uri), self._telemetry)


class _TracedConfirm(TracedMethod):
    __slots__ = ()

    def __call__(self, message: Any) -> Any:
        session = self._owner()
        done = type(session).confirm(session, message)
        self._telemetry.confirmed(getattr(message, "_span", None), message.queue_uri, message.guid)
        return done


def attach(session: Any, telemetry: SessionTelemetry) -> None:
    """Give the asyncio ``session`` its traced stand-ins."""
    session.post = _TracedPost(session, telemetry)
    session.post_nowait = _TracedPostNowait(session, telemetry)
    session.messages = _TracedMessages(session, telemetry)
    session.confirm = _TracedConfirm(session, telemetry)
