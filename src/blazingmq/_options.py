"""Value classes for session and queue options."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Optional, Tuple, Union

from ._enums import CompressionAlgorithmType

__all__ = ["DEFAULT_TIMEOUT", "QueueOptions", "SessionOptions", "Subscription", "Timeouts"]


class _DefaultTimeout:
    """The sentinel for "libbmq's default timeout"; its repr is ``...``."""

    _instance: Optional["_DefaultTimeout"] = None

    def __new__(cls) -> "_DefaultTimeout":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "..."

    def __reduce__(self) -> str:
        return "DEFAULT_TIMEOUT"


DEFAULT_TIMEOUT: Any = _DefaultTimeout()


class _ValueClass:
    """Equality and a repr of the fields that are set (not None)."""

    __slots__: Tuple[str, ...] = ()

    def _fields(self) -> Iterator[Tuple[str, Any]]:
        for name in self.__slots__:
            yield name, getattr(self, name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tuple(self._fields()) == tuple(other._fields())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={self._repr_value(name, value)}" for name, value in self._fields() if value is not None
        )
        return f"{type(self).__name__}({fields})"

    def _repr_value(self, name: str, value: Any) -> str:
        return repr(value)


def _check_optional_int(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__!r}")


class Subscription(_ValueClass):
    """A consumer's interest in the messages of a queue whose properties
    match an expression, e.g. ``'price > 10 && region == "EU"'``.

    Give subscriptions to a queue with ``QueueOptions(subscriptions=[...])``;
    the broker then delivers to this consumer only the messages that match
    one of them, and each received :class:`Message` names the subscription
    it matched (``message.subscription``).  The limits and priority apply to
    the messages of this subscription; a field left as ``None`` takes the
    queue's value (from :class:`QueueOptions`).

    The expression language (BlazingMQ's): property names, integer, string
    and boolean literals, comparisons ``== != < <= > >=``, ``&&``, ``||``,
    ``!`` and parentheses; it must use at least one property (``"true"``
    alone is refused).  libbmq checks the expression when the queue is
    opened or configured; an invalid one raises :class:`blazingmq.Error`
    with libbmq's reason.

    Subscriptions are immutable and hashable values, so they can be used as
    dictionary keys (e.g. to count the messages of each one).

    Args:
        expression: The expression over message properties (non-empty).
        max_unconfirmed_messages: Delivered but unconfirmed messages of this
            subscription that the broker lets the consumer hold.
        max_unconfirmed_bytes: The same limit, in bytes of payload.
        consumer_priority: Among consumers with a matching subscription,
            those of the highest priority get the messages.
    """

    __slots__ = ("expression", "max_unconfirmed_messages", "max_unconfirmed_bytes", "consumer_priority")

    expression: str
    max_unconfirmed_messages: Optional[int]
    max_unconfirmed_bytes: Optional[int]
    consumer_priority: Optional[int]

    def __init__(
        self,
        expression: str,
        max_unconfirmed_messages: Optional[int] = None,
        max_unconfirmed_bytes: Optional[int] = None,
        consumer_priority: Optional[int] = None,
    ) -> None:
        if not isinstance(expression, str):
            raise TypeError(f"expression must be a str, not {type(expression).__name__!r}")
        if not expression.strip():
            raise ValueError("expression must not be empty")
        _check_optional_int("max_unconfirmed_messages", max_unconfirmed_messages)
        _check_optional_int("max_unconfirmed_bytes", max_unconfirmed_bytes)
        _check_optional_int("consumer_priority", consumer_priority)
        set_field = object.__setattr__
        set_field(self, "expression", expression)
        set_field(self, "max_unconfirmed_messages", max_unconfirmed_messages)
        set_field(self, "max_unconfirmed_bytes", max_unconfirmed_bytes)
        set_field(self, "consumer_priority", consumer_priority)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Subscription is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Subscription is immutable: cannot delete {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]  # immutable, unlike its base
        return hash(tuple(self._fields()))

    def __repr__(self) -> str:
        # The expression is required, so it is shown without its name.
        fields = [repr(self.expression)]
        fields.extend(
            f"{name}={value!r}" for name, value in self._fields() if name != "expression" and value is not None
        )
        return f"Subscription({', '.join(fields)})"

    def __reduce__(self) -> Any:
        return (type(self), tuple(value for _, value in self._fields()))


class QueueOptions(_ValueClass):
    """Options of a queue opened for reading.

    A field left as ``None`` means libbmq's default when opening a queue and
    "leave unchanged" when configuring one.  ``QueueOptions(0, 0, 0)`` pauses
    delivery, which is what a consumer does before closing its queue.

    Args:
        max_unconfirmed_messages: How many delivered but unconfirmed messages
            the broker lets this consumer hold.
        max_unconfirmed_bytes: The same limit, in bytes of payload.
        consumer_priority: Consumers of higher priority get messages first.
        suspends_on_bad_host_health: Stop the queue while the session's host
            health monitor reports the host unhealthy.
        subscriptions: :class:`Subscription` objects: the consumer then
            receives only the messages whose properties match one of them.
            ``None`` means no subscriptions on open (every message) and
            "leave unchanged" on configure; a sequence replaces the queue's
            subscriptions (an empty one: the consumer receives nothing).
            Stored as a tuple.

    Raises:
        TypeError: A limit or the priority is not an ``int``, or
            ``suspends_on_bad_host_health`` not a ``bool`` (``None`` is
            accepted for each).  Out-of-range values are refused by the
            broker when the queue is opened or configured
            (``INVALID_ARGUMENT``).

    Instances are plain values (``==`` compares every field); they hold no
    resources and may be shared between threads.
    """

    __slots__ = (
        "max_unconfirmed_messages",
        "max_unconfirmed_bytes",
        "consumer_priority",
        "suspends_on_bad_host_health",
        "subscriptions",
    )

    #: libbmq's default for ``max_unconfirmed_messages``.
    DEFAULT_MAX_UNCONFIRMED_MESSAGES = 1000
    #: libbmq's default for ``max_unconfirmed_bytes`` (32 MiB).
    DEFAULT_MAX_UNCONFIRMED_BYTES = 33554432
    #: libbmq's default for ``consumer_priority``.
    DEFAULT_CONSUMER_PRIORITY = 0
    #: libbmq's default for ``suspends_on_bad_host_health``.
    DEFAULT_SUSPENDS_ON_BAD_HOST_HEALTH = False

    def __init__(
        self,
        max_unconfirmed_messages: Optional[int] = None,
        max_unconfirmed_bytes: Optional[int] = None,
        consumer_priority: Optional[int] = None,
        suspends_on_bad_host_health: Optional[bool] = None,
        *,
        subscriptions: Optional[Iterable[Subscription]] = None,
    ) -> None:
        _check_optional_int("max_unconfirmed_messages", max_unconfirmed_messages)
        _check_optional_int("max_unconfirmed_bytes", max_unconfirmed_bytes)
        _check_optional_int("consumer_priority", consumer_priority)
        if suspends_on_bad_host_health is not None and not isinstance(suspends_on_bad_host_health, bool):
            raise TypeError(
                "suspends_on_bad_host_health must be a bool or None, "
                f"not {type(suspends_on_bad_host_health).__name__!r}"
            )
        self.max_unconfirmed_messages = max_unconfirmed_messages
        self.max_unconfirmed_bytes = max_unconfirmed_bytes
        self.consumer_priority = consumer_priority
        self.suspends_on_bad_host_health = suspends_on_bad_host_health
        self.subscriptions: Optional[Tuple[Subscription, ...]] = None
        if subscriptions is not None:
            if isinstance(subscriptions, (Subscription, str, bytes)):
                raise TypeError(
                    "subscriptions must be a sequence of Subscription objects, "
                    f"not a single {type(subscriptions).__name__!r}"
                )
            self.subscriptions = tuple(subscriptions)
            for subscription in self.subscriptions:
                if not isinstance(subscription, Subscription):
                    raise TypeError(
                        "subscriptions must hold Subscription objects, "
                        f"not {type(subscription).__name__!r}"
                    )


class Timeouts(_ValueClass):
    """Per-operation timeouts in seconds; ``None`` means libbmq's default
    (connect 60 s, disconnect 30 s, queue operations 300 s).

    Pass it as ``Session(..., timeout=Timeouts(...))``; the session checks
    each value (``0 < t < 2**63``, else :class:`ValueError`).

    Args:
        connect_timeout: Connecting, in the :class:`Session` constructor.
        disconnect_timeout: Disconnecting, in :meth:`Session.stop`.
        open_queue_timeout: :meth:`Session.open_queue`.
        configure_queue_timeout: :meth:`Session.configure_queue`.
        close_queue_timeout: :meth:`Session.close_queue`.
    """

    __slots__ = (
        "connect_timeout",
        "disconnect_timeout",
        "open_queue_timeout",
        "configure_queue_timeout",
        "close_queue_timeout",
    )

    def __init__(
        self,
        connect_timeout: Optional[float] = None,
        disconnect_timeout: Optional[float] = None,
        open_queue_timeout: Optional[float] = None,
        configure_queue_timeout: Optional[float] = None,
        close_queue_timeout: Optional[float] = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.disconnect_timeout = disconnect_timeout
        self.open_queue_timeout = open_queue_timeout
        self.configure_queue_timeout = configure_queue_timeout
        self.close_queue_timeout = close_queue_timeout


class SessionOptions(_ValueClass):
    """Every :class:`Session` option in one value, for
    :meth:`Session.with_options`.  ``None`` means the default.

    Each field has the meaning, and is checked like, the :class:`Session`
    argument of the same name (``timeouts`` is its ``timeout``).

    Args:
        message_compression_algorithm: How posted payloads are compressed.
        timeouts: Per-operation timeouts.
        host_health_monitor: A :class:`BasicHealthMonitor`.
        num_processing_threads: libbmq event threads.
        blob_buffer_size: Size in bytes of libbmq's buffers.
        channel_high_watermark: Bytes buffered towards the broker before
            posts wait.
        event_queue_watermarks: ``(low, high)`` of libbmq's event queue.
        stats_dump_interval: Seconds between statistics dumps.
        authn_credential: The credential, or a callable returning it
            (keyword-only; never shown in the repr).
    """

    __slots__ = (
        "message_compression_algorithm",
        "timeouts",
        "host_health_monitor",
        "num_processing_threads",
        "blob_buffer_size",
        "channel_high_watermark",
        "event_queue_watermarks",
        "stats_dump_interval",
        "authn_credential",
    )

    def __init__(
        self,
        message_compression_algorithm: Optional[CompressionAlgorithmType] = None,
        timeouts: Optional[Timeouts] = None,
        host_health_monitor: Optional[Any] = None,
        num_processing_threads: Optional[int] = None,
        blob_buffer_size: Optional[int] = None,
        channel_high_watermark: Optional[int] = None,
        event_queue_watermarks: Optional[Tuple[int, int]] = None,
        stats_dump_interval: Optional[Union[int, float]] = None,
        *,
        authn_credential: Optional[Any] = None,
    ) -> None:
        self.message_compression_algorithm = message_compression_algorithm
        self.timeouts = timeouts
        self.host_health_monitor = host_health_monitor
        self.num_processing_threads = num_processing_threads
        self.blob_buffer_size = blob_buffer_size
        self.channel_high_watermark = channel_high_watermark
        self.event_queue_watermarks = event_queue_watermarks
        self.stats_dump_interval = stats_dump_interval
        self.authn_credential = authn_credential

    def _session_arguments(self) -> "dict[str, Any]":
        """The keyword arguments of a ``Session`` (sync or asyncio) built
        from these options: unset fields take the session's defaults."""
        return {
            "message_compression_algorithm": (
                self.message_compression_algorithm
                if self.message_compression_algorithm is not None
                else CompressionAlgorithmType.NONE
            ),
            "timeout": self.timeouts if self.timeouts is not None else DEFAULT_TIMEOUT,
            "host_health_monitor": self.host_health_monitor,
            "num_processing_threads": self.num_processing_threads,
            "blob_buffer_size": self.blob_buffer_size,
            "channel_high_watermark": self.channel_high_watermark,
            "event_queue_watermarks": self.event_queue_watermarks,
            "stats_dump_interval": self.stats_dump_interval,
            "authn_credential": self.authn_credential,
        }

    def _repr_value(self, name: str, value: Any) -> str:
        if name == "authn_credential":
            return "<hidden>"  # a secret: never in a repr, hence never in a log
        return repr(value)
