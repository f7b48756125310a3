"""Failover on a real cluster (4 nodes in two data centers, a proxy): a
producer with ACKs and a consumer, both through the proxy, keep going while
brokers are killed, stopped, paused and restarted.

Each test runs one scenario under traffic (see ``failover_traffic.py`` for
the invariants checked after it: one ACK per post, every SUCCESS delivered,
order kept apart from duplicates, no post raising, no hang) and prints its
figures; the session's summary lists them all.  Every test uses the
session's shared cluster (``bmq_cluster``), which each test gets back
healthy with every broker running.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Dict

import pytest

import blazingmq
from blazingmq import AckStatus
from blazingmq.testing import Cluster
from failover_traffic import AHEAD, REPORTS, STEADY, Ledger, Pace, check, run_async, run_sync

PERSISTENT = "bmq.test.persistent.priority"
BETWEEN_STEPS = 500  # posts between two disruptions

RECONNECT = ["ConnectionLost", "Reconnected", "QueueReopened", "StateRestored"]


def _run(
    cluster: Cluster,
    queue: str,
    driver: str,
    pace: Pace,
    scenario: Callable[[Cluster, Ledger], None],
    title: str,
) -> Dict[str, Any]:
    run = run_sync if driver == "sync" else run_async
    began = time.monotonic()
    ledger = run(cluster, cluster.proxy_uri, queue, pace, functools.partial(scenario, cluster))
    figures = ledger.figures()
    figures = {"scenario": f"{title} ({driver}, {pace.name})", **figures}
    figures["seconds"] = round(time.monotonic() - began, 1)
    REPORTS.append(figures)
    print(f"\nfailover figures: {figures}")
    return check(cluster, ledger, figures)


def _more_posts(ledger: Ledger, count: int = BETWEEN_STEPS) -> None:
    ledger.wait_posted(len(ledger.post_times) + count)


def _no_reconnection(figures: Dict[str, Any]) -> None:
    """A failover behind the proxy is invisible to the application."""
    for role, events in figures["events"].items():
        assert "ConnectionLost" not in events, (role, events)


def kill_leader(times: int, cluster: Cluster, ledger: Ledger) -> None:
    for _ in range(times):
        _more_posts(ledger)
        leader = cluster.leader()
        ledger.step(f"SIGKILL leader {leader.name}")
        cluster.kill(leader)
        ledger.step(f"new leader {cluster.leader().name}")
        cluster.start(leader)
        cluster.wait_healthy()
        ledger.step(f"{leader.name} back, cluster healthy")
    _more_posts(ledger)


@pytest.mark.parametrize(
    "driver, pace, kills", [("sync", STEADY, 3), ("aio", AHEAD, 2)], ids=["sync-steady", "aio-ahead"]
)
def test_leader_killed_repeatedly(bmq_cluster, bmq_queue_uri_factory, driver, pace, kills):
    figures = _run(
        bmq_cluster,
        bmq_queue_uri_factory(PERSISTENT),
        driver,
        pace,
        functools.partial(kill_leader, kills),
        f"SIGKILL of the leader x{kills}",
    )
    _no_reconnection(figures)


def stop_leader(cluster: Cluster, ledger: Ledger) -> None:
    _more_posts(ledger)
    leader = cluster.leader()
    ledger.step(f"SIGTERM leader {leader.name}")
    cluster.stop(leader)
    ledger.step(f"{leader.name} stopped; new leader {cluster.leader().name}")
    cluster.start(leader)
    cluster.wait_healthy()
    ledger.step(f"{leader.name} back, cluster healthy")
    _more_posts(ledger)


def test_leader_stopped_gracefully(bmq_cluster, bmq_queue_uri_factory):
    figures = _run(
        bmq_cluster, bmq_queue_uri_factory(PERSISTENT), "aio", STEADY, stop_leader, "graceful stop of the leader"
    )
    _no_reconnection(figures)


def kill_proxy_node(cluster: Cluster, ledger: Ledger) -> None:
    _more_posts(ledger)
    node = cluster.active_node()
    assert node is not cluster.leader(), "the test wants the proxy's node to be a replica"
    ledger.step(f"SIGKILL {node.name}, the node the proxy uses")
    cluster.kill(node)
    ledger.step(f"proxy now uses {cluster.active_node().name}")
    _more_posts(ledger)
    cluster.start(node)
    cluster.wait_healthy()
    ledger.step(f"{node.name} back, cluster healthy")
    _more_posts(ledger)


def test_node_of_the_proxy_killed(bmq_cluster, bmq_queue_uri_factory):
    # The proxy (data center east) uses a node of its own data center: with
    # the leader in the other one, killing that node is not a leader kill.
    proxy = bmq_cluster.proxies[0]
    if bmq_cluster.leader().data_center == proxy.data_center:
        bmq_cluster.choose_leader(next(n for n in bmq_cluster.nodes if n.data_center != proxy.data_center))
    assert bmq_cluster.leader().data_center != proxy.data_center
    figures = _run(
        bmq_cluster,
        bmq_queue_uri_factory(PERSISTENT),
        "sync",
        AHEAD,
        kill_proxy_node,
        "SIGKILL of the node the proxy uses",
    )
    _no_reconnection(figures)


def kill_and_restart_proxy(cluster: Cluster, ledger: Ledger) -> None:
    _more_posts(ledger)
    proxy = cluster.proxies[0]
    ledger.step(f"SIGKILL proxy {proxy.name}")
    cluster.kill(proxy)
    time.sleep(2.0)  # posts meanwhile wait in libbmq
    cluster.start(proxy)
    ledger.step(f"proxy {proxy.name} restarted")
    _more_posts(ledger)


@pytest.mark.parametrize("driver, pace", [("sync", STEADY), ("aio", AHEAD)], ids=["sync-steady", "aio-ahead"])
def test_proxy_killed_and_restarted(bmq_cluster, bmq_queue_uri_factory, driver, pace):
    figures = _run(
        bmq_cluster,
        bmq_queue_uri_factory(PERSISTENT),
        driver,
        pace,
        kill_and_restart_proxy,
        "SIGKILL + restart of the proxy",
    )
    # The application sees the reconnection, and does nothing about it.
    for role, events in figures["events"].items():
        reconnection = [name for name in events if name in RECONNECT]
        assert reconnection == RECONNECT, (role, events)


def restart_cluster(cluster: Cluster, ledger: Ledger) -> None:
    _more_posts(ledger)
    ledger.step("every node stopped (SIGTERM) and started again")
    cluster.restart()
    ledger.step(f"cluster healthy, leader {cluster.leader().name}")
    _more_posts(ledger)


def test_whole_cluster_restarted(bmq_cluster, bmq_queue_uri_factory):
    _run(bmq_cluster, bmq_queue_uri_factory(PERSISTENT), "aio", STEADY, restart_cluster, "whole cluster restarted")


def pause_leader(cluster: Cluster, ledger: Ledger) -> None:
    _more_posts(ledger)
    leader = cluster.leader()
    ledger.step(f"SIGSTOP leader {leader.name} for {cluster.heartbeat_timeout + 3} s")
    cluster.pause(leader)
    time.sleep(cluster.heartbeat_timeout + 3)
    ledger.step(f"new leader {cluster.leader().name}; SIGCONT {leader.name}")
    cluster.resume(leader)
    cluster.wait_healthy()
    ledger.step("cluster healthy")
    _more_posts(ledger)


def test_leader_paused_longer_than_the_heartbeat_timeout(bmq_cluster, bmq_queue_uri_factory):
    figures = _run(
        bmq_cluster,
        bmq_queue_uri_factory(PERSISTENT),
        "sync",
        STEADY,
        pause_leader,
        "leader paused (SIGSTOP) past the heartbeat timeout",
    )
    _no_reconnection(figures)


def test_direct_connection_to_a_node_that_dies_and_comes_back(bmq_cluster, bmq_queue_uri_factory, collector):
    """Without a proxy, the application's session is connected to one node:
    when that node dies the session reports ConnectionLost, keeps every
    post (in flight, or made while the node is down) without raising or
    NACKing, reconnects when the node is back (Reconnected, QueueReopened,
    StateRestored) and retransmits them: all are acknowledged SUCCESS and
    delivered.  A consumer through the proxy notices nothing."""
    queue = bmq_queue_uri_factory(PERSISTENT)
    node = bmq_cluster.leader()  # so its death is a leader failover too
    events = collector()
    acks = collector()
    delivered = collector()
    timeline = {}

    def on_message(message, handle):
        delivered(int(message.data))
        handle.confirm()

    consumer_events = collector()
    with blazingmq.Session(consumer_events, on_message=on_message, broker=bmq_cluster.proxy_uri) as consumer:
        consumer.open_queue(queue, read=True)
        with blazingmq.Session(events, broker=node.uri) as session:
            session.open_queue(queue, write=True)
            for number in range(300):  # some are in flight when the node dies
                session.post(queue, b"%d" % number, on_ack=acks)
            killed = time.monotonic()
            bmq_cluster.kill(node)
            events.wait_for(lambda items: any(type(e).__name__ == "ConnectionLost" for e in items), 30)
            timeline["connection_lost_s"] = round(time.monotonic() - killed, 2)
            acked_before_restart = len(acks.items)
            for number in range(300, 400):  # buffered by libbmq while the node is down
                session.post(queue, b"%d" % number, on_ack=acks)
            time.sleep(1.0)
            down = [ack for ack in acks.items[acked_before_restart:]]
            bmq_cluster.start(node)
            restarted = time.monotonic()
            events.wait_for(lambda items: any(type(e).__name__ == "StateRestored" for e in items), 60)
            timeline["state_restored_after_restart_s"] = round(time.monotonic() - restarted, 2)
            acks.wait_count(400, 60)
        delivered.wait_for(lambda items: set(items) >= set(range(400)), 60)
        time.sleep(0.5)
    statuses = [ack.status for ack in acks.items]
    figures = {
        "scenario": "direct connection to the leader, SIGKILLed and restarted (sync)",
        "posted": 400,
        "acks": {status.name: statuses.count(status) for status in set(statuses)},
        "acked_while_down": len(down),
        "delivered": len(set(delivered.items)),
        "duplicates": len(delivered.items) - len(set(delivered.items)),
        "events": {
            "producer": [type(e).__name__ for e in events.items],
            "consumer": [type(e).__name__ for e in consumer_events.items],
        },
        **timeline,
    }
    print(f"\ndirect connection figures: {figures}")
    REPORTS.append(figures)
    assert statuses == [AckStatus.SUCCESS] * 400
    assert all(ack.status is AckStatus.SUCCESS for ack in down)  # no NACK while the node is down
    assert [name for name in figures["events"]["producer"] if name != "Connected" and name != "Disconnected"] == (
        RECONNECT
    )
    assert "ConnectionLost" not in figures["events"]["consumer"]
