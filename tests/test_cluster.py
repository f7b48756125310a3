"""The cluster helper of ``blazingmq.testing``: ``start_cluster``, the
``Cluster`` it returns and the ``bmq_cluster`` fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import pytest

import blazingmq
from blazingmq import AckStatus
from blazingmq.testing import CLUSTER_NAME, BrokerError, ClusterError, start_cluster

PERSISTENT = "bmq.test.persistent.priority"


def test_the_cluster_has_nodes_in_two_data_centers_a_proxy_and_a_leader(bmq_cluster):
    assert [node.name for node in bmq_cluster.nodes] == ["east1", "east2", "west1", "west2"]
    assert [node.data_center for node in bmq_cluster.nodes] == ["east", "east", "west", "west"]
    assert [proxy.name for proxy in bmq_cluster.proxies] == ["eastp"]
    assert bmq_cluster.proxy_uri == bmq_cluster.proxies[0].uri == bmq_cluster.proxy_uris[0]
    assert len({broker.port for broker in bmq_cluster.brokers}) == 5
    assert len({broker.directory for broker in bmq_cluster.brokers}) == 5
    leader = bmq_cluster.leader()
    assert leader in bmq_cluster.nodes
    for node in bmq_cluster.nodes:
        status = bmq_cluster.status(node)["clusterStatus"]
        assert status["electorInfo"]["leaderNode"].startswith(f"[{leader.name},")
        assert status["electorInfo"]["leaderStatus"] == "ACTIVE"
        partitions = status["partitionsInfo"]["partitions"]
        assert partitions and all(p["primaryStatus"] == "ACTIVE" for p in partitions)
    assert bmq_cluster.node("west2") is bmq_cluster.nodes[3]
    assert bmq_cluster.node("eastp") is bmq_cluster.proxies[0]


def test_every_broker_has_its_own_configuration(bmq_cluster):
    for broker in bmq_cluster.brokers:
        config = json.loads((broker.etc / "bmqbrkrcfg.json").read_text())
        assert config["appConfig"]["hostName"] == broker.name
        assert config["appConfig"]["networkInterfaces"]["tcpInterface"]["port"] == broker.port
        domain = json.loads((broker.etc / "domains" / f"{PERSISTENT}.json").read_text())["definition"]
        assert domain["location"] == CLUSTER_NAME
        assert domain["parameters"]["consistency"] == {"strong": {}}
        memory = json.loads((broker.etc / "domains" / "bmq.test.mem.priority.json").read_text())["definition"]
        assert memory["parameters"]["consistency"] == {"eventual": {}}
        clusters = json.loads((broker.etc / "clusters.json").read_text())
        if broker in bmq_cluster.proxies:
            assert clusters["myClusters"] == []
            assert (broker.etc / "proxyclusters" / f"{CLUSTER_NAME}.json").is_file()
        else:
            (definition,) = clusters["myClusters"]
            endpoints = {node["name"]: node["transport"]["tcp"]["endpoint"] for node in definition["nodes"]}
            assert endpoints[broker.name] == f"tcp://localhost:{broker.port}"


def test_bad_names_and_arguments_are_refused(bmq_cluster):
    with pytest.raises(ValueError, match="no broker named 'north1'.*east1"):
        bmq_cluster.node("north1")
    with pytest.raises(TypeError, match="a broker's name must be a str"):
        bmq_cluster.node(1)
    with pytest.raises(TypeError, match="expected a Broker of this cluster or its name"):
        bmq_cluster.kill(3)
    with pytest.raises(ValueError, match="eastp is a proxy"):
        bmq_cluster.choose_leader("eastp")
    with pytest.raises(TypeError, match="nodes must be an int"):
        with start_cluster(nodes="4"):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="nodes must be at least 1, was 0"):
        with start_cluster(nodes=0):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="proxies must be at least 0, was -1"):
        with start_cluster(proxies=-1):
            pass  # pragma: no cover


def test_round_trip_through_the_proxy(
    bmq_cluster, bmq_cluster_session, bmq_queue_uri_factory, bmq_received, collector
):
    queue = bmq_queue_uri_factory(PERSISTENT)
    acks = collector()
    bmq_cluster_session.open_queue(queue, read=True, write=True)
    bmq_cluster_session.post(queue, b"through the proxy", properties={"n": 1}, on_ack=acks)
    message = bmq_received.get()
    assert (message.data, message.properties) == (b"through the proxy", {"n": 1})
    bmq_cluster_session.confirm(message)
    assert [ack.status for ack in acks.wait_count(1)] == [AckStatus.SUCCESS]
    # The proxy in data center east goes through a node of its own data center.
    assert bmq_cluster.active_node().data_center == "east"


def test_choose_leader(bmq_cluster):
    others = [node for node in bmq_cluster.nodes if node is not bmq_cluster.leader()]
    chosen = others[-1]
    bmq_cluster.choose_leader(chosen.name)
    assert bmq_cluster.leader() is chosen
    bmq_cluster.choose_leader(chosen)  # already the leader: nothing to do
    assert bmq_cluster.leader() is chosen
    assert all(node.running for node in bmq_cluster.nodes)


def test_a_node_that_does_not_start_is_named_with_its_log(tmp_path):
    """A small cluster of its own (one node, no proxy): a node whose
    configuration is broken names itself and its log; a cluster without a
    running node is not healthy, and says why, with every broker's log."""
    with start_cluster(nodes=1, proxies=0, directory=tmp_path / "c") as cluster:
        (node,) = cluster.nodes
        assert cluster.leader() is node
        with pytest.raises(ClusterError, match="this cluster has no proxy"):
            cluster.proxy_uri
        cluster.stop(node)
        with pytest.raises(ClusterError, match=r"(?s)not healthy after 0.5 s.*no node is running.*--- east1 \(stopped"):
            cluster.wait_healthy(timeout=0.5)
        (node.etc / "bmqbrkrcfg.json").write_text("{ not json")
        with pytest.raises(BrokerError, match=f"(?s)broker east1 .*exited with status.*{node.directory}"):
            cluster.start(node, timeout=20)
    assert not node.running


