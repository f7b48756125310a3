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
  ``bmq_session`` receives; ``bmq_received.get(timeout=30)`` returns the
  next message.

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

When ``bmqbrkr.tsk`` cannot be found the broker fixtures fail (they never
skip): set ``BLAZINGMQ_BROKER`` to the folder that holds it.
"""

from __future__ import annotations

import itertools
import re
from typing import Callable, Iterator

import pytest

import blazingmq

from ._broker import DOMAINS, Broker, start_broker
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


@pytest.fixture
def bmq_session(bmq_broker_uri: str, bmq_received: Received) -> Iterator[blazingmq.Session]:
    """A session connected to the test broker, stopped after the test."""
    session = blazingmq.Session(
        blazingmq.session_events.log_session_event,
        on_message=bmq_received.on_message,
        broker=bmq_broker_uri,
    )
    try:
        yield session
    finally:
        session.stop()
