"""The :class:`Session`: a connection to a BlazingMQ broker."""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import itertools
import os
import sys
import threading
import time
import traceback
import warnings
import weakref
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _ext
from ._logging import start_log_forwarding
from ._enums import CompressionAlgorithmType, PropertyType
from ._messages import Ack, Message, MessageHandle
from ._monitors import BasicHealthMonitor
from ._options import DEFAULT_TIMEOUT, QueueOptions, SessionOptions, Subscription, Timeouts
from ._properties import encode_properties
from ._stats import SessionStats
from ._stats import stats_from_counts as _stats_from_counts
from ._typing import PropertyValueDict
from ._version import __version__
from .exceptions import BandwidthLimitError, BrokerTimeoutError, Error
from .session_events import (
    EVENT_CLASS_BY_TYPE,
    EVENT_TYPE_NAMES,
    QUEUE_EVENT_CLASSES_BY_TYPE,
    InterfaceError,
    SessionEvent,
)

__all__ = ["Session"]

# Bound at import, so a program that replaces attributes of `blazingmq._ext`
# (tests do) cannot break stopping sessions at exit.
_SessionHandle = _ext.SessionHandle
_in_callback_thread = _ext.in_callback_thread
_event_builder_result_name = _ext.event_builder_result_name
_post_result_name = _ext.post_result_name
_generic_result_name = _ext.generic_result_name
_BW_LIMIT = _ext.BW_LIMIT
_QUEUE_NOT_OPEN = _ext.QUEUE_NOT_OPEN
_ACK_CODES_BY_INDEX = _ext.ACK_CODES_BY_INDEX

_QUEUE_READ = 1 << 1  # bmqt::QueueFlags::e_READ
_QUEUE_WRITE = 1 << 2  # bmqt::QueueFlags::e_WRITE
_MAX_PAYLOAD = 64 * 1024 * 1024
_TIMEOUT_CODE = -2  # bmqt::GenericResult::e_TIMEOUT
_CANCELED_CODE = -4  # bmqt::GenericResult::e_CANCELED
_CONNECTED = 1  # bmqt::SessionEventType::e_CONNECTED
_CONNECTION_TIMEOUT = 6  # bmqt::SessionEventType::e_CONNECTION_TIMEOUT
_DEFAULT_BROKER = "tcp://localhost:30114"
_DEFAULT_CHANNEL_WRITE_TIMEOUT = 5.0
# Posts (and payload bytes) awaiting their ACK before `post` waits.  Measured
# with `benchmarks/` (200k x 1 KiB with ACKs, five rounds each, medians):
# unbounded, the producer ran ahead of the broker to 1-1.7 GB of RSS at
# 28.9k msgs/s; bounded at 20,000, 0.27 GB at 32.6k msgs/s.
_DEFAULT_MAX_UNACKED_POSTS = 20_000
_DEFAULT_MAX_UNACKED_BYTES = 256 * 1024 * 1024
# How long one wait without the GIL lasts before signals are checked.
_WAIT_SLICE = 0.1

# Ids of queue operations in flight, unique across sessions.
_request_ids = itertools.count(1)

# Set by `blazingmq.otel.instrument()`: makes the telemetry of each new
# session (see `blazingmq.otel._Instrumentation`).  While it is None,
# sessions are not instrumented and nothing of OpenTelemetry is imported.
_instrumentation: Any = None

OnSessionEvent = Callable[[SessionEvent], Any]
OnOperationDone = Callable[[int, str, str], None]
OnMessage = Callable[[Message, MessageHandle], Any]
OnAck = Callable[[Ack], Any]
AuthnCredential = Tuple[str, bytes]
AuthnCredentialOption = Union[None, AuthnCredential, Callable[[], Optional[AuthnCredential]]]

_AUTHN_CREDENTIAL_RULE = (
    "authn_credential must be None, a (mechanism, data) pair of str and bytes, "
    "or a callable returning such a pair or None"
)


def _report_callback_exception() -> None:
    """Print the exception being handled like an unhandled exception in a
    thread: a callback's failure must not go unseen, nor stop the event
    thread."""
    exc_type, exc, tb = sys.exc_info()
    try:
        print("Exception in a blazingmq callback:", file=sys.stderr)
        traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
    except Exception:  # pragma: no cover - stderr itself is broken
        pass


def _encode_credential(credential: Any, source: str) -> Tuple[bytes, bytes]:
    """``(mechanism, data)`` as bytes for libbmq.  Error messages name the
    types, never the values: the data is a secret."""
    if not isinstance(credential, tuple) or len(credential) != 2:
        raise TypeError(f"{source}: {_AUTHN_CREDENTIAL_RULE}, not {type(credential).__name__!r}")
    mechanism, data = credential
    if not isinstance(mechanism, str):
        raise TypeError(f"{source}: the mechanism must be a str, not {type(mechanism).__name__!r}")
    if not mechanism:
        raise ValueError(f"{source}: the mechanism must not be empty")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{source}: the data must be bytes, not {type(data).__name__!r}")
    return mechanism.encode("utf-8"), bytes(data)


class _CredentialProvider:
    """Calls the program's ``authn_credential`` callable on the libbmq
    thread that authenticates.  A failure (an exception, or a value of the
    wrong kind) is printed like a callback's and means "no credential", so
    libbmq fails that connection attempt instead of the thread dying."""

    __slots__ = ("_provide",)

    def __init__(self, provide: Callable[[], Optional[AuthnCredential]]) -> None:
        self._provide = provide

    def __call__(self) -> Optional[Tuple[bytes, bytes]]:
        try:
            credential = self._provide()
            if credential is None:
                return None
            return _encode_credential(credential, "the value returned by authn_credential")
        except BaseException:
            _report_callback_exception()
            return None


def _check_timeout(value: Any) -> Optional[float]:
    """``None`` for "unset", else a valid timeout in seconds."""
    if value is None or value is DEFAULT_TIMEOUT:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"timeout must be a number, not {type(value).__name__!r}")
    if not 0.0 < value < 2**63:
        raise ValueError(f"timeout must be greater than 0.0, was {value}")
    return float(value)


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be an int, not {type(value).__name__!r}")


def _process_name() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else "py:UNKNOWN"


# Correlation ids of subscription handles.  Far above the queue slots (the
# queues' correlation ids), so that the two can never be confused.
_subscription_ids = itertools.count(1 << 40)


def _check_queue_options(options: QueueOptions) -> None:
    if not isinstance(options, QueueOptions):
        raise TypeError(f"options must be a QueueOptions, not {type(options).__name__!r}")
    # libbmq keeps these in 32-bit ints; the broker judges values inside.
    for holder in (options, *(options.subscriptions or ())):
        for name in ("max_unconfirmed_messages", "max_unconfirmed_bytes", "consumer_priority"):
            value = getattr(holder, name)
            if value is not None and not -(2**31) <= value < 2**31:
                raise ValueError(f"{name} must fit in 32 bits (between {-(2**31)} and {2**31 - 1}), was {value}")


