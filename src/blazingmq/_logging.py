"""Forwards libbmq's log records to Python :mod:`logging`.

Records arrive from the C++ layer's queue (see ``src/cpp/bmqpy_log.h``) and
are handled by the logger ``blazingmq._ext`` as records named
``blazingmq.<category>``, so ``logging.getLogger("blazingmq._ext")`` controls
them.  Only INFO and above leave C++.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Optional

from . import _ext

__all__ = ["start_log_forwarding"]

_LOGGER_NAME = "blazingmq._ext"
_logger = logging.getLogger(_LOGGER_NAME)
_take_log_records = _ext.take_log_records
_reset_log_bridge_after_fork = _ext.reset_log_bridge_after_fork
_lock = threading.Lock()
_thread: Optional[threading.Thread] = None


def _python_level(ball_severity: int) -> int:
    # BALL: FATAL 32, ERROR 64, WARN 96, INFO 128, DEBUG 160, TRACE 192.
    if ball_severity <= 32:
        return logging.CRITICAL
    if ball_severity <= 64:
        return logging.ERROR
    if ball_severity <= 96:
        return logging.WARNING
    if ball_severity <= 128:
        return logging.INFO
    return logging.DEBUG


def _forward_forever() -> None:
    while True:
        records, dropped = _take_log_records(0.5)
        if dropped:
            _emit("blazingmq", logging.WARNING, f"{dropped} libbmq log records were dropped", "", 0)
        for category, severity, message, file_name, line in records:
            _emit(f"blazingmq.{category}", _python_level(severity), message, file_name, line)


def _emit(name: str, level: int, message: str, file_name: str, line: int) -> None:
    if not _logger.isEnabledFor(level):
        return
    try:
        record = logging.LogRecord(name, level, file_name, line, message, None, None)
        _logger.handle(record)
    except Exception:
        # A failing handler is reported, never fatal to the forwarder.
        try:
            print("Failed to log a libbmq record:", file=sys.stderr)
            import traceback

            traceback.print_exc(file=sys.stderr)
        except Exception:  # pragma: no cover
            pass


def _forget_thread_in_child() -> None:
    # Threads do not survive fork(): a session made in the child starts a
    # new forwarder, on a new queue.
    global _thread
    _thread = None
    _reset_log_bridge_after_fork()


os.register_at_fork(after_in_child=_forget_thread_in_child)


def start_log_forwarding() -> None:
    """Install the log bridge and start the forwarding thread, once."""
    global _thread
    with _lock:
        if _thread is not None:
            return
        _ext.install_log_bridge()
        _thread = threading.Thread(target=_forward_forever, name="blazingmq-log", daemon=True)
        _thread.start()
