"""``blazingmq.aio.Session``: a :class:`blazingmq.Session` driven from an
asyncio event loop.

How what libbmq delivers reaches the loop: the synchronous session's
callback thread (one per session, see ``src/cpp/bmqpy_session.h``) already
hands libbmq's events over in batches, taking the GIL once per batch.  Here
its callbacks only append to deques (messages per queue, ACKs, session
events); at the end of each batch, ``on_batch_end`` schedules one call of
:meth:`Session._wakeup` on the loop (``call_soon_threadsafe``) unless one is
already pending.  That call resolves every ACK future of the batch and wakes
the iterators, which then take messages straight from the deques.  So the
loop is woken at most once per batch, never once per message.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import functools
import logging
import os
import threading
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Deque,
    Dict,
    Generator,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from .. import _session
from .._enums import CompressionAlgorithmType, PropertyType
from .._messages import Ack
from .._messages import Message as _SyncMessage
from .._monitors import BasicHealthMonitor
from .._options import DEFAULT_TIMEOUT, QueueOptions, SessionOptions, Subscription, Timeouts
from .._stats import SessionStats
from .._typing import PropertyTypeDict, PropertyValueDict
from ..exceptions import BandwidthLimitError, Error
from ..session_events import ChannelLowWatermark, SessionEvent

__all__ = ["Message", "Session"]

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# Session events kept for `events()` before the oldest are dropped, so that
# a program that never reads them does not grow without bound.
_MAX_BUFFERED_EVENTS = 10_000

_NEW, _STARTING, _RUNNING, _STOPPING, _STOPPED = range(5)


class _Done:
    """What :meth:`Message.confirm` returns: already complete, so that
    ``await message.confirm()`` and a plain ``message.confirm()`` both
    work (and neither warns about a coroutine never awaited)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator

    def __repr__(self) -> str:
        return "<confirmed>"


_DONE = _Done()


class Message:
    """A message received through :meth:`Session.messages`.

    Attributes:
        data (bytes): The payload.
        guid (bytes): The 16-byte unique id the broker gave the message.
        queue_uri (str): The queue the message came from.
        properties (dict): The message properties, name to value.
        property_types (dict): The type of each property, name to
            :class:`~blazingmq.PropertyType`.
        subscription (Subscription | None): The subscription (the object
            given in :class:`~blazingmq.QueueOptions`) the message matched,
            or None if the queue has no subscriptions.
    """

    # `_span`: set only by an instrumented session (see blazingmq.otel).
    __slots__ = (
        "data", "guid", "queue_uri", "properties", "property_types", "subscription", "_message", "_session", "_span"
    )

    data: bytes
    guid: bytes
    queue_uri: str
    properties: PropertyValueDict
    property_types: PropertyTypeDict
    subscription: Optional[Subscription]
    _message: _SyncMessage
    _session: "Session"

    def __init__(self) -> None:
        raise Error("The Message class does not have a public constructor.")

    def confirm(self) -> Awaitable[None]:
        """Confirm the message, so that the broker does not deliver it again.

        Same as ``session.confirm(message)``: checks at once, and the
        confirmations made during one iteration of the event loop are sent
        together, in one libbmq CONFIRM event, at the end of it.  Returns an
        already-complete awaitable: ``await message.confirm()`` and
        ``message.confirm()`` do the same.

        Raises:
            ~blazingmq.exceptions.Error: The queue is not open or is closing, or the session is
                stopped.
        """
        return self._session.confirm(self)

    def __repr__(self) -> str:
        return f"<Message[{self.guid.hex().upper()}] for {self.queue_uri}>"


def _wrap_message(message: _SyncMessage, session: "Session") -> Message:
    wrapped = Message.__new__(Message)
    wrapped.data = message.data
    wrapped.guid = message.guid
    wrapped.queue_uri = message.queue_uri
    wrapped.properties = message.properties
    wrapped.property_types = message.property_types
    wrapped.subscription = message.subscription
    wrapped._message = message
    wrapped._session = session
    return wrapped


