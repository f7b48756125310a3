"""A BlazingMQ cluster on one machine, for tests: several ``bmqbrkr.tsk``
nodes that replicate every message, and proxies in front of them.

Each node and proxy is a :class:`~blazingmq.testing.Broker` on its own free
loopback port, with its own working directory (configuration, logs,
storage) under the cluster's directory.  The nodes' state (leader,
partition primaries, which peers they see) comes from the broker's admin
command ``CLUSTERS CLUSTER <name> STATUS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple, Union

from ._broker import Broker, BrokerError, _free_ports, find_broker_executable
from ._config import (
    CLUSTER_HEARTBEAT_INTERVAL_MS,
    CLUSTER_HEARTBEATS_MISSED,
    NodeAddress,
    write_cluster_node_config,
    write_proxy_config,
)

__all__ = ["CLUSTER_NAME", "Cluster", "ClusterError", "start_cluster"]

#: The name of the test cluster (the ``location`` of its domains).
CLUSTER_NAME = "testCluster"

_DATA_CENTERS = ("east", "west")
# A node's description in the broker's answers: "[east1, 2]".
_NODE_DESCRIPTION = re.compile(r"^\[\s*([^,\]]+?)\s*,\s*(-?\d+)\s*\]$")
# How long one status question may take (a node being killed or starting
# may not answer).
_STATUS_TIMEOUT = 3.0
_POLL_INTERVAL = 0.25
# Elector quorums that make one node win the next election: it needs only
# its own vote, the others can never gather theirs.
_QUORUM_WIN = 1
_QUORUM_NEVER = 100
_QUORUM_MAJORITY = 0  # the configured value: a majority of the nodes

BrokerRef = Union[str, Broker]


class ClusterError(BrokerError):
    """A cluster (or one of its brokers) did not start, or did not become
    healthy in time; the message names what is missing and shows the end
    of every broker's log."""


@dataclass(frozen=True)
class _NodeView:
    """What one node says about the cluster."""

    leader: Optional[str]  # the node it follows (or is), once ACTIVE
    primaries: Tuple[Tuple[Optional[str], str], ...]  # per partition: (node, status)
    peers: FrozenSet[str]  # the other nodes it is connected to


def _node_name(description: Any) -> Optional[str]:
    match = _NODE_DESCRIPTION.match(str(description or ""))
    return match.group(1) if match and int(match.group(2)) >= 0 else None


