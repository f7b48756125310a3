"""The objects that callbacks receive: :class:`Message`, :class:`MessageHandle`
and :class:`Ack`.

None of them has a public constructor: the SDK creates them (in
``blazingmq._ext``) from what libbmq delivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ._enums import AckStatus
from ._typing import PropertyTypeDict, PropertyValueDict
from .exceptions import Error

if TYPE_CHECKING:  # pragma: no cover
    from ._options import Subscription
    from ._session import Session

__all__ = ["Ack", "Message", "MessageHandle"]


def _guid_hex(guid: Optional[bytes]) -> str:
    return guid.hex().upper() if guid else ""


class Message:
    """A message received from a queue opened for reading.

    Attributes:
        data (bytes): The payload.
        guid (bytes): The 16-byte unique id the broker gave the message.
        queue_uri (str): The queue the message came from.
        properties (dict): The message properties, name to value.
        property_types (dict): The type of each property, name to
            :class:`PropertyType` (same keys as ``properties``).
        subscription (Subscription | None): The subscription (the very
            object given in :class:`QueueOptions`) whose expression the
            message matched, or None if the queue has no subscriptions.

    Created by the SDK and passed to ``on_message``; constructing one
    raises :class:`~blazingmq.exceptions.Error`.  Its attributes are plain
    values and may be read from any thread.
    """

    # `_receiver`: the token of the session that received it, so that
    # another session refuses to confirm it.
    __slots__ = ("data", "guid", "queue_uri", "properties", "property_types", "subscription", "_receiver")

    data: bytes
    guid: bytes
    queue_uri: str
    properties: PropertyValueDict
    property_types: PropertyTypeDict
    subscription: Optional["Subscription"]
    _receiver: object

    def __init__(self) -> None:
        raise Error("The Message class does not have a public constructor.")

    def __repr__(self) -> str:
        return f"<Message[{_guid_hex(self.guid)}] for {self.queue_uri}>"


class MessageHandle:
    """Confirms the :class:`Message` it was delivered with.

    Passed as the second argument of ``on_message``.  ``confirm()`` may be
    called from any thread, including the callback itself.  Constructing
    one raises :class:`~blazingmq.exceptions.Error`.
    """

    __slots__ = ("_message", "_session")

    _message: Message
    _session: "Session"

    def __init__(self) -> None:
        raise Error("The MessageHandle class does not have a public constructor.")

    def confirm(self) -> None:
        """Tell the broker the message was processed, so it is not delivered
        again.  Same as ``session.confirm(message)``.

        Raises:
            ~blazingmq.exceptions.Error: The queue is not open or is closing, or libbmq
                refused.

        Thread safety: may be called from any thread, callbacks included.
        """
        # Session.confirm in one frame for the common case (a consumer calls
        # this once per message): the SDK made this message for this very
        # session, so only the session's and the queue's state need a check.
        # Anything unusual goes through Session.confirm, which raises the
        # precise error.
        session = self._session
        message = self._message
        queue = session._queues.get(message.queue_uri)
        if session._stopped or queue is None or queue.closing:
            session.confirm(message)
            return
        rc = session._handle.confirm(queue.slot, message.guid)
        if rc != 0:
            session._confirm_refused(message.guid, rc)

    def __repr__(self) -> str:
        message = self._message
        return f"<MessageHandle[{_guid_hex(message.guid)}] for {message.queue_uri}>"


class Ack:
    """The broker's answer to a post that asked for one (``on_ack``).

    Attributes:
        status (AckStatus): ``SUCCESS`` if the broker stored the message.
        guid (bytes | None): The message's 16-byte id on success, else None.
        queue_uri (str): The queue the message was posted to.

    Passed to the ``on_ack`` callback of :meth:`Session.post`, on the
    session's callback thread; constructing one raises
    :class:`~blazingmq.exceptions.Error`.
    """

    __slots__ = ("status", "guid", "queue_uri")

    status: AckStatus
    guid: Optional[bytes]
    queue_uri: str

    def __init__(self) -> None:
        raise Error("The Ack class does not have a public constructor.")

    def __repr__(self) -> str:
        if self.guid:
            return f"<Ack[{_guid_hex(self.guid)}] {self.status.name} for {self.queue_uri}>"
        return f"<Ack {self.status.name} for {self.queue_uri}>"
