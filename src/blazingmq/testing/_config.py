"""The configuration files of a test broker: a standalone broker's, and
those of the nodes and proxies of a cluster.

A broker reads ``etc/bmqbrkrcfg.json`` (the process: ports, threads, logs),
``etc/clusters.json`` (the clusters it is a node of), one
``etc/proxyclusters/<cluster>.json`` per cluster it fronts as a proxy, and
one ``etc/domains/<domain>.json`` per domain (whose ``location`` names the
cluster that holds the domain's queues).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

__all__ = [
    "DOMAINS",
    "FANOUT_APP_IDS",
    "NodeAddress",
    "basic_authentication",
    "write_config",
    "write_cluster_node_config",
    "write_proxy_config",
]

_MIB = 1024 * 1024

#: The domains of the test broker: name -> (mode, storage, limits).
#: ``mode`` is "priority", "fanout" (app ids foo, bar, baz) or "broadcast".
DOMAINS: Dict[str, Dict[str, Any]] = {
    "bmq.test.mem.priority": {"mode": "priority", "storage": "inMemory"},
    "bmq.test.persistent.priority": {"mode": "priority", "storage": "fileBacked"},
    "bmq.test.mem.fanout": {"mode": "fanout", "storage": "inMemory"},
    "bmq.test.persistent.fanout": {"mode": "fanout", "storage": "fileBacked"},
    "bmq.test.mem.broadcast": {"mode": "broadcast", "storage": "inMemory"},
    # The domain of the user guide's examples.
    "bmq.tutorial.workqueue": {"mode": "priority", "storage": "fileBacked"},
    # Each queue holds at most 3 messages: the broker NACKs (LIMIT_MESSAGES)
    # posts beyond them, so that tests can get a NACK on demand.  (The
    # broker refuses a message once it holds more than the limit: a limit
    # of 2 holds 3.)
    "bmq.test.mem.limited": {"mode": "priority", "storage": "inMemory", "queue_messages": 2},
    # Large limits, so benchmarks can fill a queue with millions of messages;
    # a one-second deduplication window, because the broker keeps every
    # message (payload included) for that long after it is confirmed: with
    # the default five minutes, a benchmark run grew the broker by gigabytes.
    "bmq.bench.mem.priority": {
        "mode": "priority",
        "storage": "inMemory",
        "messages": 20_000_000,
        "bytes": 16 * 1024 * _MIB,
        "deduplication_ms": 1000,
    },
}

#: The app ids of the fanout domains.
FANOUT_APP_IDS = ("foo", "bar", "baz")


@dataclass(frozen=True)
class NodeAddress:
    """A node of a cluster as the other brokers know it."""

    id: int
    name: str
    data_center: str
    port: int

    def definition(self) -> Dict[str, Any]:
        """Its entry in a cluster definition.  The endpoint's port must be
        the node's own TCP port: that is how a broker finds itself among the
        nodes."""
        return {
            "id": self.id,
            "name": self.name,
            "dataCenter": self.data_center,
            "transport": {"tcp": {"endpoint": f"tcp://localhost:{self.port}"}},
        }


def basic_authentication(users: Dict[str, str], allow_anonymous: bool = False) -> Dict[str, Any]:
    """An ``authentication`` configuration for :func:`start_broker`: the
    broker's built-in ``BasicAuthenticator`` (mechanism ``BASIC``, data
    ``b"user:password"``) knowing ``users`` (name -> password); clients that
    send no credential are refused unless ``allow_anonymous``."""
    config: Dict[str, Any] = {
        "authenticators": [
            {
                "name": "BasicAuthenticator",
                "settings": [{"key": user, "value": {"stringVal": password}} for user, password in users.items()],
            }
        ]
    }
    if not allow_anonymous:
        config["anonymousCredential"] = {"disallow": {}}
    return config


# -- what every broker has -------------------------------------------------


def _broker_config(
    directory: Path,
    port: int,
    host_name: str,
    data_center: str,
    heartbeat_interval_ms: int,
    broker_heartbeats: int,
    authentication: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    logs = directory / "logs"
    processor = {"queueSizeLowWatermark": 100000, "queueSizeHighWatermark": 200000, "queueSize": 500000}
    config: Dict[str, Any] = {
        "taskConfig": {
            # NEWDELETE is the fast allocator; COUNTING adds bookkeeping.
            "allocatorType": "NEWDELETE",
            "allocationLimit": 34359738368,
            "logController": {
                "fileName": str(logs / "logs.%T.%p"),
                "fileMaxAgeDays": 1,
                "rotationBytes": 268435456,
                "logfileFormat": "%d (%t) %s %F:%l %m\n\n",
                "consoleFormat": "%d (%t) %s %F:%l %m\n",
                "loggingVerbosity": "INFO",
                "consoleSeverityThreshold": "WARN",
                "categories": ["BMQBRKR:INFO:green", "BMQ*:INFO:green", "MQB*:INFO:green"],
                "syslog": {"enabled": False, "appName": "BMQ", "logFormat": "%d %m\n", "verbosity": ""},
            },
        },
        "appConfig": {
            "brokerInstanceName": "default",
            "brokerVersion": 999999,
            "configVersion": 999999,
            "etcDir": str(directory / "etc"),
            "hostName": host_name,
            "hostTags": "standalone",
            "hostDataCenter": data_center,
            "logsObserverMaxSize": 1000,
            "dispatcherConfig": {
                "sessions": {"numProcessors": 2, "processorConfig": processor},
                "queues": {"numProcessors": 2, "processorConfig": processor},
                "clusters": {"numProcessors": 1, "processorConfig": processor},
            },
            "stats": {
                "snapshotInterval": 1,
                "printer": {
                    "printInterval": 60,
                    "file": str(logs / "stat.%T.%p"),
                    "maxAgeDays": 1,
                    "rotateBytes": 268435456,
                    "rotateDays": 1,
                },
            },
            "networkInterfaces": {
                # Missed heartbeats (one per `heartbeatIntervalMs`) before a
                # channel is closed, by the kind of peer.
                "heartbeats": {
                    "client": 10,
                    "downstreamBroker": broker_heartbeats,
                    "upstreamBroker": broker_heartbeats,
                    "clusterPeer": broker_heartbeats,
                },
                "tcpInterface": {
                    "name": "TCPInterface",
                    "port": port,
                    "ioThreads": 2,
                    "maxConnections": 10000,
                    "lowWatermark": 4194304,
                    "highWatermark": 1073741824,
                    "nodeLowWatermark": 5242880,
                    "nodeHighWatermark": 10485760,
                    "heartbeatIntervalMs": heartbeat_interval_ms,
                    # Loopback only: tests never listen on other addresses.
                    "listeners": [{"name": "loopback", "address": "127.0.0.1", "port": port}],
                },
            },
            "bmqconfConfig": {"cacheTTLSeconds": 30},
        },
    }
    if authentication is not None:
        config["appConfig"]["authentication"] = authentication
    return config


def _domain_config(spec: Dict[str, Any], location: str, strong: bool) -> Dict[str, Any]:
    mode = spec["mode"]
    mode_config: Dict[str, Any] = {mode: {}}
    if mode == "fanout":
        mode_config = {"fanout": {"appIDs": list(FANOUT_APP_IDS)}}
    size = spec.get("bytes", 1024 * _MIB)
    messages = spec.get("messages", 1_000_000)
    watermarks = {"bytesWatermarkRatio": 0.8, "messagesWatermarkRatio": 0.8}
    queue_messages = spec.get("queue_messages", messages)
    return {
        "definition": {
            "location": location,
            "parameters": {
                "maxDeliveryAttempts": 0,
                "deduplicationTimeMs": spec.get("deduplication_ms", 300_000),  # the broker's usual 5 minutes
                # Strong: a message is acknowledged once a majority of the
                # cluster's nodes has it.
                "consistency": {"strong": {}} if strong else {"eventual": {}},
                "storage": {
                    "config": {spec["storage"]: {}},
                    "domainLimits": {"bytes": size, "messages": messages, **watermarks},
                    "queueLimits": {"bytes": size, "messages": queue_messages, **watermarks},
                },
                "messageTtl": 3600,
                "maxProducers": 0,
                "maxConsumers": 0,
                "maxQueues": 0,
                "maxIdleTime": 0,
                "mode": mode_config,
            },
        }
    }


# What a cluster's nodes and the proxies in front of it share.
_QUEUE_OPERATIONS = {
    "ackWindowSize": 500,
    "assignmentTimeoutMs": 15000,
    "closeTimeoutMs": 300000,
    "configureTimeoutMs": 300000,
    "consumptionMonitorPeriodMs": 30000,
    "keepaliveDurationMs": 1800000,
    "openTimeoutMs": 300000,
    "reopenMaxAttempts": 10,
    "reopenRetryIntervalMs": 5000,
    "reopenTimeoutMs": 43200000,
    "shutdownTimeoutMs": 20000,
    "stopTimeoutMs": 10000,
}
_CLUSTER_MONITOR = {
    "maxTimeLeader": 60,
    "maxTimeMaster": 120,
    "maxTimeNode": 120,
    "maxTimeFailover": 240,
    "thresholdLeader": 30,
    "thresholdMaster": 60,
    "thresholdNode": 60,
    "thresholdFailover": 120,
}
_MESSAGE_THROTTLE = {"lowThreshold": 2, "highThreshold": 4, "lowInterval": 1000, "highInterval": 3000}


def _write(
    directory: Path,
    broker: Dict[str, Any],
    my_clusters: List[Dict[str, Any]],
    proxy_clusters: List[Dict[str, Any]],
    domain_location: str,
    strong_file_backed: bool,
) -> Path:
    etc = directory / "etc"
    for path in (etc / "domains", directory / "logs", directory / "storage" / "archive"):
        path.mkdir(parents=True, exist_ok=True)
    (etc / "bmqbrkrcfg.json").write_text(json.dumps(broker, indent=2))
    (etc / "clusters.json").write_text(json.dumps({"myClusters": my_clusters, "proxyClusters": []}, indent=2))
    if proxy_clusters:
        (etc / "proxyclusters").mkdir(exist_ok=True)
        for proxy_cluster in proxy_clusters:
            (etc / "proxyclusters" / f"{proxy_cluster['name']}.json").write_text(json.dumps(proxy_cluster, indent=2))
    for name, spec in DOMAINS.items():
        strong = strong_file_backed and spec["storage"] == "fileBacked"
        domain = _domain_config(spec, domain_location, strong)
        (etc / "domains" / f"{name}.json").write_text(json.dumps(domain, indent=2))
    return etc


def _partition_config(storage: Path, **settings: Any) -> Dict[str, Any]:
    return {
        "flushAtShutdown": True,
        "location": str(storage),
        "maxArchivedFileSets": 0,
        "preallocate": False,
        "prefaultPages": False,
        "archiveLocation": str(storage / "archive"),
        **settings,
    }


# -- a standalone broker ---------------------------------------------------


def write_config(directory: Path, port: int, authentication: Optional[Dict[str, Any]] = None) -> Path:
    """Write a single-node broker configuration listening on
    ``127.0.0.1:port`` into ``directory/etc``; logs and storage go to
    ``directory/logs`` and ``directory/storage``.  ``authentication`` is
    the broker's ``appConfig.authentication`` (see
    :func:`basic_authentication`); by default every client is accepted
    anonymously.  Return the ``etc`` path."""
    broker = _broker_config(directory, port, "localhost", "UNSPECIFIED", 3000, 10, authentication)
    cluster = {
        "name": "local",
        "clusterAttributes": {"isCSLModeEnabled": False, "isFSMWorkflow": False},
        "nodes": [NodeAddress(0, "localhost", "UNSPECIFIED", port).definition()],
        "partitionConfig": _partition_config(
            directory / "storage",
            maxDataFileSize=268435456,
            maxJournalFileSize=67108864,
            maxQlistFileSize=8388608,
            maxCSLFileSize=8388608,
            numPartitions=1,
            # Nothing to synchronize with: a single node.
            syncConfig={
                "fileChunkSize": 0,
                "masterSyncMaxDurationMs": 0,
                "maxAttemptsStorageSync": 0,
                "partitionSyncDataReqTimeoutMs": 0,
                "partitionSyncEventSize": 0,
                "partitionSyncStateReqTimeoutMs": 0,
                "startupRecoveryMaxDurationMs": 0,
                "startupWaitDurationMs": 0,
                "storageSyncReqTimeoutMs": 0,
            },
        ),
        "masterAssignment": "E_LEADER_IS_MASTER_ALL",
        # A single node elects itself; short waits make that quick.
        "elector": {
            "electionResultTimeoutMs": 1000,
            "heartbeatBroadcastPeriodMs": 2000,
            "heartbeatCheckPeriodMs": 1000,
            "heartbeatMissCount": 10,
            "initialWaitTimeoutMs": 100,
            "leaderSyncDelayMs": 80000,
            "maxRandomWaitTimeoutMs": 100,
            "quorum": 0,
        },
        "queueOperations": _QUEUE_OPERATIONS,
        "clusterMonitorConfig": _CLUSTER_MONITOR,
        "messageThrottleConfig": _MESSAGE_THROTTLE,
    }
    return _write(directory, broker, [cluster], [], "local", strong_file_backed=False)


# -- the nodes and proxies of a cluster ------------------------------------

#: Channels between brokers send a heartbeat every second and are closed
#: after this many are missed; the elector declares its leader gone after
#: as many missed heartbeats of its own.
CLUSTER_HEARTBEATS_MISSED = 5
CLUSTER_HEARTBEAT_INTERVAL_MS = 1000


def _cluster_definition(name: str, nodes: Sequence[NodeAddress], storage: Path) -> Dict[str, Any]:
    return {
        "name": name,
        # FSM mode (the two go together): a new leader syncs its partitions
        # at once instead of waiting `leaderSyncDelayMs` out (25-80 s).
        "clusterAttributes": {"isCSLModeEnabled": True, "isFSMWorkflow": True, "doesFSMwriteQLIST": True},
        "nodes": [node.definition() for node in nodes],
        "partitionConfig": _partition_config(
            storage,
            # The sizes of BlazingMQ's own integration tests (small enough
            # for several nodes on one disk).
            maxDataFileSize=64 * _MIB,
            maxJournalFileSize=16 * _MIB,
            maxQlistFileSize=2 * _MIB,
            maxCSLFileSize=16 * _MIB,
            numPartitions=4,
            # Not zero: with zeros, primary sync times out at once in a
            # multi-node cluster, the leader stays PASSIVE and the broker
            # panics.  These are the integration tests' values.
            syncConfig={
                "startupRecoveryMaxDurationMs": 20000,
                "maxAttemptsStorageSync": 2,
                "storageSyncReqTimeoutMs": 10000,
                "masterSyncMaxDurationMs": 10000,
                "partitionSyncStateReqTimeoutMs": 10000,
                "partitionSyncDataReqTimeoutMs": 10000,
                "startupWaitDurationMs": 5000,
                "fileChunkSize": 4 * _MIB,
                "partitionSyncEventSize": 4 * _MIB,
            },
        ),
        # The only algorithm the broker implements: the leader is the
        # primary of every partition.
        "masterAssignment": "E_LEADER_IS_MASTER_ALL",
        "elector": {
            "initialWaitTimeoutMs": 4000,
            "maxRandomWaitTimeoutMs": 3000,
            "scoutingResultTimeoutMs": 4000,
            "electionResultTimeoutMs": 3000,
            "heartbeatBroadcastPeriodMs": CLUSTER_HEARTBEAT_INTERVAL_MS,
            "heartbeatCheckPeriodMs": CLUSTER_HEARTBEAT_INTERVAL_MS,
            "heartbeatMissCount": CLUSTER_HEARTBEATS_MISSED,
            "leaderSyncDelayMs": 15000,
            # 0: a majority of the nodes.
            "quorum": 0,
        },
        "queueOperations": _QUEUE_OPERATIONS,
        "clusterMonitorConfig": _CLUSTER_MONITOR,
        "messageThrottleConfig": _MESSAGE_THROTTLE,
    }


def write_cluster_node_config(directory: Path, cluster: str, nodes: Sequence[NodeAddress], node: NodeAddress) -> Path:
    """Write the configuration of ``node``, one of the ``nodes`` of the
    cluster named ``cluster``, into ``directory/etc``: file-backed domains
    with strong consistency, in-memory ones eventual.  Return the ``etc``
    path."""
    broker = _broker_config(
        directory,
        node.port,
        node.name,
        node.data_center,
        CLUSTER_HEARTBEAT_INTERVAL_MS,
        CLUSTER_HEARTBEATS_MISSED,
        None,
    )
    definition = _cluster_definition(cluster, nodes, directory / "storage")
    return _write(directory, broker, [definition], [], cluster, strong_file_backed=True)


def write_proxy_config(
    directory: Path, cluster: str, nodes: Sequence[NodeAddress], name: str, data_center: str, port: int
) -> Path:
    """Write the configuration of a proxy named ``name`` listening on
    ``port`` in front of the cluster ``cluster`` (whose ``nodes`` it
    connects to, preferring those of its own ``data_center``).  Return the
    ``etc`` path."""
    broker = _broker_config(
        directory, port, name, data_center, CLUSTER_HEARTBEAT_INTERVAL_MS, CLUSTER_HEARTBEATS_MISSED, None
    )
    proxy_cluster = {
        "name": cluster,
        "nodes": [node.definition() for node in nodes],
        "queueOperations": _QUEUE_OPERATIONS,
        "clusterMonitorConfig": _CLUSTER_MONITOR,
        "messageThrottleConfig": _MESSAGE_THROTTLE,
    }
    return _write(directory, broker, [], [proxy_cluster], cluster, strong_file_backed=True)