def _find(document: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in a JSON document."""
    if isinstance(document, dict):
        if key in document:
            return document[key]
        values: Any = document.values()
    elif isinstance(document, list):
        values = document
    else:
        return None
    for value in values:
        found = _find(value, key)
        if found is not None:
            return found
    return None


class Cluster:
    """A running test cluster: its nodes and the proxies in front of them;
    see :func:`start_cluster`.

    Methods that take a ``node`` accept a :class:`Broker` of this cluster or
    its name (nodes and proxies alike).  A broker stopped or killed here
    stays stopped until :meth:`start`; :meth:`wait_healthy` then waits for
    the cluster to take it back.

    Attributes:
        name (str): The cluster's name (:data:`CLUSTER_NAME`).
        directory (Path): Holds one folder per broker, named after it.
        nodes (tuple[Broker, ...]): The cluster's nodes, e.g. ``east1``,
            ``east2``, ``west1``, ``west2`` (data centers ``east`` and
            ``west``).
        proxies (tuple[Broker, ...]): The proxies, ``eastp`` then
            ``westp``, ``eastp2``...: applications connect to these.
        heartbeat_timeout (float): Seconds without a heartbeat after which
            a broker gives a peer up (closes the channel to it; the nodes
            elect a new leader when it was the leader).
    """

    def __init__(self, executable: Path, directory: Path, nodes: int = 4, proxies: int = 1) -> None:
        self.name = CLUSTER_NAME
        self.directory = directory
        self.heartbeat_timeout = CLUSTER_HEARTBEATS_MISSED * CLUSTER_HEARTBEAT_INTERVAL_MS / 1000
        ports = _free_ports(nodes + proxies)
        addresses = sorted(
            (
                NodeAddress(
                    id=index + 1,
                    name=f"{_DATA_CENTERS[index % 2]}{index // 2 + 1}",
                    data_center=_DATA_CENTERS[index % 2],
                    port=ports[index],
                )
                for index in range(nodes)
            ),
            key=lambda address: address.name,
        )
        self.nodes: Tuple[Broker, ...] = tuple(
            Broker(
                executable,
                directory / address.name,
                address.port,
                name=address.name,
                data_center=address.data_center,
                etc=write_cluster_node_config(directory / address.name, self.name, addresses, address),
            )
            for address in addresses
        )
        proxy_list = []
        for index in range(proxies):
            data_center = _DATA_CENTERS[index % 2]
            name = f"{data_center}p" + (str(index // 2 + 1) if index >= 2 else "")
            port = ports[nodes + index]
            etc = write_proxy_config(directory / name, self.name, addresses, name, data_center, port)
            proxy_list.append(Broker(executable, directory / name, port, name=name, data_center=data_center, etc=etc))
        self.proxies: Tuple[Broker, ...] = tuple(proxy_list)

    # -- looking brokers up ------------------------------------------------

    @property
    def proxy_uri(self) -> str:
        """The URI of the first proxy, which applications connect to."""
        if not self.proxies:
            raise ClusterError("this cluster has no proxy; connect to a node (cluster.nodes[i].uri)")
        return self.proxies[0].uri

    @property
    def proxy_uris(self) -> Tuple[str, ...]:
        """The URIs of every proxy."""
        return tuple(proxy.uri for proxy in self.proxies)

    @property
    def brokers(self) -> Tuple[Broker, ...]:
        """The nodes, then the proxies."""
        return self.nodes + self.proxies

    def node(self, name: str) -> Broker:
        """The node or proxy called ``name``.

        Raises:
            TypeError: ``name`` is not a string.
            ValueError: There is none of that name.
        """
        if not isinstance(name, str):
            raise TypeError(f"a broker's name must be a str, not {type(name).__name__!r}")
        for broker in self.brokers:
            if broker.name == name:
                return broker
        raise ValueError(f"no broker named {name!r} in this cluster; it has {[b.name for b in self.brokers]}")

    def _resolve(self, node: BrokerRef) -> Broker:
        if isinstance(node, Broker):
            if not any(node is broker for broker in self.brokers):
                raise ValueError(f"{node!r} is not a broker of this cluster")
            return node
        if isinstance(node, str):
            return self.node(node)
        raise TypeError(f"expected a Broker of this cluster or its name, not {type(node).__name__!r}")

    def _resolve_node(self, node: BrokerRef) -> Broker:
        broker = self._resolve(node)
        if broker not in self.nodes:
            raise ValueError(f"{broker.name} is a proxy, not a node of the cluster")
        return broker

    # -- acting on one broker ----------------------------------------------

    def kill(self, node: BrokerRef) -> None:
        """SIGKILL a node or proxy (a crash); its storage stays."""
        self._resolve(node).kill()

    def stop(self, node: BrokerRef, grace: float = 30.0) -> None:
        """Stop a node or proxy gracefully (SIGTERM; SIGKILL after
        ``grace`` seconds)."""
        self._resolve(node).stop(grace)

    def start(self, node: BrokerRef, timeout: float = 30.0) -> None:
        """Start a stopped or killed node or proxy again (same port,
        configuration and storage) and wait until it accepts connections;
        :meth:`wait_healthy` waits for the cluster to take it back.

        Raises:
            BrokerError: It did not start; the message points at its logs.
        """
        self._resolve(node).start(timeout)

    def pause(self, node: BrokerRef) -> None:
        """Stop a node or proxy with SIGSTOP (a hung host: it keeps its
        connections and answers nothing) until :meth:`resume`."""
        self._resolve(node).pause()

    def resume(self, node: BrokerRef) -> None:
        """Continue a node or proxy stopped by :meth:`pause`."""
        self._resolve(node).resume()

    # -- the whole cluster -------------------------------------------------

    def restart(self, graceful: bool = True, timeout: float = 90.0) -> None:
        """Stop every node (SIGTERM, or SIGKILL when not ``graceful``),
        start them all again and wait until the cluster is healthy.  The
        proxies keep running.

        Raises:
            ClusterError: It did not become healthy within ``timeout``
                seconds.
        """
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if graceful:
                node.begin_stop()
            else:
                node.kill()
        for node in self.nodes:
            node.wait_stopped(30.0)
        self._launch(self.nodes, deadline)
        self.wait_healthy(max(0.0, deadline - time.monotonic()))

    def shutdown(self, grace: float = 30.0) -> None:
        """Stop every broker: the proxies, then the nodes (SIGTERM, SIGKILL
        after ``grace`` seconds)."""
        for group in (self.proxies, self.nodes):
            for broker in group:
                broker.begin_stop()
            for broker in group:
                broker.wait_stopped(grace)

    def _launch(self, brokers: Sequence[Broker], deadline: float) -> None:
        """Start ``brokers`` in parallel and wait until each accepts
        connections."""
        for broker in brokers:
            if not broker.running:
                broker.launch()
        for broker in brokers:
            broker.wait_started(max(0.1, deadline - time.monotonic()))

    # -- what the nodes say ------------------------------------------------

    def status(self, node: BrokerRef, timeout: float = _STATUS_TIMEOUT) -> Dict[str, Any]:
        """What a node (``clusterStatus``) or a proxy
        (``clusterProxyStatus``) says about the cluster: the broker's answer
        to ``CLUSTERS CLUSTER <name> STATUS``, decoded from JSON.  A proxy
        knows the cluster once a client has opened a queue through it.

        Raises:
            BrokerError: The broker is not running, did not answer within
                ``timeout`` seconds, or answered with an error.
        """
        broker = self._resolve(node)
        text = broker.admin(f"ENCODING JSON_COMPACT CLUSTERS CLUSTER {self.name} STATUS", timeout)
        try:
            answer: Dict[str, Any] = json.loads(text)
        except ValueError:
            raise BrokerError(f"broker {broker.name} answered the status command with {text[:500]!r}") from None
        if _find(answer, "clusterStatus") is None and _find(answer, "clusterProxyStatus") is None:
            raise BrokerError(f"broker {broker.name} has no status for cluster {self.name}: {text[:500]}")
        return answer

    def _view(self, node: Broker) -> _NodeView:
        status = _find(self.status(node), "clusterStatus")
        elector = status.get("electorInfo", {})
        leader = _node_name(elector.get("leaderNode")) if elector.get("leaderStatus") == "ACTIVE" else None
        partitions = (status.get("partitionsInfo") or {}).get("partitions") or []
        primaries = tuple((_node_name(p.get("primaryNode")), str(p.get("primaryStatus"))) for p in partitions)
        peers = frozenset(
            name
            for info in (status.get("nodeStatuses") or {}).get("nodes") or []
            if info.get("isAvailable") and info.get("status") == "E_AVAILABLE"
            for name in [_node_name(info.get("description"))]
            if name is not None and name != node.name
        )
        return _NodeView(leader, primaries, peers)

    def _awake_nodes(self) -> List[Broker]:
        return [node for node in self.nodes if node.running and not node.paused]

    def _leader_problems(self) -> Tuple[Optional[Broker], List[str], Dict[str, _NodeView]]:
        """The leader every awake node agrees on, or what is wrong."""
        awake = self._awake_nodes()
        if not awake:
            return None, ["no node is running"], {}
        views: Dict[str, _NodeView] = {}
        problems: List[str] = []
        for node in awake:
            try:
                views[node.name] = self._view(node)
            except BrokerError as error:
                problems.append(str(error))
        leaders = {view.leader for view in views.values()}
        if problems:
            return None, problems, views
        if len(leaders) != 1 or None in leaders:
            described = ", ".join(f"{name}: {view.leader or 'none'}" for name, view in sorted(views.items()))
            return None, [f"the nodes do not agree on an active leader ({described})"], views
        leader_name = leaders.pop()
        assert leader_name is not None
        leader = next((node for node in awake if node.name == leader_name), None)
        if leader is None:
            return None, [f"the nodes follow {leader_name}, which is not running"], views
        return leader, [], views

    def leader(self, timeout: float = 30.0) -> Broker:
        """The node that every running node follows as the active leader
        (also the primary of every partition), waiting up to ``timeout``
        seconds for the nodes to agree on one.

        Raises:
            ClusterError: They did not agree in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            leader, problems, _ = self._leader_problems()
            if leader is not None:
                return leader
            if time.monotonic() > deadline:
                raise ClusterError(self._describe_failure(f"no active leader within {timeout} s", problems))
            time.sleep(_POLL_INTERVAL)

    def active_node(self, proxy: Optional[BrokerRef] = None, timeout: float = 30.0) -> Broker:
        """The node that ``proxy`` (default: the first proxy) sends its
        traffic through.  A proxy connects to the cluster when a client first
        opens a queue through it: this waits until then (up to ``timeout``
        seconds).

        Raises:
            ClusterError: The proxy named no running node in time.
        """
        broker = self._resolve(proxy) if proxy is not None else self.proxies[0] if self.proxies else None
        if broker is None or broker in self.nodes:
            raise ValueError("active_node() needs a proxy of this cluster")
        deadline = time.monotonic() + timeout
        problem = ""
        while True:
            try:
                status = _find(self.status(broker), "clusterProxyStatus")
                name = _node_name(status.get("activeNodeDescription")) if status else None
                if name is not None:
                    node = self.node(name)
                    if node.running and not node.paused:
                        return node
                problem = f"{broker.name} uses no running node ({name or 'none'})"
            except BrokerError as error:
                problem = str(error)
            if time.monotonic() > deadline:
                raise ClusterError(self._describe_failure(f"no active node within {timeout} s", [problem]))
            time.sleep(_POLL_INTERVAL)

    def _health_problems(self) -> List[str]:
        leader, problems, views = self._leader_problems()
        if leader is None:
            return problems
        awake = {node.name for node in self._awake_nodes()}
        for name, view in sorted(views.items()):
            if not view.primaries:
                problems.append(f"{name} knows no partition")
            for partition, (primary, status) in enumerate(view.primaries):
                if primary != leader.name or status != "ACTIVE":
                    problems.append(f"{name}: partition {partition} has primary {primary} ({status})")
            missing = awake - view.peers - {name}
            if missing:
                problems.append(f"{name} is not connected to {', '.join(sorted(missing))}")
        for proxy in self.proxies:
            if proxy.running and not proxy.paused:
                try:
                    socket.create_connection(("127.0.0.1", proxy.port), 1.0).close()
                except OSError as error:
                    problems.append(f"proxy {proxy.name} does not accept connections: {error}")
        return problems

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Wait until the cluster is healthy: every running node follows
        the same active leader, sees it as the active primary of every
        partition and is connected to every other running node, and every
        running proxy accepts connections.  Paused brokers are left out.

        A node restarted after a kill is usually back in 1-3 s, sometimes
        up to 30 s: its peers reconnect to it with a back-off built into
        the broker.

        Raises:
            ClusterError: Not healthy within ``timeout`` seconds; the
                message says what is missing and shows every broker's log.
        """
        deadline = time.monotonic() + timeout
        while True:
            problems = self._health_problems()
            if not problems:
                return
            if time.monotonic() > deadline:
                raise ClusterError(self._describe_failure(f"the cluster is not healthy after {timeout} s", problems))
            time.sleep(_POLL_INTERVAL)

    def choose_leader(self, node: BrokerRef, timeout: float = 90.0) -> None:
        """Make ``node`` the leader (and so the primary of every partition),
        for deterministic tests, and wait until the cluster is healthy.

        When another node leads, that one is stopped gracefully while only
        ``node`` can win the election (elector quorums: 1 on ``node``, 100
        on the others), then started again; the quorums are set back to a
        majority afterwards.  Clients through a proxy see no session event.

        Raises:
            ClusterError: The cluster did not settle within ``timeout``
                seconds.
        """
        chosen = self._resolve_node(node)
        deadline = time.monotonic() + timeout
        current = self.leader(timeout)
        if current is chosen:
            return
        try:
            self._set_quorums(chosen)
            current.stop()
            while True:
                leader, problems, _ = self._leader_problems()
                if leader is chosen:
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(
                        self._describe_failure(f"{chosen.name} did not become the leader in {timeout} s", problems)
                    )
                time.sleep(_POLL_INTERVAL)
            current.start(max(1.0, deadline - time.monotonic()))
        finally:
            self._set_quorums(None)
        self.wait_healthy(max(1.0, deadline - time.monotonic()))

    def _set_quorums(self, winner: Optional[Broker]) -> None:
        """Let only ``winner`` win the next election (None: any node, by
        majority) on every running node."""
        for node in self._awake_nodes():
            quorum = _QUORUM_MAJORITY if winner is None else _QUORUM_WIN if node is winner else _QUORUM_NEVER
            node.admin(f"CLUSTERS CLUSTER {self.name} STATE ELECTOR SET quorum {quorum}")

    # -- reporting -----------------------------------------------------------

    def log_tails(self, lines: int = 15) -> str:
        """The last ``lines`` records of every broker's log, for a report."""
        parts = []
        for broker in self.brokers:
            state = "paused" if broker.paused else "running" if broker.running else "stopped"
            logs = broker.directory / "logs"
            parts.append(f"--- {broker.name} ({state}, {broker.uri}, logs in {logs}) ---\n{broker.log_tail(lines)}")
        return "\n".join(parts)

    def _describe_failure(self, what: str, problems: Sequence[str]) -> str:
        listed = "".join(f"\n  - {problem}" for problem in problems)
        return f"cluster {self.name} in {self.directory}: {what}:{listed}\n{self.log_tails()}"

    def __repr__(self) -> str:
        return f"<Cluster {self.name}: {', '.join(repr(broker) for broker in self.brokers)}>"

    def __enter__(self) -> "Cluster":
        """Return the cluster itself."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Call :meth:`shutdown`."""
        self.shutdown()


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__!r}")
    count = int(value)
    if count < minimum:
        raise ValueError(f"{name} must be at least {minimum}, was {count}")
    return count


