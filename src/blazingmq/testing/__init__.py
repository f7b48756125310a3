"""Helpers for testing programs that use :mod:`blazingmq`.

* :func:`start_broker` runs a real ``bmqbrkr.tsk`` on a free loopback port.
* :mod:`blazingmq.testing.pytest_plugin` wraps it in pytest fixtures; enable
  it with ``pytest_plugins = ["blazingmq.testing.pytest_plugin"]`` in your
  ``conftest.py``.
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

__all__ = [
    "BROKER_ENV_VAR",
    "DEFAULT_BROKER_DIR",
    "DOMAINS",
    "FANOUT_APP_IDS",
    "Broker",
    "BrokerError",
    "HostHealth",
    "basic_authentication",
    "find_broker_executable",
    "start_broker",
]
