"""Helpers for testing programs that use :mod:`blazingmq`.

* :func:`start_broker` runs a real ``bmqbrkr.tsk`` on a free loopback port.
* :func:`start_cluster` runs a real multi-node cluster with a proxy in front
  of it, and kills, pauses and restarts its brokers (leader failover).
* :mod:`blazingmq.testing.pytest_plugin` wraps them in pytest fixtures
  (``bmq_broker``, ``bmq_broker_uri``, ``bmq_queue_uri``, ``bmq_session``,
  ``bmq_received``; ``bmq_cluster``, ``bmq_cluster_uri``,
  ``bmq_cluster_session``); installing the package registers it with pytest.
* :class:`Received` collects what a session's ``on_message`` gets, for a
  test to wait on.
* :class:`HostHealth` is :class:`blazingmq.BasicHealthMonitor`, under the
  name the existing SDK's testing module uses.
"""

from .._monitors import BasicHealthMonitor as HostHealth
from ._broker import (
    BROKER_ENV_VAR,
    DEFAULT_BROKER_DIR,
    Broker,
    BrokerError,
    find_broker_executable,
    start_broker,
)
from ._cluster import CLUSTER_NAME, Cluster, ClusterError, start_cluster
from ._config import DOMAINS, FANOUT_APP_IDS, basic_authentication
from ._received import Received

__all__ = [
    "BROKER_ENV_VAR",
    "CLUSTER_NAME",
    "DEFAULT_BROKER_DIR",
    "DOMAINS",
    "FANOUT_APP_IDS",
    "Broker",
    "BrokerError",
    "Cluster",
    "ClusterError",
    "HostHealth",
    "Received",
    "basic_authentication",
    "find_broker_executable",
    "start_broker",
    "start_cluster",
]