_CRASHING_CLUSTER = """
import os, sys
from blazingmq.testing import start_cluster
with start_cluster(nodes=3, proxies=2, directory=sys.argv[1], leader="west1") as cluster:
    print(cluster.leader().name, *[broker.pid for broker in cluster.brokers], flush=True)
    os._exit(1)  # a crash: no teardown runs
"""


def test_the_cluster_dies_with_the_process_that_started_it(tmp_path):
    """Also: three nodes, two proxies (one per data center) and a chosen
    first leader."""
    result = subprocess.run(
        [sys.executable, "-c", _CRASHING_CLUSTER, str(tmp_path / "c")], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 1, result.stderr
    leader, *pids = result.stdout.split()
    assert leader == "west1"
    assert len(pids) == 5
    assert sorted(path.name for path in (tmp_path / "c").iterdir()) == ["east1", "east2", "eastp", "west1", "westp"]
    deadline = time.monotonic() + 30
    for pid in map(int, pids):
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, f"broker {pid} outlived the process that started it"
            time.sleep(0.1)


def test_a_broker_restarted_from_a_short_lived_thread_keeps_running(bmq_cluster):
    """The parent-death signal is tied to the thread that starts a broker;
    brokers are started from a thread that lives as long as the process."""
    proxy = bmq_cluster.proxies[0]
    bmq_cluster.kill(proxy)
    thread = threading.Thread(target=bmq_cluster.start, args=(proxy,))
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    time.sleep(1.0)  # the signal would have come by now
    assert proxy.running
    with blazingmq.Session(lambda e: None, broker=bmq_cluster.proxy_uri):
        pass
