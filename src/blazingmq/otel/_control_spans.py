"""libbmq's own spans (``bmq.session.start``, ``bmq.queue.open``, ...) as
OpenTelemetry spans.

libbmq creates and ends its distributed-trace spans on its own threads,
which must never take the GIL (see ``src/cpp/bmqpy_spanrecords.h``): the
C++ layer only queues a record of each start (operation, parent, baggage,
time) and each end (time).  Here a Python thread turns those records into
OpenTelemetry spans, in order, with the recorded times, so the spans are
exactly as long as libbmq's.

The parent of a control operation's first span is the program's span that
was current when it called the method: before releasing the GIL, the
session registers the current context under a negative id
(:meth:`ControlSpans.caller`), which the C++ layer makes its thread's
current span for the duration of the libbmq call.  When libbmq no longer
holds that stand-in, its end record lets the context go.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import traceback
import weakref
from typing import Any, Dict, List, Optional, Tuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from .. import _ext

__all__ = ["ControlSpans", "control_spans"]

_take_span_records = _ext.take_span_records
_wait_for_span_records = _ext.wait_for_span_records
_WAIT = 0.5  # seconds the thread waits for records before it looks again


class _SessionTracer:
    """What a session's spans need: its tracer and constant attributes."""

    __slots__ = ("tracer", "attributes", "__weakref__")

    def __init__(self, tracer: trace.Tracer, attributes: Dict[str, Any]) -> None:
        self.tracer = tracer
        self.attributes = attributes


class ControlSpans:
    """The spans of libbmq, for every instrumented session of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one drainer at a time: records stay in order
        self._tracer_ids = itertools.count(1)
        self._caller_ids = itertools.count(-1, -1)
        # Tracer id -> the session's tracer (forgotten with the session).
        self._tracers: "weakref.WeakValueDictionary[int, _SessionTracer]" = weakref.WeakValueDictionary()
        # Caller id -> the program's context, until libbmq lets it go.
        self._callers: Dict[int, otel_context.Context] = {}
        # libbmq span id -> its OpenTelemetry span, until it ends.
        self._live: Dict[int, Span] = {}
        self._thread: Optional[threading.Thread] = None

    def register(self, tracer: trace.Tracer, attributes: Dict[str, Any]) -> Tuple[int, _SessionTracer]:
        """A new session's tracer id (for the C++ layer), and the object
        that must live as long as the session."""
        session_tracer = _SessionTracer(tracer, attributes)
        tracer_id = next(self._tracer_ids)
        self._tracers[tracer_id] = session_tracer
        self._start_thread()
        return tracer_id, session_tracer

    def caller(self) -> int:
        """Register the current context as the parent of the spans of the
        libbmq call about to be made; return its id."""
        caller_id = next(self._caller_ids)
        self._callers[caller_id] = otel_context.get_current()
        return caller_id

    def drain(self) -> None:
        """Turn the records queued so far into spans."""
        with self._lock:
            records, dropped = _take_span_records(0.0)
            if dropped:
                print(f"blazingmq.otel: {dropped} records of libbmq spans were dropped", file=sys.stderr)
            for record in records:
                try:
                    self._handle(*record)
                except Exception:  # a failing exporter must not stop the others
                    _report()

    def _handle(
        self,
        is_start: bool,
        span_id: int,
        parent_id: int,
        tracer_id: int,
        operation: str,
        time_ns: int,
        baggage: Dict[str, str],
    ) -> None:
        if not is_start:
            span = self._live.pop(span_id, None)
            if span is not None:
                span.end(end_time=time_ns)
            else:
                self._callers.pop(span_id, None)
            return
        session_tracer = self._tracers.get(tracer_id)
        if session_tracer is None:
            return  # its session is gone; so is its end
        parent: Optional[otel_context.Context] = None
        if parent_id > 0:
            parent_span = self._live.get(parent_id)
            if parent_span is not None:
                parent = trace.set_span_in_context(parent_span)
        elif parent_id < 0:
            parent = self._callers.get(parent_id)
        if parent is None:
            # No parent: a root span (e.g. a queue reopened after a
            # reconnection), not a child of whatever is current here.
            parent = otel_context.Context()
        attributes = {**session_tracer.attributes, **baggage}
        self._live[span_id] = session_tracer.tracer.start_span(
            operation, context=parent, kind=SpanKind.CLIENT, attributes=attributes, start_time=time_ns
        )

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._drain_forever, name="blazingmq-otel", daemon=True)
            self._thread.start()

    def _drain_forever(self) -> None:
        while True:
            # Waits without the GIL and without the lock (a session's
            # stop() drains too, at once); records are taken and handled
            # under the lock, so they are handled in order.
            if _wait_for_span_records(_WAIT):
                self.drain()

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._thread = None
        self._callers.clear()
        self._live.clear()
        _ext.reset_span_records_after_fork()


def _report() -> None:
    try:
        print("blazingmq.otel: failed to record a libbmq span:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
    except Exception:  # pragma: no cover - stderr itself is broken
        pass


#: The one instance: records are queued per process.
control_spans = ControlSpans()
os.register_at_fork(after_in_child=control_spans.after_fork_in_child)
