"""pytest fixtures that run a real BlazingMQ broker.

Installing :mod:`blazingmq` registers this plugin with pytest (the
``pytest11`` entry point), so its fixtures are available in every test with
no set-up:

* ``bmq_broker``: a :class:`~blazingmq.testing.Broker` started once per test
  session on a free loopback port (in a temporary directory), stopped at
  the end.
* ``bmq_broker_uri``: its URI, e.g. ``tcp://127.0.0.1:41234``.
* ``bmq_queue_uri``: a queue URI in the ``bmq.test.mem.priority`` domain
  that no other test uses.  ``bmq_queue_uri_factory(domain)`` makes more,
  in any domain of :data:`blazingmq.testing.DOMAINS`.
* ``bmq_session``: a :class:`blazingmq.Session` connected to the broker,
  stopped after the test.  The messages of the queues it opens for reading
  go to ``bmq_received`` (they are not confirmed: call
  ``bmq_session.confirm(message)``); its session events go to
  :func:`blazingmq.session_events.log_session_event`.
* ``bmq_received``: a :class:`~blazingmq.testing.Received` collecting what
  ``bmq_session`` (or ``bmq_cluster_session``) receives;
  ``bmq_received.get(timeout=30)`` returns the next message.

A multi-node cluster, for the tests that ask for it only (it takes 5-10 s to
start, once per test session):

* ``bmq_cluster``: a :class:`~blazingmq.testing.Cluster` (4 nodes, 1 proxy)
  shared by the tests of the session.  Each test gets it healthy with every
  broker running: brokers a previous test stopped are started again, paused
  ones resumed.  When a test that uses it fails, the end of every broker's
  log is added to the report.
* ``bmq_cluster_uri``: the URI of its proxy.
* ``bmq_cluster_session``: a :class:`blazingmq.Session` connected to the
  proxy, like ``bmq_session``.

Example::

    def test_round_trip(bmq_session, bmq_queue_uri, bmq_received):
        bmq_session.open_queue(bmq_queue_uri, read=True, write=True)
        bmq_session.post(bmq_queue_uri, b"hello", properties={"n": 1})
        message = bmq_received.get()
        assert (message.data, message.properties) == (b"hello", {"n": 1})

With plugin autoloading disabled (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), load
it with ``-p blazingmq.testing.pytest_plugin`` or ``pytest_plugins =
["blazingmq.testing.pytest_plugin"]`` in a ``conftest.py`` (harmless when it
is already loaded: the entry point has the module's name).

Example with a cluster::

    def test_survives_a_leader_crash(bmq_cluster, bmq_cluster_session, bmq_queue_uri_factory, bmq_received):
        queue = bmq_queue_uri_factory("bmq.test.persistent.priority")
        bmq_cluster_session.open_queue(queue, read=True, write=True)
        bmq_cluster.kill(bmq_cluster.leader())
        bmq_cluster_session.post(queue, b"hello")
        assert bmq_received.get().data == b"hello"

When ``bmqbrkr.tsk`` cannot be found the broker fixtures fail (they never
skip): set ``BLAZINGMQ_BROKER`` to the folder that holds it.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable, Generator, Iterator

import pytest

import blazingmq

from ._broker import Broker, start_broker
from ._cluster import Cluster, start_cluster
from ._config import DOMAINS
from ._received import Received

_queue_numbers = itertools.count()


@pytest.fixture(scope="session")
def bmq_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker for the whole test session, stopped at the end."""
    with start_broker(tmp_path_factory.mktemp("bmqbrkr")) as broker:
        yield broker


@pytest.fixture(scope="session")
def bmq_broker_uri(bmq_broker: Broker) -> str:
    """The URI of :func:`bmq_broker`."""
    return bmq_broker.uri


@pytest.fixture
def bmq_queue_uri_factory(request: pytest.FixtureRequest) -> Callable[..., str]:
    """``bmq_queue_uri_factory(domain="bmq.test.mem.priority")``: a queue URI
    that no other test of this session uses (named after the test)."""
    test_name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:48]

    def make(domain: str = "bmq.test.mem.priority") -> str:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; the test broker has {sorted(DOMAINS)}")
        return f"bmq://{domain}/{test_name}-{next(_queue_numbers)}"

    return make


@pytest.fixture
def bmq_queue_uri(bmq_queue_uri_factory: Callable[..., str]) -> str:
    """A fresh queue URI in the ``bmq.test.mem.priority`` domain."""
    return bmq_queue_uri_factory()


@pytest.fixture
def bmq_received() -> Received:
    """The messages :func:`bmq_session` receives, in arrival order."""
    return Received()


def _session(broker_uri: str, received: Received) -> Iterator[blazingmq.Session]:
    session = blazingmq.Session(
        blazingmq.session_events.log_session_event,
        on_message=received.on_message,
        broker=broker_uri,
    )
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def bmq_session(bmq_broker_uri: str, bmq_received: Received) -> Iterator[blazingmq.Session]:
    """A session connected to the test broker, stopped after the test."""
    yield from _session(bmq_broker_uri, bmq_received)


@pytest.fixture(scope="session")
def _bmq_shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with start_cluster(directory=tmp_path_factory.mktemp("bmqcluster")) as cluster:
        yield cluster


@pytest.fixture
def bmq_cluster(_bmq_shared_cluster: Cluster) -> Cluster:
    """The cluster of the test session, healthy, with every broker running."""
    cluster = _bmq_shared_cluster
    for broker in cluster.brokers:
        if broker.paused:
            broker.resume()
        elif not broker.running:
            broker.start()
    cluster.wait_healthy()
    return cluster


@pytest.fixture(scope="session")
def bmq_cluster_uri(_bmq_shared_cluster: Cluster) -> str:
    """The URI of the proxy of :func:`bmq_cluster`."""
    return _bmq_shared_cluster.proxy_uri


@pytest.fixture
def bmq_cluster_session(
    bmq_cluster: Cluster, bmq_cluster_uri: str, bmq_received: Received
) -> Iterator[blazingmq.Session]:
    """A session connected to the proxy of :func:`bmq_cluster`, stopped
    after the test; what it receives goes to :func:`bmq_received`."""
    yield from _session(bmq_cluster_uri, bmq_received)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Adds the end of every broker's log to the report of a failed test
    that used :func:`bmq_cluster`."""
    outcome = yield
    report = outcome.get_result()
    cluster = getattr(item, "funcargs", {}).get("bmq_cluster")
    if report.failed and isinstance(cluster, Cluster):
        report.sections.append(("blazingmq cluster logs", cluster.log_tails()))