def _queue_options_tuple(
    options: QueueOptions, subscriptions: Optional[List[Tuple[int, Subscription]]]
) -> Tuple[Any, Any, Any, Any, Any]:
    return (
        options.max_unconfirmed_messages,
        options.max_unconfirmed_bytes,
        options.consumer_priority,
        options.suspends_on_bad_host_health,
        None
        if subscriptions is None
        else [
            (
                subscription_id,
                subscription.expression.encode(),
                subscription.max_unconfirmed_messages,
                subscription.max_unconfirmed_bytes,
                subscription.consumer_priority,
            )
            for subscription_id, subscription in subscriptions
        ],
    )


def _settle(future: "concurrent.futures.Future[None]", status: int, failure: str) -> None:
    """Complete ``future`` with a queue operation's outcome, unless its
    waiter gave up (cancelled it)."""
    if not future.set_running_or_notify_cancel():
        return
    if status == 0:
        future.set_result(None)
    else:
        error = BrokerTimeoutError if status == _TIMEOUT_CODE else Error
        future.set_exception(error(failure))


class _EventSink:
    """Turns libbmq's session events into event objects for the program's
    ``on_session_event``.  Held by the compiled handle; it holds no reference
    to the :class:`Session`, so events (``Disconnected`` included) still
    arrive while a dropped session is being stopped."""

    __slots__ = ("_on_session_event", "_operations", "_connecting")

    def __init__(self, on_session_event: OnSessionEvent) -> None:
        self._on_session_event = on_session_event
        # Queue operations in flight: request id -> completion, called on
        # the callback thread with (status, status name, description).
        self._operations: Dict[int, OnOperationDone] = {}
        # Completed by the outcome of `start_async`.
        self._connecting: "Optional[concurrent.futures.Future[None]]" = None

    def expect_connection(self) -> "concurrent.futures.Future[None]":
        future: "concurrent.futures.Future[None]" = concurrent.futures.Future()
        self._connecting = future
        return future

    def add_operation(self, on_done: OnOperationDone) -> int:
        request_id = next(_request_ids)
        self._operations[request_id] = on_done
        return request_id

    def operation_done(self, request_id: int, status: int, status_name: str, description: str) -> None:
        on_done = self._operations.pop(request_id, None)
        if on_done is not None:
            on_done(status, status_name, description)

    def cancel_all(self) -> None:
        """Fail what is still waited for: the session has stopped, so no
        outcome will come."""
        connecting, self._connecting = self._connecting, None
        if connecting is not None and connecting.set_running_or_notify_cancel():
            connecting.set_exception(Error("Failed to start session: the session was stopped"))
        while self._operations:
            _, on_done = self._operations.popitem()
            on_done(_CANCELED_CODE, "CANCELED", "the session was stopped")

    def session_event(
        self, event_type: int, status: int, status_name: str, description: str, queue_uri: Optional[str]
    ) -> None:
        connecting = self._connecting
        if connecting is not None and event_type in (_CONNECTED, _CONNECTION_TIMEOUT):
            self._connecting = None
            if event_type == _CONNECTION_TIMEOUT:
                # Reported by the constructor's exception, not as an event.
                if connecting.set_running_or_notify_cancel():
                    connecting.set_exception(BrokerTimeoutError("Failed to start session: TIMEOUT"))
                return
            # `Connected` reaches the program before the constructor returns.
            self._deliver(EVENT_CLASS_BY_TYPE[_CONNECTED](None))
            if connecting.set_running_or_notify_cancel():
                connecting.set_result(None)
            return
        failure = f"{description}: {status_name} ({status})" if status != 0 else None
        event: SessionEvent
        queue_classes = QUEUE_EVENT_CLASSES_BY_TYPE.get(event_type)
        if queue_classes is not None:
            ok_class, failed_class = queue_classes
            uri = queue_uri or ""
            event = ok_class(uri) if status == 0 else failed_class(uri, failure)
        else:
            event_class = EVENT_CLASS_BY_TYPE.get(event_type)
            if event_class is None:
                name = EVENT_TYPE_NAMES.get(event_type, str(event_type))
                event = InterfaceError(f"Unexpected event type: {name}")
            else:
                event = event_class(failure or (description or None))
        self._deliver(event)

    def interface_error(self, message: str) -> None:
        self._deliver(InterfaceError(message))

    def _deliver(self, event: SessionEvent) -> None:
        try:
            self._on_session_event(event)
        except BaseException:
            _report_callback_exception()


class _Queue:
    """What the session knows of one open queue."""

    __slots__ = ("slot", "read", "write", "closing", "subscription_ids")

    def __init__(self, slot: int, read: bool, write: bool) -> None:
        self.slot = slot
        self.read = read
        self.write = write
        self.closing = False
        # The correlation ids this queue's subscriptions were given, kept
        # until the queue closes: messages that matched a subscription that
        # a configure has since replaced may still be on their way.
        self.subscription_ids: Dict[int, Subscription] = {}

    def assign_subscription_ids(
        self, options: QueueOptions
    ) -> Tuple[Optional[List[Tuple[int, Subscription]]], List[int]]:
        """Return ``(id, subscription)`` pairs for ``options.subscriptions``
        (None if it is None) and the ids that are new.  A subscription
        object given again keeps its id, so libbmq updates it in place."""
        if options.subscriptions is None:
            return None, []
        pairs = []
        new_ids = []
        for subscription in options.subscriptions:
            for known_id, known in self.subscription_ids.items():
                if known is subscription:
                    subscription_id = known_id
                    break
            else:
                subscription_id = next(_subscription_ids)
                self.subscription_ids[subscription_id] = subscription
                new_ids.append(subscription_id)
            pairs.append((subscription_id, subscription))
        return pairs, new_ids


# Sessions still running (for fork(): the child abandons them).
_live_sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()


def _stop_at_exit(session_ref: "weakref.ref[Session]") -> None:
    """The `atexit` hook of one session, registered when it connected: so a
    live session is stopped (and its `Disconnected` delivered, while the
    interpreter can still run callbacks) at the point of its creation in the
    sequence of `atexit` handlers, like the existing SDK does.  Handlers the
    program registered later run before it, earlier ones after it.  Holds
    the session weakly and looks nothing up in a module at exit (a program
    may have replaced attributes of ``blazingmq._ext``)."""
    session = session_ref()
    if session is None:
        return
    # The hook is running: stop() must not unregister it (Python 3.9 and 3.10
    # before 3.10.2 could crash when a running handler was unregistered).
    session._exit_hook = None
    try:
        session.stop()
    except Exception:  # pragma: no cover - nothing useful to do at exit
        pass


def _abandon_sessions_in_child() -> None:
    """After ``fork()``, in the child: the parent's sessions must not be
    used, stopped or destroyed here (their threads and connection belong to
    the parent)."""
    for session in list(_live_sessions):
        session._forked = True
        session._stopped = True
        session._stop_done = None  # a stop running in the parent never ends here
        session._forget_exit_hook()
        session._handle.abandon()
    _live_sessions.clear()


os.register_at_fork(after_in_child=_abandon_sessions_in_child)


