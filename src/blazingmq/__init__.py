"""The Python SDK for BlazingMQ, built on libbmq (the C++ SDK)."""

from . import exceptions, session_events
from ._enums import AckStatus, CompressionAlgorithmType, PropertyType
from ._messages import Ack, Message, MessageHandle
from ._monitors import BasicHealthMonitor
from ._options import QueueOptions, SessionOptions, Subscription, Timeouts
from ._session import Session
from ._stats import SessionStats
from ._typing import PropertyTypeDict, PropertyValueDict
from ._version import __version__
from .exceptions import Error

__all__ = [
    "Ack",
    "AckStatus",
    "BasicHealthMonitor",
    "CompressionAlgorithmType",
    "Error",
    "PropertyType",
    "PropertyTypeDict",
    "PropertyValueDict",
    "QueueOptions",
    "Message",
    "MessageHandle",
    "Session",
    "SessionOptions",
    "SessionStats",
    "Subscription",
    "Timeouts",
    "__version__",
    "exceptions",
    "session_events",
]
