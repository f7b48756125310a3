"""Enumerations of the public API."""

from __future__ import annotations

import enum
from typing import Dict

__all__ = ["AckStatus", "CompressionAlgorithmType", "PropertyType"]


class _ShortReprEnum(enum.Enum):
    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}>"


class AckStatus(_ShortReprEnum):
    """The outcome of a post, as reported by :class:`blazingmq.Ack`.

    ``SUCCESS`` means the broker stored the message; every other member is a
    failure (a NACK), e.g. ``NOT_CONNECTED`` or ``CANCELED`` for the ACKs
    still outstanding when a queue is closed.  ``UNRECOGNIZED`` stands for
    any status code that this version of the SDK does not know.
    ``LIMIT_MESSAGES``/``LIMIT_BYTES`` also cover libbmq's per-queue limits.
    """

    SUCCESS = 0
    UNKNOWN = -1
    TIMEOUT = -2
    NOT_CONNECTED = -3
    CANCELED = -4
    NOT_SUPPORTED = -5
    REFUSED = -6
    INVALID_ARGUMENT = -7
    NOT_READY = -8
    LIMIT_MESSAGES = -100
    LIMIT_BYTES = -101
    STORAGE_FAILURE = -104
    UNRECOGNIZED = 1


# libbmq ACK result codes -> AckStatus.  libbmq also reports the per-queue
# limits (-102, -103); the existing SDK maps them to LIMIT_MESSAGES and
# LIMIT_BYTES, and so do we.
ACK_STATUS_BY_CODE: Dict[int, AckStatus] = {
    status.value: status for status in AckStatus if status is not AckStatus.UNRECOGNIZED
}
ACK_STATUS_BY_CODE[-102] = AckStatus.LIMIT_MESSAGES
ACK_STATUS_BY_CODE[-103] = AckStatus.LIMIT_BYTES


def ack_status_from_code(code: int) -> AckStatus:
    """The :class:`AckStatus` of a libbmq ACK result code; ``UNRECOGNIZED``
    for a code this SDK does not know (libbmq may add codes)."""
    return ACK_STATUS_BY_CODE.get(code, AckStatus.UNRECOGNIZED)


class CompressionAlgorithmType(_ShortReprEnum):
    """How posted payloads are compressed on the wire: ``NONE`` or ``ZLIB``.

    Set once per session (``Session(message_compression_algorithm=...)``);
    consumers decompress transparently.
    """

    NONE = 0
    ZLIB = 1


class PropertyType(_ShortReprEnum):
    """The wire type of a message property.

    Received values become ``bool`` (BOOL), ``bytes`` of length 1 (CHAR),
    ``int`` (SHORT, INT32, INT64), ``str`` (STRING) or ``bytes`` (BINARY).
    When posting, types are inferred (``bool`` -> BOOL, ``int`` -> INT64,
    ``str`` -> STRING, ``bytes`` -> BINARY); ``property_type_overrides``
    picks another one.
    """

    BOOL = 1
    CHAR = 2
    SHORT = 3
    INT32 = 4
    INT64 = 5
    STRING = 6
    BINARY = 7


PROPERTY_TYPE_BY_CODE: Dict[int, PropertyType] = {t.value: t for t in PropertyType}