class Session:
    """A connection to a BlazingMQ broker, through which queues are opened,
    messages posted and received.

    The constructor connects (blocking) and raises if it cannot.  Use it as a
    context manager, or call :meth:`stop` when done.

    Args:
        on_session_event: Called with each :class:`~blazingmq.session_events.SessionEvent`
            (``Connected``, ``ConnectionLost``, ...), on the session's
            callback thread.
        on_message: Called as ``on_message(message, message_handle)`` for
            every message of every queue opened for reading, on the
            session's callback thread.  Required to open a queue for reading.
        broker: The broker's URI.  libbmq replaces it with the environment
            variable ``BMQ_BROKER_URI`` when that is set.
        message_compression_algorithm: How every posted payload is compressed.
        timeout: Seconds for open/configure/close, or a :class:`Timeouts`
            for each operation; by default libbmq's (connect 60 s, queue
            operations 300 s).
        host_health_monitor: A :class:`BasicHealthMonitor`, or None for no
            host health monitoring.
        num_processing_threads: libbmq event threads (default 1).
        blob_buffer_size: Size in bytes of libbmq's buffers (default 4 KiB).
        channel_high_watermark: Bytes buffered towards the broker before posts
            wait (default 128 MiB; more than 8 MiB).
        event_queue_watermarks: ``(low, high)`` watermarks of libbmq's event
            queue, in events (default ``(50, 2000)``).
        stats_dump_interval: Seconds between libbmq's statistics dumps to its
            log, a multiple of 30 below 3600 (default 300; 0 disables).
        channel_write_timeout: Seconds a post waits for a full channel before
            it raises :class:`~blazingmq.exceptions.BandwidthLimitError`
            (default 5).
        max_unacked_posts: How many posts with an ``on_ack`` may await their
            ACK; a post beyond that waits for ACKs (like a post to a full
            channel: up to ``channel_write_timeout``, then
            :class:`~blazingmq.exceptions.BandwidthLimitError`) and resumes
            once half of them have come.  Default 20,000; 0: no limit.
            Posts made inside callbacks never wait for it (they run on the
            thread that delivers the ACKs); :meth:`post_many` checks it once
            per call.
        max_unacked_bytes: The same limit for the payload bytes of those
            posts.  Default 256 MiB; 0: no limit.
        authn_credential: How the session authenticates with the broker: a
            ``(mechanism, data)`` pair such as ``("BASIC", b"user:password")``,
            or a callable returning such a pair (or None for "no
            credential"), called on a libbmq thread each time libbmq
            (re)authenticates.  None (default): no authentication request;
            the broker decides whether anonymous clients are allowed.  The
            credential is never logged.

    The arguments after ``on_session_event`` are meant to be passed by
    keyword, but (for compatibility) are accepted positionally, except
    ``channel_write_timeout``, ``max_unacked_posts``, ``max_unacked_bytes``
    and ``authn_credential``, which are keyword-only.

    Raises:
        TypeError: ``on_session_event`` is None or not callable, ``broker``
            is neither ``str`` nor ``bytes``, ``host_health_monitor`` is not
            a :class:`BasicHealthMonitor`, or an option has the wrong type.
        ValueError: An option is out of range (the message names the
            argument and the rule), or ``message_compression_algorithm`` is
            not a :class:`CompressionAlgorithmType`.
        ~blazingmq.exceptions.Error: The session could not connect
            (``Failed to start session: <RESULT>``).
        ~blazingmq.exceptions.BrokerTimeoutError: The connection timed out.

    Thread safety: every method may be called from any thread.  From inside a
    callback, only :meth:`post`, :meth:`confirm`, :meth:`get_queue_options`
    and :meth:`MessageHandle.confirm` may be called; :meth:`open_queue`,
    :meth:`configure_queue`, :meth:`close_queue` and :meth:`stop` raise
    :class:`~blazingmq.exceptions.Error` there instead of deadlocking.
    Callbacks (``on_session_event``, ``on_message``, ``on_ack``) run on one
    thread per session, never the caller's; an exception raised in one is
    printed to stderr with its traceback and does not stop the session.
    """

    def __init__(
        self,
        on_session_event: OnSessionEvent,
        on_message: Optional[OnMessage] = None,
        broker: Union[str, bytes] = _DEFAULT_BROKER,
        message_compression_algorithm: CompressionAlgorithmType = CompressionAlgorithmType.NONE,
        timeout: Union[float, Timeouts, None] = DEFAULT_TIMEOUT,
        host_health_monitor: Optional[BasicHealthMonitor] = None,
        num_processing_threads: Optional[int] = None,
        blob_buffer_size: Optional[int] = None,
        channel_high_watermark: Optional[int] = None,
        event_queue_watermarks: Optional[Tuple[int, int]] = None,
        stats_dump_interval: Optional[Union[int, float]] = None,
        *,
        channel_write_timeout: Optional[float] = None,
        max_unacked_posts: int = _DEFAULT_MAX_UNACKED_POSTS,
        max_unacked_bytes: int = _DEFAULT_MAX_UNACKED_BYTES,
        authn_credential: AuthnCredentialOption = None,
    ) -> None:
        # Set first, so that __del__ of a half-built session does nothing.
        self._stopped = True
        self._forked = False
        self._handle: Any = None
        # Set by stop() when it begins, and set (the event) when it ends.
        self._stop_done: Optional[threading.Event] = None
        self._exit_hook: Optional[Callable[[], None]] = None
        if on_session_event is None:
            raise TypeError("on_session_event must be a callable, not None")
        if not callable(on_session_event):
            raise TypeError(f"on_session_event must be a callable, not {type(on_session_event).__name__!r}")
        if on_message is not None and not callable(on_message):
            raise TypeError(f"on_message must be a callable or None, not {type(on_message).__name__!r}")
        if isinstance(broker, str):
            broker_bytes = broker.encode("utf-8")
        elif isinstance(broker, bytes):
            broker_bytes = broker
        else:
            raise TypeError(f"not expecting type '{type(broker)}'")
        if not isinstance(message_compression_algorithm, CompressionAlgorithmType):
            raise ValueError(
                "message_compression_algorithm must be a CompressionAlgorithmType, "
                f"not {message_compression_algorithm!r}"
            )
        if host_health_monitor is not None and not isinstance(host_health_monitor, BasicHealthMonitor):
            raise TypeError(
                "host_health_monitor must be None or an instance of blazingmq.BasicHealthMonitor"
            )

        timeouts = self._timeouts(timeout)
        threads = -1
        if num_processing_threads is not None:
            threads = _check_int("num_processing_threads", num_processing_threads)
            if threads < 1:
                raise ValueError(f"num_processing_threads must be at least 1, was {threads}")
        buffer_size = -1
        if blob_buffer_size is not None:
            buffer_size = _check_int("blob_buffer_size", blob_buffer_size)
            if not 0 < buffer_size < 2**31:
                raise ValueError(f"blob_buffer_size must be greater than 0, was {buffer_size}")
        high_watermark = -1
        if channel_high_watermark is not None:
            high_watermark = _check_int("channel_high_watermark", channel_high_watermark)
            if not 8 * 1024 * 1024 < high_watermark < 2**63:
                raise ValueError(
                    "channel_high_watermark must be greater than 8388608 (8 MiB) "
                    f"and fit in 64 bits, was {high_watermark}"
                )
        low_events = high_events = -1
        if event_queue_watermarks is not None:
            try:
                low_events, high_events = event_queue_watermarks
            except (TypeError, ValueError):
                raise TypeError("event_queue_watermarks must be a (low, high) pair of ints") from None
            _check_int("event_queue_watermarks low", low_events)
            _check_int("event_queue_watermarks high", high_events)
            if not 0 <= low_events < high_events < 2**31:
                raise ValueError(
                    f"event_queue_watermarks must satisfy 0 <= low < high, was {event_queue_watermarks!r}"
                )
        stats_interval = -1.0
        if stats_dump_interval is not None:
            if isinstance(stats_dump_interval, bool) or not isinstance(stats_dump_interval, (int, float)):
                raise TypeError(
                    f"stats_dump_interval must be a number, not {type(stats_dump_interval).__name__!r}"
                )
            if not (0 <= stats_dump_interval < 3600 and stats_dump_interval % 30 == 0):
                raise ValueError(
                    "stats_dump_interval must be a multiple of 30 seconds below 3600 "
                    f"(0 disables it), was {stats_dump_interval}"
                )
            stats_interval = float(stats_dump_interval)
        if channel_write_timeout is None:
            self._channel_write_timeout = _DEFAULT_CHANNEL_WRITE_TIMEOUT
        else:
            if isinstance(channel_write_timeout, bool) or not isinstance(channel_write_timeout, (int, float)):
                raise TypeError(
                    "channel_write_timeout must be a number, "
                    f"not {type(channel_write_timeout).__name__!r}"
                )
            if not 0 <= channel_write_timeout < 2**63:
                raise ValueError(f"channel_write_timeout must be 0 or more, was {channel_write_timeout}")
            self._channel_write_timeout = float(channel_write_timeout)

        for name, limit in (("max_unacked_posts", max_unacked_posts), ("max_unacked_bytes", max_unacked_bytes)):
            _check_int(name, limit)
            if not 0 <= limit < 2**63:
                raise ValueError(f"{name} must be 0 (no limit) or more, was {limit}")

        authn: Any = None
        if callable(authn_credential):
            authn = _CredentialProvider(authn_credential)
        elif authn_credential is not None:
            authn = _encode_credential(authn_credential, "authn_credential")

        # Chosen once: an instrumented session gets traced stand-ins for its
        # per-message methods and callback; any other runs the plain code.
        instrumentation = _instrumentation
        self._instrumentation = instrumentation
        self._telemetry: Any = None
        if instrumentation is not None:
            self._telemetry = instrumentation.new_session(broker_bytes.decode("utf-8", "replace"))
            if on_message is not None and self._instrument_methods:
                on_message = instrumentation.wrap_on_message(self._telemetry, on_message)

        self._on_session_event = on_session_event
        self._on_message = on_message
        self._compression = message_compression_algorithm.value
        self._monitor = host_health_monitor
        self._queues: Dict[str, _Queue] = {}
        self._open_timeout = timeouts.open_queue_timeout
        self._configure_timeout = timeouts.configure_queue_timeout
        self._close_timeout = timeouts.close_queue_timeout

        start_log_forwarding()
        self._events = _EventSink(on_session_event)
        self._handle = _SessionHandle(
            self,
            self._events,
            on_message,
            _report_callback_exception,
            broker_bytes,
            _process_name().encode("utf-8", "replace"),
            f"blazingmq-python:{__version__}".encode(),
            host_health_monitor._handle if host_health_monitor is not None else None,
            threads,
            buffer_size,
            high_watermark,
            low_events,
            high_events,
            stats_interval,
            timeouts.connect_timeout,
            timeouts.disconnect_timeout,
            timeouts.open_queue_timeout,
            timeouts.configure_queue_timeout,
            timeouts.close_queue_timeout,
            authn,
            max_unacked_posts,
            max_unacked_bytes,
            self._telemetry.control_tracer_id if self._telemetry is not None else 0,
        )
        self._receiver_token = self._handle.receiver_token
        self._connect_timeout = timeouts.connect_timeout
        if instrumentation is not None:
            instrumentation.session_created(self, self._telemetry, self._instrument_methods)
        if self._connect_on_init:
            connected = self._start_future()
            try:
                self._wait(connected)
            except BaseException:
                # Interrupted (Ctrl-C) or failed: leave nothing running.
                self._abort_start()
                raise
            self._finish_start()

    # Internal hooks for layers that wait their own way (``blazingmq.aio``):
    # a subclass with ``_connect_on_init = False`` gets a session that has
    # not started connecting, then awaits ``_start_future()`` and calls
    # ``_finish_start()`` (or ``_abort_start()`` if that failed).
    _connect_on_init = True
    # Whether an instrumented session traces its own post, confirm and
    # on_message (``blazingmq.aio`` traces at its own level instead).
    _instrument_methods = True

    def _start_future(self) -> "concurrent.futures.Future[None]":
        """Start connecting; the future completes on the callback thread,
        after ``Connected`` has been delivered, or fails with
        :class:`BrokerTimeoutError`/:class:`Error`."""
        connected = self._events.expect_connection()
        rc = self._handle.start_async(self._connect_timeout, self._caller_span())
        if rc != 0:
            self._events._connecting = None
            message = f"Failed to start session: {_generic_result_name(rc)}"
            connected.set_exception(BrokerTimeoutError(message) if rc == _TIMEOUT_CODE else Error(message))
        return connected

    def _caller_span(self) -> int:
        """For a control operation about to call libbmq: 0, or, in an
        instrumented session, the id under which the current span was
        registered as the parent of libbmq's spans of the operation."""
        telemetry = self._telemetry
        return 0 if telemetry is None else int(telemetry.caller_span())

    def _finish_start(self) -> None:
        self._stopped = False
        _live_sessions.add(self)
        self._exit_hook = functools.partial(_stop_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)

    def _forget_exit_hook(self) -> None:
        hook, self._exit_hook = self._exit_hook, None
        if hook is not None:
            atexit.unregister(hook)

    def _abort_start(self) -> None:
        self._handle.stop()
        self._events.cancel_all()

    @staticmethod
    def _wait(future: "concurrent.futures.Future[Any]") -> Any:
        """Wait for an operation's outcome in short slices with the GIL
        released, so that Ctrl-C interrupts it at once.  Interrupted, the
        future is cancelled and the operation's completion cleans up."""
        try:
            while not concurrent.futures.wait((future,), timeout=_WAIT_SLICE).done:
                pass
        except BaseException:
            future.cancel()
            raise
        return future.result()

    @classmethod
    def with_options(
        cls,
        on_session_event: OnSessionEvent,
        on_message: Optional[OnMessage] = None,
        broker: Union[str, bytes] = _DEFAULT_BROKER,
        session_options: SessionOptions = SessionOptions(),
    ) -> "Session":
        """Create a session from a :class:`SessionOptions` value.

        Args:
            on_session_event: As for :class:`Session`.
            on_message: As for :class:`Session`.
            broker: As for :class:`Session`.
            session_options: Every other option; fields left as ``None``
                take their defaults.

        Returns:
            Session: A connected session.

        Raises:
            TypeError: ``session_options`` is not a :class:`SessionOptions`.
            ~blazingmq.exceptions.Error: As for :class:`Session`.
        """
        if not isinstance(session_options, SessionOptions):
            raise TypeError(
                f"session_options must be a SessionOptions, not {type(session_options).__name__!r}"
            )
        return cls(
            on_session_event, on_message=on_message, broker=broker, **session_options._session_arguments()
        )

    @staticmethod
    def _timeouts(timeout: Any) -> Timeouts:
        if isinstance(timeout, Timeouts):
            return Timeouts(
                connect_timeout=_check_timeout(timeout.connect_timeout),
                disconnect_timeout=_check_timeout(timeout.disconnect_timeout),
                open_queue_timeout=_check_timeout(timeout.open_queue_timeout),
                configure_queue_timeout=_check_timeout(timeout.configure_queue_timeout),
                close_queue_timeout=_check_timeout(timeout.close_queue_timeout),
            )
        seconds = _check_timeout(timeout)
        return Timeouts(
            open_queue_timeout=seconds,
            configure_queue_timeout=seconds,
            close_queue_timeout=seconds,
        )

    # -- lifetime ---------------------------------------------------------

    def __enter__(self) -> "Session":
        """Return the session itself."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Call :meth:`stop`."""
        self.stop()

    def stop(self) -> None:
        """Disconnect from the broker.

        Blocks until libbmq has stopped and every callback has returned.
        Messages that libbmq had received but not yet handed to
        ``on_message`` are dropped (they are unconfirmed, so the broker
        delivers them again); ACKs are still delivered.  Idempotent.

        The session counts as stopped as soon as ``stop()`` begins: from
        then on every other method, on any thread and in callbacks, raises
        ``blazingmq.Error("Method called after session was stopped")`` (so a
        callback that loops on session calls ends, and ``stop()`` with it).
        A post or confirm that had already begun either completes or raises
        that same error.  A second ``stop()`` on another thread waits for
        the first to finish; one made inside a callback returns at once.

        Raises:
            ~blazingmq.exceptions.Error: Called from a callback of a session
                still running, where it would deadlock.

        Thread safety: may be called from any thread except a callback
        thread of this session.
        """
        if self._stopped:
            done = self._stop_done
            if done is not None and not _in_callback_thread():
                done.wait()
            return
        self._check_not_in_callback("stop")
        done = self._stop_done = threading.Event()
        # First, so that no message reaches on_message once calls refuse.
        self._handle.stop_delivery()
        self._stopped = True
        self._forget_exit_hook()
        try:
            self._handle.stop(self._caller_span())
            if self._telemetry is not None:
                self._telemetry.drain_control_spans()
            self._events.cancel_all()
            self._queues.clear()
            _live_sessions.discard(self)
        finally:
            done.set()

    def __del__(self) -> None:
        if getattr(self, "_stopped", True):
            return
        warnings.warn(
            UserWarning(f"stop() not invoked before destruction of Session<{id(self):#x}> object"),
            stacklevel=1,
        )
        self._stopped = True
        self._forget_exit_hook()
        handle = self._handle
        if _in_callback_thread():
            # Stopping here would wait for this very thread: stop elsewhere.
            threading.Thread(target=handle.stop, name="blazingmq-stop", daemon=True).start()
        else:
            handle.stop()

    # -- checks -----------------------------------------------------------

    def _check_running(self) -> None:
        if self._stopped:
            if self._forked:
                raise Error(
                    "Session was created before fork(): it belongs to the parent process and "
                    "cannot be used in the child; create a new Session in the child"
                )
            raise Error("Method called after session was stopped")

    @staticmethod
    def _check_not_in_callback(method: str) -> None:
        if _in_callback_thread():
            raise Error(
                f"{method}() cannot be called from a blazingmq callback thread: "
                "it would deadlock; call it from another thread"
            )

    def _check_host_health_option(self, options: QueueOptions) -> None:
        if options.suspends_on_bad_host_health and self._monitor is None:
            raise Error(
                "Queues cannot use suspends_on_bad_host_health if host health "
                "monitoring was disabled when the Session was created"
            )

    def _queue(self, queue_uri: str) -> _Queue:
        queue = self._queues.get(queue_uri)
        if queue is None:
            if not isinstance(queue_uri, str):
                raise TypeError(f"queue_uri must be a str, not {type(queue_uri).__name__!r}")
            self._check_running()  # stop() may have begun (and forgotten the queues)
            raise Error("Queue not opened")
        return queue

    # -- queues -----------------------------------------------------------

    def open_queue(
        self,
        queue_uri: str,
        read: bool = False,
        write: bool = False,
        options: QueueOptions = QueueOptions(),
        timeout: Optional[float] = DEFAULT_TIMEOUT,
    ) -> None:
        """Open a queue for reading, writing, or both.

        Args:
            queue_uri: The queue, e.g. ``bmq://bmq.test.mem.priority/q``.
            read: Receive its messages in ``on_message``.
            write: Post to it.
            options: Consumer options (see :class:`QueueOptions`).
            timeout: Seconds to wait for the broker; default: the session's.

        Raises:
            TypeError: ``queue_uri`` is not a ``str`` or ``options`` not a
                :class:`QueueOptions`.
            ValueError: ``timeout`` is not greater than 0.
            ~blazingmq.exceptions.Error: The queue could not be opened
                (``Failed to open <uri> queue: <RESULT>: <description>``,
                e.g. ``INVALID_URI``; neither ``read`` nor ``write`` gives
                ``INVALID_FLAGS``), ``read=True`` without an ``on_message``
                callback, ``suspends_on_bad_host_health`` without a host
                health monitor, or a call from a callback.
            ~blazingmq.exceptions.BrokerTimeoutError: The broker did not
                answer in time.

        Thread safety: blocks until the broker answers; must not be called
        from a callback of this session (raises there).
        """
        self._check_running()
        self._check_not_in_callback("open_queue")
        self._wait(self._open_queue_future(queue_uri, read, write, options, timeout))

    def _open_queue_future(
        self,
        queue_uri: str,
        read: bool = False,
        write: bool = False,
        options: QueueOptions = QueueOptions(),
        timeout: Optional[float] = DEFAULT_TIMEOUT,
    ) -> "concurrent.futures.Future[None]":
        """Validate, then start opening; the future completes on the
        callback thread.  Cancelled before it completes, the queue is
        forgotten at once and closed in the background if it opened."""
        self._check_running()
        if not isinstance(queue_uri, str):
            raise TypeError(f"queue_uri must be a str, not {type(queue_uri).__name__!r}")
        seconds = _check_timeout(timeout)
        _check_queue_options(options)
        if read and self._on_message is None:
            raise Error(
                f"Can't open queue {queue_uri} in read mode: "
                "no on_message callback was provided at Session construction"
            )
        self._check_host_health_option(options)
        flags = (_QUEUE_READ if read else 0) | (_QUEUE_WRITE if write else 0)
        handle = self._handle
        queues = self._queues
        slot = handle.reserve_queue_slot(queue_uri)
        # Known before libbmq can deliver a message of the queue, so that
        # `on_message` may confirm it while the open is still running.  A
        # URI that is already open keeps its entry; libbmq refuses the
        # second open.
        queue: Optional[_Queue] = None
        opening = _Queue(slot, bool(read), bool(write))
        if queue_uri not in queues:
            queue = queues[queue_uri] = opening
        # Likewise known before a message that matched one can arrive.
        subscriptions, _ = opening.assign_subscription_ids(options)
        handle.subscriptions.update(opening.subscription_ids)
        options_tuple = _queue_options_tuple(options, subscriptions)
        opened: "concurrent.futures.Future[None]" = concurrent.futures.Future()

        def forget() -> None:
            if queue is not None and queues.get(queue_uri) is queue:
                del queues[queue_uri]
            for subscription_id in opening.subscription_ids:
                handle.subscriptions.pop(subscription_id, None)

        def on_cancel(future: "concurrent.futures.Future[None]") -> None:
            if future.cancelled():
                forget()

        def on_done(status: int, name: str, description: str) -> None:
            if opened.set_running_or_notify_cancel():
                if status == 0:
                    opened.set_result(None)
                    return
                forget()
                handle.release_queue_slot(slot)
                error = BrokerTimeoutError if status == _TIMEOUT_CODE else Error
                opened.set_exception(error(f"Failed to open {queue_uri} queue: {name}: {description}"))
            elif status == 0 and not handle.stopped:
                # Nobody waits for this queue any more: close it quietly.
                close_id = self._events.add_operation(lambda *_: handle.release_queue_slot(slot))
                handle.close_queue_async(slot, self._close_timeout, close_id)
            else:
                handle.release_queue_slot(slot)

        opened.add_done_callback(on_cancel)
        request_id = self._events.add_operation(on_done)
        try:
            handle.open_queue_async(
                slot, queue_uri, flags, options_tuple,
                seconds if seconds is not None else self._open_timeout, request_id, self._caller_span(),
            )
        except BaseException:
            self._events._operations.pop(request_id, None)
            forget()
            handle.release_queue_slot(slot)
            raise
        return opened

    def configure_queue(
        self,
        queue_uri: str,
        options: QueueOptions,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
    ) -> None:
        """Change the options of an open queue; fields left as ``None`` stay
        as they are.  ``QueueOptions(0, 0, 0)`` pauses delivery.

        Args:
            queue_uri: The queue.
            options: The fields to change.
            timeout: Seconds to wait for the broker; default: the session's.

        Raises:
            ~blazingmq.exceptions.Error: The queue is not open (``Queue not opened``),
                the broker refused
                (``Failed to configure <uri> queue: <RESULT>: <description>``;
                the previous options stay in place), or a call from a
                callback.
            ~blazingmq.exceptions.BrokerTimeoutError: The broker did not
                answer in time.

        Thread safety: blocks until the broker answers; must not be called
        from a callback of this session (raises there).
        """
        self._check_running()
        self._check_not_in_callback("configure_queue")
        self._wait(self._configure_queue_future(queue_uri, options, timeout))

    def _configure_queue_future(
        self, queue_uri: str, options: QueueOptions, timeout: Optional[float] = DEFAULT_TIMEOUT
    ) -> "concurrent.futures.Future[None]":
        """Validate, then start configuring; the future completes on the
        callback thread.  Cancelling it does not undo the configure."""
        self._check_running()
        seconds = _check_timeout(timeout)
        _check_queue_options(options)
        queue = self._queue(queue_uri)
        self._check_host_health_option(options)
        handle = self._handle
        subscriptions, new_ids = queue.assign_subscription_ids(options)
        handle.subscriptions.update(queue.subscription_ids)
        options_tuple = _queue_options_tuple(options, subscriptions)
        configured: "concurrent.futures.Future[None]" = concurrent.futures.Future()

        def forget_new_subscriptions() -> None:
            # A failed configure leaves the previous subscriptions in place.
            for subscription_id in new_ids:
                queue.subscription_ids.pop(subscription_id, None)
                handle.subscriptions.pop(subscription_id, None)

        def on_done(status: int, name: str, description: str) -> None:
            if status != 0:
                forget_new_subscriptions()
            _settle(configured, status, f"Failed to configure {queue_uri} queue: {name}: {description}")

        request_id = self._events.add_operation(on_done)
        rc = self._handle.configure_queue_async(
            queue.slot,
            options_tuple,
            seconds if seconds is not None else self._configure_timeout,
            request_id,
            self._caller_span(),
        )
        if rc == _QUEUE_NOT_OPEN:
            self._events._operations.pop(request_id, None)
            forget_new_subscriptions()
            raise Error("Queue not opened")
        return configured

    def close_queue(self, queue_uri: str, timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        """Close a queue.  ACKs still outstanding for it are delivered as
        failures (NACKs) before this returns.

        Posts the session held back to share an event (see
        :doc:`/guide/batches`) are sent first; if the channel stays full
        for ``timeout`` they cannot be, and the close fails with
        ``BW_LIMIT``, leaving the queue open.

        A reader should first pause delivery with
        ``configure_queue(queue_uri, QueueOptions(0, 0, 0))``.

        Args:
            queue_uri: The queue.
            timeout: Seconds to wait for the broker; default: the session's.

        Raises:
            ~blazingmq.exceptions.Error: The queue is not open (``Queue not opened``),
                closing failed
                (``Failed to close <uri> queue: <RESULT>: <description>``),
                or a call from a callback.
            ~blazingmq.exceptions.BrokerTimeoutError: The broker did not
                answer in time.

        Thread safety: blocks until the broker answers; must not be called
        from a callback of this session (raises there).
        """
        self._check_running()
        self._check_not_in_callback("close_queue")
        self._wait(self._close_queue_future(queue_uri, timeout))

    def _close_queue_future(
        self, queue_uri: str, timeout: Optional[float] = DEFAULT_TIMEOUT
    ) -> "concurrent.futures.Future[None]":
        """Start closing; the future completes on the callback thread, after
        the queue's NACKs were delivered.  Cancelled, the close still goes on
        and the queue is forgotten when it succeeds."""
        self._check_running()
        seconds = _check_timeout(timeout)
        queue = self._queue(queue_uri)
        queues = self._queues
        handle = self._handle
        queue.closing = True
        closed: "concurrent.futures.Future[None]" = concurrent.futures.Future()

        def on_done(status: int, name: str, description: str) -> None:
            queue.closing = False
            if status == 0:
                if queues.get(queue_uri) is queue:
                    del queues[queue_uri]
                for subscription_id in queue.subscription_ids:
                    handle.subscriptions.pop(subscription_id, None)
                handle.release_queue_slot(queue.slot)
            _settle(closed, status, f"Failed to close {queue_uri} queue: {name}: {description}")

        request_id = self._events.add_operation(on_done)
        rc = handle.close_queue_async(
            queue.slot, seconds if seconds is not None else self._close_timeout, request_id, self._caller_span()
        )
        if rc == _QUEUE_NOT_OPEN:
            self._events._operations.pop(request_id, None)
            queue.closing = False
            raise Error("Queue not opened")
        return closed

    def get_queue_options(self, queue_uri: str) -> QueueOptions:
        """The options of an open queue, every field filled in.

        ``subscriptions`` is None if the queue has none, else the
        subscriptions libbmq holds for it (equal to those last given, in
        the order they were first given).  A queue opened for writing only
        reports libbmq's defaults for the consumer fields.

        Args:
            queue_uri: The queue.

        Returns:
            QueueOptions: Its current options.

        Raises:
            ~blazingmq.exceptions.Error: The queue is not open
                (``Queue not opened``).

        Thread safety: may be called from any thread, callbacks included.
        """
        self._check_running()
        queue = self._queue(queue_uri)
        fields = self._handle.get_queue_options(queue.slot)
        if fields is None:
            raise Error("Queue not opened")
        reported = fields[4]
        subscriptions = None
        if reported is not None:
            subscriptions = [Subscription(*entry[1:]) for entry in sorted(reported)]
        if not queue.read:
            # libbmq keeps zeros for the consumer fields of a writer; report
            # the defaults a reader would get.
            return QueueOptions(
                QueueOptions.DEFAULT_MAX_UNCONFIRMED_MESSAGES,
                QueueOptions.DEFAULT_MAX_UNCONFIRMED_BYTES,
                QueueOptions.DEFAULT_CONSUMER_PRIORITY,
                fields[3],
            )
        return QueueOptions(*fields[:4], subscriptions=subscriptions)

    # -- messages ---------------------------------------------------------

    def post(
        self,
        queue_uri: str,
        message: bytes,
        properties: Optional[PropertyValueDict] = None,
        property_type_overrides: Optional[Mapping[str, PropertyType]] = None,
        on_ack: Optional[OnAck] = None,
    ) -> None:
        """Post a message to a queue opened for writing.

        Args:
            queue_uri: The queue.
            message: The payload (non-empty ``bytes``, at most 64 MiB).
            properties: Message properties, name to value; types are inferred
                (bool, int -> INT64, str -> STRING, bytes -> BINARY).
            property_type_overrides: Name to :class:`PropertyType`, for the
                properties whose type is not the inferred one.
            on_ack: Called once with the :class:`Ack` (success or failure) on
                the session's callback thread.  Without it, no ACK is
                requested.

        Raises:
            TypeError: ``message`` is not bytes, or a property has the wrong
                type.
            ValueError: A property value is out of range for its type, or a
                property name is empty or over libbmq's limits.
            ~blazingmq.exceptions.Error: The queue is not open (``Queue not opened``)
                or not for writing (``Failed to construct message:
                QUEUE_READONLY``), the payload is empty or too big, the
                queue is suspended, a property value has an unsupported type
                or an override names no property, or libbmq refused the post
                (``Failed to post message to <uri> queue: <RESULT>``).
            ~blazingmq.exceptions.BandwidthLimitError: The channel stayed
                full (or, for a post with ``on_ack``, the session's
                ``max_unacked_posts``/``max_unacked_bytes`` stayed reached)
                for ``channel_write_timeout`` seconds; the message was not
                sent.

        Thread safety: may be called from any thread, callbacks included.
        May block (without the GIL) while the channel to the broker is full,
        or while too many posts await their ACK (never in a callback).
        """
        if type(message) is not bytes and not isinstance(message, bytes):
            raise TypeError(f"not expecting type '{type(message)}'")
        # Called once per message: the common case takes no extra calls.
        if self._stopped:
            self._check_running()
        queue = self._queues.get(queue_uri)
        if queue is None:
            queue = self._queue(queue_uri)  # raises the precise error
        if not queue.write:
            raise Error("Failed to construct message: QUEUE_READONLY")
        if not message:
            raise Error("Failed to construct message: PAYLOAD_EMPTY")
        if len(message) > _MAX_PAYLOAD:
            raise Error("Failed to construct message: PAYLOAD_TOO_BIG")
        encoded = None
        if properties:
            encoded = encode_properties(properties, property_type_overrides)
        elif property_type_overrides:
            encode_properties(properties or {}, property_type_overrides)
        rc, build_rc = self._handle.post(queue.slot, message, encoded, on_ack, self._compression)
        if rc == 0:
            return
        self._check_running()  # refused because stop() began meanwhile
        if rc == _BW_LIMIT:
            self._count_channel_wait()
            rc, build_rc = self._post_when_channel_drains(queue, message, encoded, on_ack)
            if rc == 0:
                return
        if rc == -1:
            raise Error(f"Failed to construct message: {_event_builder_result_name(build_rc)}")
        if rc == _QUEUE_NOT_OPEN:
            raise Error("Queue not opened")
        text = f"Failed to post message to {queue_uri} queue: {_post_result_name(rc)}"
        if rc == _BW_LIMIT:
            raise BandwidthLimitError(text)
        raise Error(text)

    def _count_channel_wait(self) -> None:
        """A post found the channel full (or the unacknowledged limits
        reached): counted in :meth:`stats`."""
        self._handle.channel_waits += 1

    def _post_when_channel_drains(
        self, queue: _Queue, message: bytes, encoded: Any, on_ack: Optional[OnAck]
    ) -> Tuple[int, int]:
        """Retry a post refused with BW_LIMIT until the channel drains or
        ``channel_write_timeout`` passes; waits without the GIL, in slices so
        that signal handlers (Ctrl-C) run."""
        deadline = time.monotonic() + self._channel_write_timeout
        rc, build_rc = _BW_LIMIT, 0
        while rc == _BW_LIMIT:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._handle.wait_for_channel(min(remaining, _WAIT_SLICE))
            if self._stopped:
                raise Error("Method called after session was stopped")
            rc, build_rc = self._handle.post(queue.slot, message, encoded, on_ack, self._compression)
        return rc, build_rc

    def post_many(
        self,
        queue_uri: str,
        messages: Iterable[bytes],
        properties: Optional[PropertyValueDict] = None,
        property_type_overrides: Optional[Mapping[str, PropertyType]] = None,
        on_ack: Optional[OnAck] = None,
    ) -> None:
        """Post several messages to one queue at once: they are packed into
        as few libbmq PUT events as fit, which costs much less per message
        than calling :meth:`post` in a loop.

        Every message is posted as by :meth:`post`, in order, with the same
        ``properties`` and ``on_ack``; each gets its own :class:`Ack`.

        Args:
            queue_uri: The queue, opened for writing.
            messages: The payloads (each non-empty ``bytes``, at most 64 MiB).
            properties: Message properties shared by every message.
            property_type_overrides: As for :meth:`post`.
            on_ack: Called once per message with its :class:`Ack`, on the
                session's callback thread.

        Raises:
            TypeError: ``messages`` is not an iterable of bytes, ``on_ack`` is
                not callable, or a property has the wrong type.
            ~blazingmq.exceptions.Error: As for :meth:`post`.  Nothing was posted when a payload is
                invalid; when libbmq refuses part-way, the messages before
                the refused one were posted (their ACKs come) and the
                message says how many.
            ~blazingmq.exceptions.BandwidthLimitError: The channel stayed full (or
                the session's limits of unacknowledged posts stayed reached)
                for ``channel_write_timeout`` seconds.

        May block (without the GIL) as :meth:`post` does.
        """
        if isinstance(messages, (bytes, bytearray, str)):
            raise TypeError(f"messages must be an iterable of bytes, not {type(messages).__name__!r}")
        try:
            payloads = list(messages)
        except TypeError:
            raise TypeError(f"messages must be an iterable of bytes, not {type(messages).__name__!r}") from None
        for payload in payloads:
            if type(payload) is not bytes and not isinstance(payload, bytes):
                raise TypeError(f"not expecting type '{type(payload)}'")
            if not payload:
                raise Error("Failed to construct message: PAYLOAD_EMPTY")
            if len(payload) > _MAX_PAYLOAD:
                raise Error("Failed to construct message: PAYLOAD_TOO_BIG")
        if on_ack is not None and not callable(on_ack):
            raise TypeError(f"on_ack must be a callable or None, not {type(on_ack).__name__!r}")
        self._check_running()
        queue = self._queue(queue_uri)
        if not queue.write:
            raise Error("Failed to construct message: QUEUE_READONLY")
        encoded = None
        if properties:
            encoded = encode_properties(properties, property_type_overrides)
        elif property_type_overrides:
            encode_properties(properties or {}, property_type_overrides)
        total = len(payloads)
        done = 0
        deadline = None
        while done < total:
            rc, build_rc, posted = self._handle.post_batch(
                queue.slot, payloads[done:] if done else payloads, encoded, on_ack, self._compression
            )
            done += posted
            if rc == 0:
                continue
            if self._stopped:  # refused because stop() began meanwhile
                raise Error(f"Method called after session was stopped ({done} of {total} messages were posted)")
            if rc == _BW_LIMIT:
                if deadline is None:
                    self._count_channel_wait()
                if posted or deadline is None:
                    deadline = time.monotonic() + self._channel_write_timeout
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    # Waits without the GIL, in slices so that Ctrl-C works.
                    self._handle.wait_for_channel(min(remaining, _WAIT_SLICE))
                    if self._stopped:
                        raise Error("Method called after session was stopped")
                    continue
            progress = f" ({done} of {total} messages were posted)"
            if rc == -1:
                raise Error(f"Failed to construct message: {_event_builder_result_name(build_rc)}{progress}")
            if rc == _QUEUE_NOT_OPEN:
                raise Error(f"Queue not opened{progress}")
            text = f"Failed to post message to {queue_uri} queue: {_post_result_name(rc)}{progress}"
            if rc == _BW_LIMIT:
                raise BandwidthLimitError(text)
            raise Error(text)

    def confirm_many(self, messages: Iterable[Message]) -> None:
        """Confirm several received messages in one libbmq CONFIRM event
        (instead of one event each).

        Confirms made inside ``on_message`` are already sent in batches;
        this helps a program that confirms from its own threads, e.g. after
        processing a batch of messages.

        Raises:
            TypeError: An item is not a :class:`Message`.
            ~blazingmq.exceptions.Error: A message's queue is not open or is closing (then nothing
                was confirmed), or libbmq refused.
        """
        self._check_running()
        try:
            items = list(messages)
        except TypeError:
            raise TypeError(f"messages must be an iterable of Message, not {type(messages).__name__!r}") from None
        slots = []
        guids = []
        for message in items:
            if not isinstance(message, Message):
                raise TypeError(f"message must be a blazingmq.Message, not {type(message).__name__!r}")
            queue = self._confirmable_queue(message)
            slots.append(queue.slot)
            guids.append(message.guid)
        if not items:
            return
        rc = self._handle.confirm_batch(slots, guids)
        if rc != 0:
            self._check_running()  # refused because stop() began meanwhile
            raise Error(f"Failed to confirm {len(items)} messages: {rc}")

    def _confirmable_queue(self, message: Message) -> _Queue:
        receiver = getattr(message, "_receiver", None)
        if receiver is not None and receiver is not self._receiver_token:
            # libbmq would send the confirmation, and the broker ignore it.
            raise Error("Cannot confirm a message received by another session")
        queue = self._queues.get(message.queue_uri)
        if queue is None:
            self._check_running()  # stop() may have begun (and forgotten the queues)
            raise Error("Queue not opened")
        if queue.closing:
            raise Error(
                "Attempting to confirm message on a closing queue. Please ensure that you are "
                "invoking configure with 0 max unconfirmed messages before closing the queue"
                f"{message.queue_uri}"
            )
        guid = message.guid
        if not isinstance(guid, bytes) or len(guid) != 16:
            raise Error("Invalid GUID provided")
        return queue

    def confirm(self, message: Message) -> None:
        """Confirm a received message, so that the broker does not deliver it
        again.  May be called from ``on_message``.

        Once :meth:`stop` has begun (on any thread), confirming raises
        ``Error("Method called after session was stopped")``; the message
        stays unconfirmed and the broker delivers it again later.

        Args:
            message: A :class:`Message` received by this session.

        Raises:
            TypeError: ``message`` is not a :class:`Message`.
            ~blazingmq.exceptions.Error: The queue is not open (``Queue not opened``)
                or is closing, the GUID is invalid, or libbmq refused
                (``Failed to confirm message [<GUID>]: <rc>``).

        Thread safety: may be called from any thread, callbacks included;
        confirms made inside ``on_message`` are sent as one batch.
        """
        # Called once per message: the common case takes no extra calls.
        if self._stopped:
            self._check_running()
        if type(message) is not Message and not isinstance(message, Message):
            raise TypeError(f"message must be a blazingmq.Message, not {type(message).__name__!r}")
        queue = self._queues.get(message.queue_uri)
        guid = message.guid
        try:
            foreign = message._receiver is not self._receiver_token
        except AttributeError:  # not made by the SDK: judged by the checks below
            foreign = False
        if foreign or queue is None or queue.closing or type(guid) is not bytes or len(guid) != 16:
            queue = self._confirmable_queue(message)  # raises the precise error
        rc = self._handle.confirm(queue.slot, guid)
        if rc != 0:
            self._confirm_refused(guid, rc)

    def _confirm_refused(self, guid: bytes, rc: int) -> None:
        """libbmq refused to confirm the message ``guid`` with ``rc``."""
        # Refused because stop() began meanwhile: the message stays
        # unconfirmed (the broker delivers it again) and the caller learns
        # why, as any call made after stop() began does.
        self._check_running()
        raise Error(f"Failed to confirm message [{guid.hex().upper()}]: {rc}")

    def stats(self) -> SessionStats:
        """A snapshot of what this session has done so far: messages and
        bytes posted, ACKs by status, messages received and confirmed,
        posts awaiting their ACK, reconnections, waits for the channel.

        Cheap (a handful of integers are copied); counting them costs the
        hot paths nothing measurable, whether or not this is ever called.
        May be called at any time, from any thread (callbacks included),
        also after :meth:`stop` (the final counts).

        Returns:
            SessionStats: The counts, as of this call.
        """
        return _stats_from_counts(self._handle.stats(), _ACK_CODES_BY_INDEX)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<Session {state} at {id(self):#x}>"
