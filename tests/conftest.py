"""Shared fixtures: a real broker for the whole run (``bmq_broker`` from
``blazingmq.testing.pytest_plugin``, loaded by its entry point), fresh queue URIs, and collectors that
let a test wait for what libbmq threads deliver."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

import blazingmq
import failover_traffic
from blazingmq.testing import Broker, start_broker

# The broker fixtures come from blazingmq's own pytest plugin, which the
# installed package registers (entry point `pytest11`); pytester tests it.
pytest_plugins = ["pytester"]

_queue_numbers = itertools.count()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker for one test, which the test may pause, kill or restart."""
    with start_broker(tmp_path / "broker") as broker:
        yield broker


@contextlib.contextmanager
def paused(broker: Broker) -> Iterator[None]:
    """The broker stopped with SIGSTOP for the block (it keeps its sockets
    and answers nothing), then resumed.  The block starts once every thread
    of the broker has stopped (:meth:`Broker.pause`)."""
    broker.pause()
    try:
        yield
    finally:
        broker.resume()


def assert_at_most_the_interrupted_callback_failed(stderr: str) -> None:
    """A session stopped while ``on_message`` runs (by ``stop()`` or at
    exit): messages not yet handed over are dropped, so only the callback
    running when ``stop()`` began can fail, once, and only because its
    confirm is refused with the stopped error (the session counts as stopped
    as soon as ``stop()`` begins, as in the existing SDK)."""
    assert stderr.count("Traceback") <= 1, stderr[-5000:]
    if "Traceback" in stderr:
        assert "Error: Method called after session was stopped" in stderr, stderr[-5000:]


class Collector:
    """Collects what a callback receives, on any thread, and waits for it."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self._condition = threading.Condition()

    def __call__(self, *args: Any) -> None:
        with self._condition:
            self.items.append(args[0] if len(args) == 1 else args)
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[List[Any]], bool], timeout: float = 10.0) -> List[Any]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate(self.items):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s; collected: {self.items!r}")
                self._condition.wait(remaining)
            return list(self.items)

    def wait_count(self, count: int, timeout: float = 10.0) -> List[Any]:
        return self.wait_for(lambda items: len(items) >= count, timeout)


@pytest.fixture
def collector() -> Callable[[], Collector]:
    return Collector


@pytest.fixture
def queue_uri(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``queue_uri(domain)``: a queue URI no other test uses."""

    def make(domain: str = "bmq.test.mem.priority") -> str:
        name = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
        return f"bmq://{domain}/{name[:40]}_{next(_queue_numbers)}"

    return make


@pytest.fixture
def session_factory(bmq_broker_uri: str) -> Iterator[Callable[..., blazingmq.Session]]:
    """Creates sessions on the test broker and stops them after the test."""
    sessions: List[blazingmq.Session] = []

    def make(on_session_event: Any = None, **kwargs: Any) -> blazingmq.Session:
        kwargs.setdefault("broker", bmq_broker_uri)
        session = blazingmq.Session(on_session_event or (lambda event: None), **kwargs)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures of the failover scenarios that ran (tests/test_failover.py)."""
    if failover_traffic.REPORTS:
        terminalreporter.section("failover figures")
        for figures in failover_traffic.REPORTS:
            terminalreporter.write_line(failover_traffic.summary(figures))
