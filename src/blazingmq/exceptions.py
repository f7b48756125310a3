"""Exceptions raised by :mod:`blazingmq`."""

__all__ = ["Error", "BrokerTimeoutError", "BandwidthLimitError"]


class Error(Exception):
    """The base class of every error that :mod:`blazingmq` raises on purpose.

    Also exported as ``blazingmq.Error``.  Its message says what failed,
    usually with libbmq's result name (e.g. ``Failed to open <uri> queue:
    INVALID_URI: ...``).  Not to be confused with the session event
    :class:`blazingmq.session_events.Error`.
    """


class BrokerTimeoutError(Error):
    """The broker did not answer an operation (connect, open, configure,
    close) within its timeout."""


class BandwidthLimitError(Error):
    """The channel to the broker stayed full (``BW_LIMIT``) for longer than the
    session's ``channel_write_timeout``; or, for a post with ``on_ack``, the
    session's ``max_unacked_posts`` or ``max_unacked_bytes`` stayed reached
    that long.

    Raised by :meth:`blazingmq.Session.post`; the message was not sent.
    """