@contextlib.contextmanager
def start_cluster(
    nodes: int = 4,
    proxies: int = 1,
    directory: "Optional[Union[str, os.PathLike[str]]]" = None,
    timeout: float = 90.0,
    leader: Optional[str] = None,
) -> Iterator[Cluster]:
    """Start a BlazingMQ cluster and its proxies for the duration of a
    ``with`` block.

    ``nodes`` nodes (default 4: ``east1``, ``east2``, ``west1``, ``west2``,
    in two data centers) replicate every message of the file-backed domains
    to a majority of them before it is acknowledged (strong consistency);
    ``proxies`` proxies (default 1, ``eastp``) front them, and are what
    applications connect to (:attr:`Cluster.proxy_uri`).  Every broker runs
    on a free loopback port with its own configuration, logs and storage in
    a folder of ``directory`` (default: a temporary directory, removed
    afterwards).  The domains are those of :func:`start_broker`
    (:data:`DOMAINS`); the in-memory ones live on the leader only and are
    eventually consistent.

    The block starts once the cluster is healthy (:meth:`Cluster.wait_healthy`):
    5-10 s for 4 nodes and a proxy on two cores, about 130 MB of memory.
    ``leader`` (a node's name) makes that node win the first election.
    Every broker is stopped afterwards, and also when the process that
    started them dies (parent-death signal).

    Example::

        with start_cluster() as cluster:
            with blazingmq.Session(print, broker=cluster.proxy_uri) as session:
                ...
                cluster.kill(cluster.leader())

    Raises:
        BrokerError: ``bmqbrkr.tsk`` was not found (see
            :func:`find_broker_executable`).
        ClusterError: A broker did not start, or the cluster did not become
            healthy within ``timeout`` seconds; the message names the broker
            and shows every broker's log.
    """
    _check_count("nodes", nodes, 1)
    _check_count("proxies", proxies, 0)
    if leader is not None and not isinstance(leader, str):
        raise TypeError(f"leader must be a node's name (str), not {type(leader).__name__!r}")
    executable = find_broker_executable()
    owned = directory is None
    path = Path(tempfile.mkdtemp(prefix="bmqcluster-")) if directory is None else Path(directory)
    try:
        cluster = Cluster(executable, path, nodes, proxies)
        chosen = cluster._resolve_node(leader) if leader is not None else None
        try:
            _bring_up(cluster, timeout, chosen)
            yield cluster
        finally:
            cluster.shutdown()
    finally:
        if owned:
            shutil.rmtree(path, ignore_errors=True)


def _bring_up(cluster: Cluster, timeout: float, leader: Optional[Broker]) -> None:
    deadline = time.monotonic() + timeout
    try:
        cluster._launch(cluster.nodes, deadline)
        if leader is not None:
            # Before the first election (initialWaitTimeoutMs, 4 s at least).
            cluster._set_quorums(leader)
            while cluster._leader_problems()[0] is not leader:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        cluster._describe_failure(f"{leader.name} did not become the leader in {timeout} s", [])
                    )
                time.sleep(_POLL_INTERVAL)
            cluster._set_quorums(None)
        cluster._launch(cluster.proxies, deadline)
        cluster.wait_healthy(max(0.0, deadline - time.monotonic()))
    except ClusterError:
        raise
    except BrokerError as error:
        raise ClusterError(f"{error}\n{cluster.log_tails()}") from None
