"""A real BlazingMQ broker (``bmqbrkr.tsk``) for tests and local development.

The broker runs as a child process on a free loopback port, with a
single-node configuration written into a temporary directory that holds its
logs and storage too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

__all__ = [
    "BROKER_ENV_VAR",
    "DEFAULT_BROKER_DIR",
    "Broker",
    "basic_authentication",
    "BrokerError",
    "DOMAINS",
    "find_broker_executable",
    "start_broker",
]

#: The environment variable naming the folder (or the file) of ``bmqbrkr.tsk``.
BROKER_ENV_VAR = "BLAZINGMQ_BROKER"
#: Where the broker is looked for when the variable is not set.
DEFAULT_BROKER_DIR = "/opt/bmq/bin"

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


class BrokerError(RuntimeError):
    """The broker could not be found, started or stopped."""


def find_broker_executable() -> Path:
    """The path of ``bmqbrkr.tsk``: from ``$BLAZINGMQ_BROKER`` (a folder or
    the file itself), else from ``/opt/bmq/bin``.

    Raises:
        BrokerError: It is not there.
    """
    configured = os.environ.get(BROKER_ENV_VAR)
    location = Path(configured or DEFAULT_BROKER_DIR)
    candidate = location / "bmqbrkr.tsk" if location.is_dir() else location
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        source = f"${BROKER_ENV_VAR}={configured}" if configured else f"the default {DEFAULT_BROKER_DIR}"
        raise BrokerError(
            f"bmqbrkr.tsk not found at {candidate} (from {source}); build BlazingMQ and "
            f"set {BROKER_ENV_VAR} to the folder that holds bmqbrkr.tsk"
        )
    return candidate


#: Run by a fresh interpreter between ``fork`` and the broker's ``exec``: asks
#: Linux to SIGTERM the broker when the thread that started it dies, so that a
#: crashed test run leaves no broker behind, then execs the broker (the
#: request survives ``exec``). This is not a ``preexec_fn``: Python code run
#: in the child of a multithreaded process (libbmq's threads, a producer
#: thread) can deadlock on a lock that another thread held at ``fork`` (the
#: dynamic loader's, say, which ctypes needs), and a CI run hung there,
#: restarting the broker while a session was producing.
_EXEC_WITH_PARENT_DEATH_SIGNAL = """
import os, signal, sys
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except Exception:
    pass  # not Linux: best effort only
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the parent died before the request: nobody would stop the broker
os.execv(sys.argv[2], sys.argv[2:])
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _domain_config(
    mode: str, storage: str, messages: int, size: int, deduplication_ms: int, queue_messages: int
) -> Dict[str, Any]:
    mode_config: Dict[str, Any] = {mode: {}}
    if mode == "fanout":
        mode_config = {"fanout": {"appIDs": list(FANOUT_APP_IDS)}}
    limits = {"bytesWatermarkRatio": 0.8, "messagesWatermarkRatio": 0.8}
    return {
        "definition": {
            "location": "local",
            "parameters": {
                "maxDeliveryAttempts": 0,
                "deduplicationTimeMs": deduplication_ms,
                "consistency": {"eventual": {}},
                "storage": {
                    "config": {storage: {}},
                    "domainLimits": {"bytes": size, "messages": messages, **limits},
                    "queueLimits": {"bytes": size, "messages": queue_messages, **limits},
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


def write_config(directory: Path, port: int, authentication: Optional[Dict[str, Any]] = None) -> Path:
    """Write a single-node broker configuration listening on
    ``127.0.0.1:port`` into ``directory/etc``; logs and storage go to
    ``directory/logs`` and ``directory/storage``.  ``authentication`` is
    the broker's ``appConfig.authentication`` (see
    :func:`basic_authentication`); by default every client is accepted
    anonymously.  Return the ``etc`` path."""
    etc = directory / "etc"
    logs = directory / "logs"
    storage = directory / "storage"
    for path in (etc / "domains", logs, storage / "archive"):
        path.mkdir(parents=True, exist_ok=True)
    processor = {"queueSizeLowWatermark": 100000, "queueSizeHighWatermark": 200000, "queueSize": 500000}
    broker = {
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
            "etcDir": str(etc),
            "hostName": "localhost",
            "hostTags": "standalone",
            "hostDataCenter": "UNSPECIFIED",
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
                "heartbeats": {"client": 10, "downstreamBroker": 10, "upstreamBroker": 10, "clusterPeer": 10},
                "tcpInterface": {
                    "name": "TCPInterface",
                    "port": port,
                    "ioThreads": 2,
                    "maxConnections": 10000,
                    "lowWatermark": 4194304,
                    "highWatermark": 1073741824,
                    "nodeLowWatermark": 5242880,
                    "nodeHighWatermark": 10485760,
                    "heartbeatIntervalMs": 3000,
                    # Loopback only: tests never listen on other addresses.
                    "listeners": [{"name": "loopback", "address": "127.0.0.1", "port": port}],
                },
            },
            "bmqconfConfig": {"cacheTTLSeconds": 30},
        },
    }
    cluster = {
        "myClusters": [
            {
                "name": "local",
                "clusterAttributes": {"isCSLModeEnabled": False, "isFSMWorkflow": False},
                "nodes": [
                    {
                        "id": 0,
                        "dataCenter": "UNSPECIFIED",
                        "name": "localhost",
                        # Must be the TCP interface's port: that is how the
                        # broker finds itself in its cluster.
                        "transport": {"tcp": {"endpoint": f"tcp://localhost:{port}"}},
                    }
                ],
                "partitionConfig": {
                    "flushAtShutdown": True,
                    "location": str(storage),
                    "maxArchivedFileSets": 0,
                    "maxDataFileSize": 268435456,
                    "maxJournalFileSize": 67108864,
                    "maxQlistFileSize": 8388608,
                    "maxCSLFileSize": 8388608,
                    "numPartitions": 1,
                    "preallocate": False,
                    "prefaultPages": False,
                    "archiveLocation": str(storage / "archive"),
                    "syncConfig": {
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
                },
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
                "queueOperations": {
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
                },
                "clusterMonitorConfig": {
                    "maxTimeLeader": 60,
                    "maxTimeMaster": 120,
                    "maxTimeNode": 120,
                    "maxTimeFailover": 240,
                    "thresholdLeader": 30,
                    "thresholdMaster": 60,
                    "thresholdNode": 60,
                    "thresholdFailover": 120,
                },
                "messageThrottleConfig": {
                    "lowThreshold": 2,
                    "highThreshold": 4,
                    "lowInterval": 1000,
                    "highInterval": 3000,
                },
            }
        ],
        "proxyClusters": [],
    }
    if authentication is not None:
        broker["appConfig"]["authentication"] = authentication
    (etc / "bmqbrkrcfg.json").write_text(json.dumps(broker, indent=2))
    (etc / "clusters.json").write_text(json.dumps(cluster, indent=2))
    for name, spec in DOMAINS.items():
        domain = _domain_config(
            spec["mode"],
            spec["storage"],
            spec.get("messages", 1_000_000),
            spec.get("bytes", 1024 * _MIB),
            spec.get("deduplication_ms", 300_000),  # the broker's usual 5 minutes
            spec.get("queue_messages", spec.get("messages", 1_000_000)),
        )
        (etc / "domains" / f"{name}.json").write_text(json.dumps(domain, indent=2))
    return etc


class Broker:
    """A running ``bmqbrkr.tsk``; see :func:`start_broker`.

    Attributes:
        uri (str): What to pass as ``Session(..., broker=uri)``.
        port (int): The loopback port it listens on.
        directory (Path): Its configuration, logs and storage.
        process (subprocess.Popen): The broker process.
    """

    def __init__(
        self, executable: Path, directory: Path, port: int, authentication: Optional[Dict[str, Any]] = None
    ) -> None:
        self.executable = executable
        self.directory = directory
        self.port = port
        self.uri = f"tcp://127.0.0.1:{port}"
        self.etc = write_config(directory, port, authentication)
        self.output_path = directory / "broker.out"
        self.process: Optional["subprocess.Popen[bytes]"] = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the broker and wait until it accepts connections.

        After :meth:`kill` or :meth:`stop`, this restarts it with the same
        port, configuration and storage (a crash and restart)."""
        # Without an interpreter to run the launcher (an embedded Python may
        # have no `sys.executable`), the broker starts directly.
        launcher = [sys.executable, "-I", "-c", _EXEC_WITH_PARENT_DEATH_SIGNAL, str(os.getpid())]
        with open(self.output_path, "ab") as output:
            self.process = subprocess.Popen(
                (launcher if sys.executable else []) + [str(self.executable), str(self.etc)],
                cwd=str(self.directory),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal hits the tests, not the broker
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"bmqbrkr.tsk exited with status {self.process.returncode} while starting; "
                    f"see {self.describe_logs()}"
                )
            # The probe connects and closes, which the broker logs as a
            # harmless failed negotiation.
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"bmqbrkr.tsk did not accept connections on port {self.port} within {timeout} s; "
                    f"see {self.describe_logs()}"
                )
            time.sleep(0.05)

    def describe_logs(self) -> str:
        """Where the broker's output and logs are, for error messages."""
        tail = ""
        with contextlib.suppress(OSError):
            lines = self.output_path.read_text(errors="replace").splitlines()[-20:]
            if lines:
                tail = "\n--- last lines of its output ---\n" + "\n".join(lines)
        return f"{self.output_path} and {self.directory / 'logs'}{tail}"

    def log_files(self) -> List[Path]:
        """The broker's log files."""
        return sorted((self.directory / "logs").glob("logs.*"))

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL the broker (a crash) without cleaning up its storage."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> "Broker":
        """Return the broker itself."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Call :meth:`stop`."""
        self.stop()


@contextlib.contextmanager
def start_broker(
    directory: "Optional[Union[str, os.PathLike[str]]]" = None,
    port: Optional[int] = None,
    timeout: float = 30.0,
    authentication: Optional[Dict[str, Any]] = None,
) -> Iterator[Broker]:
    """Start ``bmqbrkr.tsk`` for the duration of a ``with`` block.

    The broker listens on ``127.0.0.1`` on ``port`` (default: a free one) and
    keeps its configuration, logs and storage in ``directory`` (default: a
    temporary directory, removed afterwards).  Its domains are listed in
    :data:`DOMAINS`.  ``authentication`` configures the broker's
    authenticators (e.g. :func:`basic_authentication`); by default clients
    are accepted anonymously.

    Example::

        with start_broker() as broker:
            with blazingmq.Session(print, broker=broker.uri) as session:
                ...

    Raises:
        BrokerError: ``bmqbrkr.tsk`` was not found (see
            :func:`find_broker_executable`) or did not start; the message
            points at its logs.
    """
    executable = find_broker_executable()
    owned = directory is None
    path = Path(tempfile.mkdtemp(prefix="bmqbrkr-")) if directory is None else Path(directory)
    broker = Broker(executable, path, port or _free_port(), authentication)
    try:
        broker.start(timeout)
        yield broker
    finally:
        broker.stop()
        if owned:
            shutil.rmtree(path, ignore_errors=True)
