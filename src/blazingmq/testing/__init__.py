"""Helpers for testing programs that use :mod:`blazingmq`.

* :func:`start_broker` runs a real ``bmqbrkr.tsk`` on a free loopback port.
* :mod:`blazingmq.testing.pytest_plugin` wraps it in pytest fixtures
  (``bmq_broker``, ``bmq_broker_uri``, ``bmq_queue_uri``, ``bmq_session``,
  ``bmq_received``); installing the package registers it with pytest.
* :class:`Received` collects what a session's ``on_message`` gets, for a
  test to wait on.
* :class:`HostHealth` is :class:`blazingmq.BasicHealthMonitor`, under the
  name the existing SDK's testing module uses.
"""

from .._monitors import BasicHealthMonitor as HostHealth
from ._broker import (
    BROKER_ENV_VAR,
    DEFAULT_BROKER_DIR,
    DOMAINS,
    FANOUT_APP_IDS,
    Broker,
    BrokerError,
    basic_authentication,
    find_broker_executable,
    start_broker,
)
from ._received import Received

__all__ = [
    "BROKER_ENV_VAR",
    "DEFAULT_BROKER_DIR",
    "DOMAINS",
    "FANOUT_APP_IDS",
    "Broker",
    "BrokerError",
    "HostHealth",
    "Received",
    "basic_authentication",
    "find_broker_executable",
    "start_broker",
]
