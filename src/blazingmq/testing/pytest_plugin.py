"""pytest fixtures that run a real BlazingMQ broker.

Enable them in a ``conftest.py``::

    pytest_plugins = ["blazingmq.testing.pytest_plugin"]

then ask for ``bmq_broker`` (a :class:`~blazingmq.testing.Broker`, started
once per test session) or ``bmq_broker_uri`` (its URI)::

    def test_round_trip(bmq_broker_uri):
        with blazingmq.Session(print, broker=bmq_broker_uri) as session:
            ...

When ``bmqbrkr.tsk`` cannot be found the fixtures fail (they never skip):
set ``BLAZINGMQ_BROKER`` to the folder that holds it.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from ._broker import Broker, start_broker


@pytest.fixture(scope="session")
def bmq_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker for the whole test session, stopped at the end."""
    with start_broker(tmp_path_factory.mktemp("bmqbrkr")) as broker:
        yield broker


@pytest.fixture(scope="session")
def bmq_broker_uri(bmq_broker: Broker) -> str:
    """The URI of :func:`bmq_broker`."""
    return bmq_broker.uri
