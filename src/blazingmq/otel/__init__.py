"""OpenTelemetry traces and metrics for :mod:`blazingmq` (opt-in).

Needs ``opentelemetry-api`` (``pip install 'blazingmq[otel]'``); the SDK and
its exporters are the program's choice.  Call :func:`instrument` once,
before creating sessions::

    import blazingmq.otel

    blazingmq.otel.instrument()  # the global tracer and meter providers

Every :class:`blazingmq.Session` and :class:`blazingmq.aio.Session` created
afterwards is instrumented:

* each ``post`` (and each ``post_many`` call) is a PRODUCER span ``send
  <queue>`` whose context travels in the message's properties (W3C trace
  context: a ``traceparent`` property), and which ends when the ACK arrives
  (an error for a NACK);
* each message delivered to ``on_message`` (or yielded by
  ``blazingmq.aio.Session.messages()``) is handled inside a CONSUMER span
  ``process <queue>``, in the producer's trace; confirming is an event of
  that span;
* libbmq's own spans of the session's control operations
  (``bmq.session.start``, ``bmq.queue.open``, ...) are children of the
  span that was current when the program called the method;
* the messaging metrics of the semantic conventions, and the SDK's own
  counts (ACKs by status, NACKs, channel waits, reconnections, ...).

Sessions created before :func:`instrument`, or after :func:`uninstrument`,
are not instrumented and run exactly the code they run without this module.
See :doc:`/guide/tracing` for the spans, attributes and metrics, and what
they cost.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Dict, Optional

try:
    from opentelemetry import metrics, trace
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "blazingmq.otel needs the OpenTelemetry API: pip install 'blazingmq[otel]' "
        "(or opentelemetry-api)"
    ) from error

from .. import _session
from .._version import __version__
from . import _aio, _sync
from ._metrics import register_observable_instruments
from ._telemetry import SessionTelemetry, _Instruments

__all__ = ["instrument", "uninstrument", "is_instrumented"]

_SCOPE = "blazingmq"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.27.0"
_lock = threading.Lock()


class _Instrumentation:
    """What :func:`instrument` installs: makes the telemetry of each new
    session (the hooks ``blazingmq._session`` calls)."""

    def __init__(self, tracer_provider: Optional[trace.TracerProvider], meter_provider: Optional[metrics.MeterProvider]) -> None:
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider, schema_url=_SCHEMA_URL)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider, schema_url=_SCHEMA_URL)
        self.instruments = _Instruments(meter)
        # Instrumented sessions (the synchronous sessions underneath the
        # asyncio ones included) -> the attributes of their metrics.
        self.sessions: "weakref.WeakKeyDictionary[Any, Dict[str, Any]]" = weakref.WeakKeyDictionary()
        register_observable_instruments(meter, self.sessions)

    # -- hooks of blazingmq._session.Session ---------------------------------

    def new_session(self, broker: str) -> SessionTelemetry:
        return SessionTelemetry(self.tracer, self.instruments, broker)

    def wrap_on_message(self, telemetry: SessionTelemetry, on_message: Callable[..., Any]) -> Callable[..., Any]:
        return _sync.wrap_on_message(telemetry, on_message)

    def session_created(self, session: Any, telemetry: SessionTelemetry, instrument_methods: bool) -> None:
        self.sessions[session] = {**telemetry.base_attributes, "messaging.client.id": telemetry.client_id}
        if instrument_methods:
            _sync.attach(session, telemetry)

    # -- hook of blazingmq.aio.Session ----------------------------------------

    def aio_session_created(self, session: Any, telemetry: SessionTelemetry) -> None:
        _aio.attach(session, telemetry)


def instrument(
    *,
    tracer_provider: Optional[trace.TracerProvider] = None,
    meter_provider: Optional[metrics.MeterProvider] = None,
) -> None:
    """Instrument every session created from now on.

    Args:
        tracer_provider: Where spans go; by default OpenTelemetry's global
            tracer provider (``opentelemetry.trace.set_tracer_provider``).
        meter_provider: Where measurements go; by default the global meter
            provider.

    Calling it again replaces the providers for sessions created
    afterwards.  Sessions that already exist are not changed.

    Raises:
        TypeError: A provider is not an OpenTelemetry provider.
    """
    if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
        raise TypeError(f"tracer_provider must be an opentelemetry TracerProvider, not {type(tracer_provider).__name__!r}")
    if meter_provider is not None and not isinstance(meter_provider, metrics.MeterProvider):
        raise TypeError(f"meter_provider must be an opentelemetry MeterProvider, not {type(meter_provider).__name__!r}")
    instrumentation = _Instrumentation(tracer_provider, meter_provider)
    with _lock:
        _session._instrumentation = instrumentation


def uninstrument() -> None:
    """Stop instrumenting the sessions created from now on.  Sessions that
    are instrumented stay so until they stop."""
    with _lock:
        _session._instrumentation = None


def is_instrumented() -> bool:
    """Whether sessions created now are instrumented."""
    return _session._instrumentation is not None