class _Inbox(collections.deque):  # type: ignore[type-arg]
    """Messages of one queue opened for reading, appended on the callback
    thread and taken on the loop.  ``closed`` once the queue is closed."""

    __slots__ = ("closed",)

    def __init__(self) -> None:
        super().__init__()
        self.closed = False


class _LoopSession(_session.Session):
    """The synchronous session underneath: it does not connect in its
    constructor; :meth:`Session.start` awaits its ``_start_future()``."""

    _connect_on_init = False
    _instrument_methods = False

    def _count_channel_wait(self) -> None:
        # Counted by blazingmq.aio.Session, once per post (this session
        # sees every retry of a waiting post).
        pass


def _wake(waiters: List["asyncio.Future[None]"]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()


class Session:
    """A connection to a BlazingMQ broker for asyncio programs.

    Create it, then connect with ``async with`` (or ``await
    session.start()``, and ``await session.stop()`` when done).  The
    arguments are those of :class:`blazingmq.Session`, except for the
    callbacks: messages come from :meth:`messages`, session events from
    :meth:`events`, ACKs from :meth:`post`.  They are checked at once; the
    constructor does not connect.

    Args:
        broker: The broker's URI.
        message_compression_algorithm: How every posted payload is compressed.
        timeout: Seconds for connect/open/configure/close, or a
            :class:`~blazingmq.Timeouts`.
        host_health_monitor: A :class:`~blazingmq.BasicHealthMonitor`, or None.
        num_processing_threads: As for :class:`blazingmq.Session`.
        blob_buffer_size: As for :class:`blazingmq.Session`.
        channel_high_watermark: As for :class:`blazingmq.Session`.
        event_queue_watermarks: As for :class:`blazingmq.Session`.
        stats_dump_interval: As for :class:`blazingmq.Session`.
        authn_credential: As for :class:`blazingmq.Session`.
        channel_write_timeout: Seconds an awaited :meth:`post` waits for a
            full channel before it raises
            :class:`~blazingmq.exceptions.BandwidthLimitError` (default 5).
            The wait does not block the loop.
        max_unacked_posts: As for :class:`blazingmq.Session`: beyond it, an
            awaited :meth:`post` waits (without blocking the loop) for ACKs,
            like a post to a full channel; :meth:`post_nowait` asks for no
            ACK and is not limited.
        max_unacked_bytes: As for :class:`blazingmq.Session`.

    Thread safety: use a session from the thread running its event loop
    only.  Every method that talks to the broker is a coroutine except
    :meth:`post_nowait`, :meth:`confirm` and :meth:`get_queue_options`,
    which never block.

    Cancellation: cancelling an awaited :meth:`open_queue`,
    :meth:`configure_queue` or :meth:`close_queue` does not stop the
    request (libbmq has it); a queue whose open is cancelled is closed again
    when it opens.  :meth:`post` hands the message to libbmq before it
    returns its future, so cancelling that future (or the task awaiting it,
    or a timeout around it) only drops the ACK: the message is posted
    exactly once.  :meth:`stop` cancels every await still pending (ACKs not
    delivered by libbmq, queue operations, posts waiting for a full channel)
    and ends the iterators.
    """

    def __init__(
        self,
        broker: Union[str, bytes] = _session._DEFAULT_BROKER,
        *,
        message_compression_algorithm: CompressionAlgorithmType = CompressionAlgorithmType.NONE,
        timeout: Union[float, Timeouts, None] = DEFAULT_TIMEOUT,
        host_health_monitor: Optional[BasicHealthMonitor] = None,
        num_processing_threads: Optional[int] = None,
        blob_buffer_size: Optional[int] = None,
        channel_high_watermark: Optional[int] = None,
        event_queue_watermarks: Optional[Tuple[int, int]] = None,
        stats_dump_interval: Optional[Union[int, float]] = None,
        channel_write_timeout: Optional[float] = None,
        max_unacked_posts: int = _session._DEFAULT_MAX_UNACKED_POSTS,
        max_unacked_bytes: int = _session._DEFAULT_MAX_UNACKED_BYTES,
        authn_credential: _session.AuthnCredentialOption = None,
    ) -> None:
        self._state = _NEW
        if channel_write_timeout is None:
            self._channel_write_timeout = _session._DEFAULT_CHANNEL_WRITE_TIMEOUT
        else:
            if isinstance(channel_write_timeout, bool) or not isinstance(channel_write_timeout, (int, float)):
                raise TypeError(
                    f"channel_write_timeout must be a number, not {type(channel_write_timeout).__name__!r}"
                )
            if not 0 <= channel_write_timeout < 2**63:
                raise ValueError(f"channel_write_timeout must be 0 or more, was {channel_write_timeout}")
            self._channel_write_timeout = float(channel_write_timeout)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # Filled on the callback thread, emptied on the loop (deque appends
        # and pops are atomic; dicts are only changed on the loop).
        self._inboxes: Dict[str, _Inbox] = {}
        self._inbox_list: List[_Inbox] = []
        self._next_inbox = 0
        self._acks: Deque[Tuple["asyncio.Future[Ack]", Ack]] = collections.deque()
        self._events: Deque[SessionEvent] = collections.deque(maxlen=_MAX_BUFFERED_EVENTS)
        self._messages_arrived = False
        self._events_arrived = False
        self._channel_drained = False
        self._wakeup_scheduled = False
        # Loop side only.
        self._pending_acks: Set["asyncio.Future[Ack]"] = set()
        self._operations: Set["asyncio.Future[Any]"] = set()
        self._message_waiters: List["asyncio.Future[None]"] = []
        self._event_waiters: List["asyncio.Future[None]"] = []
        self._channel_waiters: List["asyncio.Future[None]"] = []
        # Confirmations made during the current loop iteration.
        self._confirm_slots: List[int] = []
        self._confirm_messages: List[_SyncMessage] = []
        # Posts that found the channel full, in order, and the task that
        # posts them once it drains.
        self._waiting_posts: Deque[Tuple["asyncio.Future[Ack]", float, Tuple[Any, ...]]] = collections.deque()
        self._poster: Optional["asyncio.Task[None]"] = None
        self._stopping: Optional["asyncio.Future[None]"] = None
        # The pipe that wakes the loop to deliver events on its own thread
        # (read end, write end), and that thread's id; see `_deliver_here`.
        self._wake_fds: Optional[Tuple[int, int]] = None
        self._loop_thread = 0
        # The synchronous session, posting without waiting for a full
        # channel (this class waits for it on the loop).
        self._session = _LoopSession(
            self._event_arrived,
            on_message=self._message_arrived,
            broker=broker,
            message_compression_algorithm=message_compression_algorithm,
            timeout=timeout,
            host_health_monitor=host_health_monitor,
            num_processing_threads=num_processing_threads,
            blob_buffer_size=blob_buffer_size,
            channel_high_watermark=channel_high_watermark,
            event_queue_watermarks=event_queue_watermarks,
            stats_dump_interval=stats_dump_interval,
            channel_write_timeout=0,
            max_unacked_posts=max_unacked_posts,
            max_unacked_bytes=max_unacked_bytes,
            authn_credential=authn_credential,
        )
        instrumentation = self._session._instrumentation
        if instrumentation is not None:
            instrumentation.aio_session_created(self, self._session._telemetry)

    @classmethod
    def with_options(
        cls,
        broker: Union[str, bytes] = _session._DEFAULT_BROKER,
        session_options: SessionOptions = SessionOptions(),
        *,
        channel_write_timeout: Optional[float] = None,
    ) -> "Session":
        """Create a session from a :class:`~blazingmq.SessionOptions` value."""
        if not isinstance(session_options, SessionOptions):
            raise TypeError(
                f"session_options must be a SessionOptions, not {type(session_options).__name__!r}"
            )
        return cls(
            broker, channel_write_timeout=channel_write_timeout, **session_options._session_arguments()
        )

    # -- the callback thread (GIL held, inside one batch) ------------------

    def _message_arrived(self, message: _SyncMessage, handle: Any) -> None:
        inbox = self._inboxes.get(message.queue_uri)
        if inbox is not None:
            inbox.append(message)
            self._messages_arrived = True
        # Else its queue was closed here: unconfirmed, so it is delivered
        # again (to another consumer).

    def _event_arrived(self, event: SessionEvent) -> None:
        self._events.append(event)
        self._events_arrived = True
        if type(event) is ChannelLowWatermark:
            self._channel_drained = True

    def _ack_arrived(self, future: "asyncio.Future[Ack]", ack: Ack) -> None:
        self._acks.append((future, ack))

    def _on_batch_end(self) -> None:
        if self._wakeup_scheduled:
            return
        if threading.get_ident() == self._loop_thread:
            return  # delivered by `_deliver_here`, which wakes the waiters
        if not (self._acks or self._messages_arrived or self._events_arrived or self._channel_drained):
            return
        loop = self._loop
        if loop is None:
            return
        self._wakeup_scheduled = True
        try:
            loop.call_soon_threadsafe(self._wakeup)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to wake

    # -- the loop ------------------------------------------------------------

    def _deliver_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have libbmq's events delivered on the loop's thread: libbmq's
        thread queues them and writes a byte to a pipe the loop watches, and
        the loop runs the callbacks itself.  Otherwise a message would
        wake two threads (the one running the callbacks, then the loop, which
        then waits for the GIL the first still holds), and the two would
        take turns at the GIL for every batch."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._wake_fds = (read_fd, write_fd)
        self._loop_thread = threading.get_ident()
        loop.add_reader(read_fd, self._deliver_here)
        self._session._handle.set_delivery_fd(write_fd)

    def _deliver_here(self) -> None:
        fds = self._wake_fds
        if fds is None:
            return
        try:
            os.read(fds[0], 4096)
        except BlockingIOError:
            pass
        if self._session._handle.deliver_pending():
            self._wakeup()

    def _stop_delivering_on_loop(self) -> None:
        """Before libbmq stops: what it delivers while stopping goes to the
        session's own threads (the loop may not run again)."""
        if self._wake_fds is not None:
            self._session._handle.set_delivery_fd(-1)
            self._loop_thread = 0

    def _close_wake_fds(self) -> None:
        fds, self._wake_fds = self._wake_fds, None
        if fds is None:
            return
        self._session._handle.set_delivery_fd(-1)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.remove_reader(fds[0])
        os.close(fds[0])
        os.close(fds[1])

    def _wakeup(self) -> None:
        """Hand what the last batches brought to the loop's waiters.  Flags
        are cleared before what they announce is read, so that anything
        arriving meanwhile schedules another wake-up."""
        self._wakeup_scheduled = False
        acks = self._acks
        if acks:
            pending = self._pending_acks
            while acks:
                future, ack = acks.popleft()
                pending.discard(future)
                if not future.done():
                    future.set_result(ack)
            if self._waiting_posts:
                # They may wait for ACKs (`max_unacked_posts`), not the
                # channel: one retry per wake-up.
                _wake(self._channel_waiters)
        if self._messages_arrived:
            self._messages_arrived = False
            _wake(self._message_waiters)
        if self._events_arrived:
            self._events_arrived = False
            _wake(self._event_waiters)
        if self._channel_drained:
            self._channel_drained = False
            _wake(self._channel_waiters)

    async def _wait(self, waiters: List["asyncio.Future[None]"]) -> None:
        assert self._loop is not None
        waiter = self._loop.create_future()
        waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done() or waiter.cancelled():
                try:
                    waiters.remove(waiter)
                except ValueError:
                    pass

    def _running(self) -> _LoopSession:
        if self._state != _RUNNING:
            if self._state in (_NEW, _STARTING):
                raise Error("Session not started: use `async with` or `await session.start()` first")
            raise Error("Method called after session was stopped")
        return self._session

    async def _operation(self, future: "concurrent.futures.Future[_T]") -> _T:
        """Await a queue operation's outcome (set on the callback thread)."""
        waiter = asyncio.wrap_future(future, loop=self._loop)
        self._operations.add(waiter)
        try:
            return await waiter
        finally:
            self._operations.discard(waiter)

    # -- lifetime ------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the broker, without blocking the loop.

        Raises:
            ~blazingmq.exceptions.Error: Already started, or the session could not connect.
            ~blazingmq.exceptions.BrokerTimeoutError: The connection timed out.
        """
        if self._state != _NEW:
            raise Error("start() may be called only once")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._state = _STARTING
        session = self._session
        session._handle.on_batch_end = self._on_batch_end
        self._deliver_on_loop(loop)
        try:
            await asyncio.wrap_future(session._start_future(), loop=loop)
        except BaseException:
            self._state = _STOPPED
            self._stop_delivering_on_loop()
            # Stopping joins libbmq's threads: not on the loop.
            aborting = loop.run_in_executor(None, session._abort_start)
            aborting.add_done_callback(lambda _: self._after_stop())
            raise
        session._finish_start()
        self._state = _RUNNING
        # What arrived before `on_batch_end` could see the loop.
        self._wakeup()

    async def __aenter__(self) -> "Session":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Disconnect, without blocking the loop.

        Pending confirmations are sent first.  ACKs libbmq still delivers
        while stopping resolve their :meth:`post`; every await still pending
        afterwards is cancelled, and the iterators of :meth:`messages` and
        :meth:`events` end (events first deliver what they buffered, e.g.
        ``Disconnected``).  Idempotent.
        """
        if self._state == _NEW:
            self._state = _STOPPED
            return
        if self._stopping is None:
            if self._state != _RUNNING:
                return
            self._state = _STOPPING
            self._flush_confirms()
            self._stop_delivering_on_loop()
            for operation in list(self._operations):
                operation.cancel()
            self._cancel_waiting_posts()
            loop = asyncio.get_running_loop()
            # In this task's context, so that an instrumented session's
            # spans of stopping are children of the caller's span.
            context = contextvars.copy_context()
            self._stopping = loop.run_in_executor(None, context.run, self._session.stop)
            self._stopping.add_done_callback(lambda _: self._after_stop())
        # Shielded: a cancelled `stop()` still stops.
        await asyncio.shield(self._stopping)

    def _cancel_waiting_posts(self) -> None:
        """The posts still waiting for the channel will never be posted."""
        if self._poster is not None:
            self._poster.cancel()
        while self._waiting_posts:
            future, _, _ = self._waiting_posts.popleft()
            self._pending_acks.discard(future)
            future.cancel()

    def _after_stop(self) -> None:
        """On the loop, once libbmq has stopped: deliver what came during
        the stop, then release every waiter."""
        self._state = _STOPPED
        self._session._handle.on_batch_end = None
        self._close_wake_fds()
        self._wakeup()
        for future in self._pending_acks:
            future.cancel()
        self._pending_acks.clear()
        self._cancel_waiting_posts()
        for operation in self._operations:
            operation.cancel()
        for inbox in self._inbox_list:
            inbox.clear()
            inbox.closed = True
        self._inboxes.clear()
        self._inbox_list.clear()
        self._confirm_slots.clear()
        self._confirm_messages.clear()
        _wake(self._message_waiters)
        _wake(self._event_waiters)
        _wake(self._channel_waiters)

    # -- queues --------------------------------------------------------------

    async def open_queue(
        self,
        queue_uri: str,
        read: bool = False,
        write: bool = False,
        options: QueueOptions = QueueOptions(),
        timeout: Optional[float] = DEFAULT_TIMEOUT,
    ) -> None:
        """Open a queue for reading (its messages come from
        :meth:`messages`), writing, or both.  Arguments and errors as for
        :meth:`blazingmq.Session.open_queue`."""
        session = self._running()
        inbox = None
        if read and isinstance(queue_uri, str) and queue_uri not in self._inboxes:
            # Ready before libbmq can deliver a message of the queue.
            inbox = self._inboxes[queue_uri] = _Inbox()
            self._inbox_list.append(inbox)
        try:
            await self._operation(session._open_queue_future(queue_uri, read, write, options, timeout))
        except BaseException:
            if inbox is not None:
                self._close_inbox(queue_uri, inbox)
            raise

    async def configure_queue(
        self,
        queue_uri: str,
        options: QueueOptions,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
    ) -> None:
        """Change the options of an open queue, as
        :meth:`blazingmq.Session.configure_queue` does."""
        session = self._running()
        self._flush_confirms()
        await self._operation(session._configure_queue_future(queue_uri, options, timeout))

    async def close_queue(self, queue_uri: str, timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        """Close a queue, as :meth:`blazingmq.Session.close_queue` does.  Its
        messages not yet taken from :meth:`messages` are dropped (the broker
        delivers them again), and ``messages(queue_uri)`` ends."""
        session = self._running()
        self._flush_confirms()
        try:
            await self._operation(session._close_queue_future(queue_uri, timeout))
        except asyncio.CancelledError:
            # The close goes on in libbmq: the queue is gone for this program.
            self._close_inbox(queue_uri, self._inboxes.get(queue_uri))
            raise
        self._close_inbox(queue_uri, self._inboxes.get(queue_uri))

    def _close_inbox(self, queue_uri: str, inbox: Optional[_Inbox]) -> None:
        if inbox is None:
            return
        if self._inboxes.get(queue_uri) is inbox:
            del self._inboxes[queue_uri]
        try:
            self._inbox_list.remove(inbox)
        except ValueError:
            pass
        inbox.clear()
        inbox.closed = True
        _wake(self._message_waiters)

    def get_queue_options(self, queue_uri: str) -> QueueOptions:
        """The options of an open queue, every field filled in."""
        return self._running().get_queue_options(queue_uri)

    # -- posting -------------------------------------------------------------

    def post(
        self,
        queue_uri: str,
        message: bytes,
        properties: Optional[PropertyValueDict] = None,
        property_type_overrides: Optional[Mapping[str, PropertyType]] = None,
    ) -> "asyncio.Future[Ack]":
        """Post a message; return a future resolved with the broker's
        :class:`~blazingmq.Ack`: ``ack = await session.post(queue, data)``.

        The message is handed to libbmq during this call, so futures can be
        kept and awaited later to post many messages without waiting for
        each ACK (``await asyncio.gather(*futures)``).  When the channel to
        the broker is full, the message waits in the session instead (the
        loop is not blocked) and is posted, in order, once the channel
        drains; its future fails with
        :class:`~blazingmq.exceptions.BandwidthLimitError` if the channel
        stays full for ``channel_write_timeout`` seconds.

        Cancelling the future once the message was handed to libbmq only
        drops the ACK: the message is posted exactly once.  Cancelled while
        it waits for a full channel, it is not posted.

        Returns:
            A future of the :class:`~blazingmq.Ack`; check its ``status``
            (a message the broker refused resolves to an ``Ack`` whose
            status is not ``SUCCESS``).

        Raises:
            TypeError, ~blazingmq.exceptions.Error: As for :meth:`blazingmq.Session.post`, at
                once (for a message waiting for the channel, through the
                future).
        """
        session = self._running()
        assert self._loop is not None
        future: "asyncio.Future[Ack]" = self._loop.create_future()
        on_ack = functools.partial(self._ack_arrived, future)
        if not self._waiting_posts:
            try:
                session.post(queue_uri, message, properties, property_type_overrides, on_ack)
            except BandwidthLimitError:
                pass  # waits for the channel, below
            else:
                self._pending_acks.add(future)
                return future
        # Behind the messages already waiting, so that order is kept.
        session._handle.channel_waits += 1
        deadline = self._loop.time() + self._channel_write_timeout
        self._waiting_posts.append(
            (future, deadline, (queue_uri, message, properties, property_type_overrides, on_ack))
        )
        self._pending_acks.add(future)
        if self._poster is None:
            self._poster = self._loop.create_task(self._post_when_channel_drains())
        return future

    def post_nowait(
        self,
        queue_uri: str,
        message: bytes,
        properties: Optional[PropertyValueDict] = None,
        property_type_overrides: Optional[Mapping[str, PropertyType]] = None,
    ) -> None:
        """Post a message without asking for an ACK (fire and forget).
        Never waits: when the channel to the broker is full (or messages
        from :meth:`post` wait for it), it raises
        :class:`~blazingmq.exceptions.BandwidthLimitError` at once.

        Raises:
            TypeError, ~blazingmq.exceptions.Error: As for :meth:`blazingmq.Session.post`.
            ~blazingmq.exceptions.BandwidthLimitError: The channel is full.
        """
        session = self._running()
        if self._waiting_posts:
            session._handle.channel_waits += 1
            raise BandwidthLimitError(f"Failed to post message to {queue_uri} queue: BW_LIMIT")
        try:
            session.post(queue_uri, message, properties, property_type_overrides)
        except BandwidthLimitError:
            session._handle.channel_waits += 1
            raise

    async def _post_when_channel_drains(self) -> None:
        """Post the messages that found the channel full, in order: retried
        when libbmq reports the channel drained (``ChannelLowWatermark``)
        and at least every ``_WAIT_SLICE`` seconds.  A message whose
        ``channel_write_timeout`` passes fails with BandwidthLimitError."""
        assert self._loop is not None
        loop = self._loop
        waiting = self._waiting_posts
        try:
            while waiting:
                future, deadline, arguments = waiting[0]
                if future.done():  # cancelled while waiting: not posted
                    waiting.popleft()
                    continue
                session = self._session
                try:
                    session.post(*arguments)
                except BandwidthLimitError as refused:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        waiting.popleft()
                        self._pending_acks.discard(future)
                        future.set_exception(refused)
                        continue
                    await self._wait_for_channel(min(remaining, _session._WAIT_SLICE))
                    continue
                except BaseException as error:
                    waiting.popleft()
                    self._pending_acks.discard(future)
                    if isinstance(error, Exception):
                        future.set_exception(error)
                        continue
                    raise
                waiting.popleft()
        finally:
            self._poster = None

    async def _wait_for_channel(self, timeout: float) -> None:
        assert self._loop is not None
        waiter = self._loop.create_future()
        self._channel_waiters.append(waiter)
        try:
            await asyncio.wait((waiter,), timeout=timeout)
        finally:
            if not waiter.done():
                waiter.cancel()
                self._channel_waiters.remove(waiter)

    # -- receiving -----------------------------------------------------------

    def messages(self, queue_uri: Optional[str] = None) -> AsyncIterator[Message]:
        """Iterate over received messages: of every queue opened for
        reading, or of ``queue_uri`` only.

        Each message is yielded once, to one iterator.  Messages wait in the
        session until taken (at most the queue's ``max_unconfirmed_messages``
        are delivered unconfirmed).  The iterator ends when the session
        stops, or, for one queue, when that queue is closed.

        Raises:
            ~blazingmq.exceptions.Error: ``queue_uri`` is not open for reading.
        """
        if queue_uri is None:
            return _MessageIterator(self, None)
        if not isinstance(queue_uri, str):
            raise TypeError(f"queue_uri must be a str, not {type(queue_uri).__name__!r}")
        self._running()
        inbox = self._inboxes.get(queue_uri)
        if inbox is None:
            raise Error(f"Queue {queue_uri} is not open for reading")
        return _MessageIterator(self, inbox)

    def _take_any(self) -> Optional[_SyncMessage]:
        inboxes = self._inbox_list
        count = len(inboxes)
        if count == 1:
            inbox = inboxes[0]
            return inbox.popleft() if inbox else None
        # Round robin, so that a busy queue does not starve the others.
        start = self._next_inbox
        for i in range(count):
            index = (start + i) % count
            inbox = inboxes[index]
            if inbox:
                self._next_inbox = index + 1
                return inbox.popleft()  # type: ignore[no-any-return]
        return None

    def events(self) -> AsyncIterator[SessionEvent]:
        """Iterate over session events (``Connected``, ``ConnectionLost``,
        ``QueueReopened``, ...), in the order libbmq reported them, from the
        start of the session.  Ends after the events of :meth:`stop`.

        Events are kept until read; beyond 10,000 unread ones, the oldest
        are dropped.
        """
        return _EventIterator(self)

    def confirm(self, message: Message) -> Awaitable[None]:
        """Confirm a message from :meth:`messages` (see
        :meth:`Message.confirm`).

        Raises:
            TypeError: ``message`` is not a :class:`blazingmq.aio.Message`.
            ~blazingmq.exceptions.Error: The queue is not open or is closing, or the session is
                stopped.
        """
        if type(message) is not Message and not isinstance(message, Message):
            raise TypeError(f"message must be a blazingmq.aio.Message, not {type(message).__name__!r}")
        if self._state != _RUNNING:
            self._running()  # raises
        received = message._message
        # Checked now (the same checks as the sync confirm); sent by
        # `_flush_confirms`.  Once per message: a message this session
        # received, of a queue open and not closing, needs no other check;
        # anything else goes through the checks that raise the precise error.
        session = self._session
        queue = session._queues.get(received.queue_uri)
        if queue is None or queue.closing or received._receiver is not session._receiver_token:
            queue = session._confirmable_queue(received)
        slots = self._confirm_slots
        slots.append(queue.slot)
        self._confirm_messages.append(received)
        if len(slots) == 1:
            assert self._loop is not None
            self._loop.call_soon(self._flush_confirms)
        return _DONE

    def _flush_confirms(self) -> None:
        """Send the confirmations collected during one loop iteration in one
        CONFIRM event."""
        slots = self._confirm_slots
        if not slots:
            return
        messages = self._confirm_messages
        self._confirm_slots = []
        self._confirm_messages = []
        handle = self._session._handle
        if handle.confirm_batch(slots, [message.guid for message in messages]) == 0 or handle.stopping:
            return  # when stopping, the broker delivers them again
        # libbmq refused the batch: confirm one by one, so that one message
        # cannot keep the others unconfirmed.  What cannot be confirmed any
        # more is delivered again.
        for message in messages:
            try:
                self._session.confirm(message)
            except Error as error:
                _logger.warning("message %s not confirmed: %s", message.guid.hex().upper(), error)

    def stats(self) -> SessionStats:
        """A snapshot of what this session has done so far; see
        :meth:`blazingmq.Session.stats`.  ``messages_received`` counts the
        messages that reached the session (whether or not :meth:`messages`
        has yielded them yet).  May be called at any time, also before
        :meth:`start` and after :meth:`stop`."""
        return self._session.stats()

    def __repr__(self) -> str:
        state = {_NEW: "new", _STARTING: "starting", _RUNNING: "running", _STOPPING: "stopping"}.get(
            self._state, "stopped"
        )
        return f"<blazingmq.aio.Session {state} at {id(self):#x}>"


class _MessageIterator:
    """``async for`` over messages; ``inbox`` None means every queue."""

    __slots__ = ("_session", "_inbox")

    def __init__(self, session: Session, inbox: Optional[_Inbox]) -> None:
        self._session = session
        self._inbox = inbox

    def __aiter__(self) -> "_MessageIterator":
        return self

    async def __anext__(self) -> Message:
        inbox = self._inbox
        if inbox:  # the common case while messages flow
            return _wrap_message(inbox.popleft(), self._session)
        session = self._session
        while True:
            if inbox is None:
                message = session._take_any()
                if message is not None:
                    return _wrap_message(message, session)
                if session._state >= _STOPPED:
                    raise StopAsyncIteration
            else:
                if inbox:
                    return _wrap_message(inbox.popleft(), session)
                if inbox.closed:
                    raise StopAsyncIteration
            if session._state == _NEW:
                raise Error("Session not started: use `async with` or `await session.start()` first")
            await session._wait(session._message_waiters)


class _EventIterator:
    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def __aiter__(self) -> "_EventIterator":
        return self

    async def __anext__(self) -> SessionEvent:
        session = self._session
        while True:
            if session._events:
                return session._events.popleft()
            if session._state >= _STOPPED:
                raise StopAsyncIteration
            if session._state == _NEW:
                raise Error("Session not started: use `async with` or `await session.start()` first")
            await session._wait(session._event_waiters)
