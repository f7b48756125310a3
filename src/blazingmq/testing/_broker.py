"""A real BlazingMQ broker (``bmqbrkr.tsk``) for tests and local development.

The broker runs as a child process on a free loopback port, with its
configuration (see ``_config.py``) written into a directory that holds its
logs and storage too.  The same class runs the nodes and proxies of a test
cluster (``_cluster.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar, Union

from ._admin import AdminError, admin_command
from ._config import DOMAINS, FANOUT_APP_IDS, basic_authentication, write_config

__all__ = [
    "BROKER_ENV_VAR",
    "DEFAULT_BROKER_DIR",
    "DOMAINS",
    "FANOUT_APP_IDS",
    "Broker",
    "BrokerError",
    "basic_authentication",
    "find_broker_executable",
    "start_broker",
]

_T = TypeVar("_T")

#: The environment variable naming the folder (or the file) of ``bmqbrkr.tsk``.
BROKER_ENV_VAR = "BLAZINGMQ_BROKER"
#: Where the broker is looked for when the variable is not set.
DEFAULT_BROKER_DIR = "/opt/bmq/bin"


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
#: Linux to SIGTERM the broker when the thread that started it dies (the
#: launcher thread below, which lives as long as the process), so that a
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


class _Launcher:
    """Starts broker processes from one thread that lives as long as this
    process.  Linux sends the parent-death signal when the *thread* that
    started a child ends, not the process: a broker restarted from a worker
    thread (a thread pool's, say) would be stopped when that thread ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: "queue.SimpleQueue[Tuple[Callable[[], Any], concurrent.futures.Future[Any]]]" = (
            queue.SimpleQueue()
        )
        self._thread: Optional[threading.Thread] = None
        self._pid = 0

    def forget_after_fork(self) -> None:
        """In a forked child: the lock may have been held by another thread
        of the parent, and the launcher thread is not there."""
        self._lock = threading.Lock()
        self._thread = None

    def run(self, start: Callable[[], _T]) -> _T:
        """Call ``start`` on the launcher thread and return what it returns."""
        future: "concurrent.futures.Future[_T]" = concurrent.futures.Future()
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._requests = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._serve, name="blazingmq-broker-launcher", daemon=True)
                self._pid = os.getpid()
                self._thread.start()
            self._requests.put((start, future))
        return future.result()

    def _serve(self) -> None:
        requests = self._requests
        while True:
            start, future = requests.get()
            try:
                future.set_result(start())
            except BaseException as error:  # handed to the caller
                future.set_exception(error)


_launcher = _Launcher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_launcher.forget_after_fork)


def _free_ports(count: int) -> List[int]:
    """``count`` different ports that are free now on 127.0.0.1."""
    with contextlib.ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]


def _wait_until_stopped(pid: int, timeout: float) -> None:
    """Wait until every thread of ``pid`` is stopped: SIGSTOP takes effect
    asynchronously, and a thread still running could answer what a test
    sends right after it."""
    deadline = time.monotonic() + timeout
    tasks = Path(f"/proc/{pid}/task")
    while True:
        states = []
        for task in tasks.iterdir():
            try:
                # "pid (comm) S ...": the state follows the last ")".
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue  # a thread that just exited
        if states and all(state in ("T", "t") for state in states):
            return
        if time.monotonic() > deadline:
            raise BrokerError(f"broker {pid} did not stop: thread states {states}")
        time.sleep(0.01)


class Broker:
    """A running ``bmqbrkr.tsk``; see :func:`start_broker` and
    :func:`start_cluster`.

    Attributes:
        name (str): Its host name in its configuration (``localhost`` for a
            standalone broker; the node's or the proxy's name in a cluster).
        data_center (str): Its data center in its configuration.
        uri (str): What to pass as ``Session(..., broker=uri)``.
        port (int): The loopback port it listens on.
        directory (Path): Its configuration, logs and storage (and its
            working directory, where it writes ``bmqbrkr.ctl`` and
            ``bmqbrkr.pid``).
        etc (Path): Its configuration folder.
        process (subprocess.Popen): The broker process (None before the
            first start).
    """

    def __init__(
        self,
        executable: Path,
        directory: Path,
        port: int,
        authentication: Optional[Dict[str, Any]] = None,
        *,
        name: str = "localhost",
        data_center: str = "UNSPECIFIED",
        etc: Optional[Path] = None,
    ) -> None:
        self.executable = executable
        self.directory = directory
        self.port = port
        self.uri = f"tcp://127.0.0.1:{port}"
        self.name = name
        self.data_center = data_center
        # A cluster's broker comes with its configuration written.
        self.etc = etc if etc is not None else write_config(directory, port, authentication)
        self.output_path = directory / "broker.out"
        self.process: Optional["subprocess.Popen[bytes]"] = None
        self._paused = False

    def start(self, timeout: float = 30.0) -> None:
        """Start the broker and wait until it accepts connections.

        After :meth:`kill` or :meth:`stop`, this restarts it with the same
        port, configuration and storage (a crash and restart).

        Raises:
            BrokerError: It exited, or did not accept connections within
                ``timeout`` seconds (it is stopped then); the message names
                the broker and points at its logs.
        """
        self.launch()
        self.wait_started(timeout)

    def launch(self) -> None:
        """Start the broker process without waiting for it (see
        :meth:`wait_started`); several brokers start in parallel so."""
        if self.running:
            raise BrokerError(f"broker {self.name} is already running (pid {self.pid})")
        # Without an interpreter to run the launcher (an embedded Python may
        # have no `sys.executable`), the broker starts directly.
        launcher = [sys.executable, "-I", "-c", _EXEC_WITH_PARENT_DEATH_SIGNAL, str(os.getpid())]
        command = (launcher if sys.executable else []) + [str(self.executable), str(self.etc)]
        # A control pipe left by a killed broker would be taken for a file.
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "bmqbrkr.ctl").unlink()

        def popen() -> "subprocess.Popen[bytes]":
            with open(self.output_path, "ab") as output:
                return subprocess.Popen(
                    command,
                    cwd=str(self.directory),  # its bmqbrkr.ctl and bmqbrkr.pid go there
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C in a terminal hits the tests, not the broker
                )

        self.process = _launcher.run(popen)
        self._paused = False

    def wait_started(self, timeout: float = 30.0) -> None:
        """Wait until the broker launched by :meth:`launch` accepts
        connections; see :meth:`start`."""
        process = self.process
        if process is None:
            raise BrokerError(f"broker {self.name} was never started")
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BrokerError(
                    f"broker {self.name} (bmqbrkr.tsk) exited with status {process.returncode} while starting; "
                    f"see {self.describe_logs()}"
                )
            # The probe connects and closes, which the broker logs as a
            # harmless failed negotiation.
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"broker {self.name} (bmqbrkr.tsk) did not accept connections on port {self.port} within "
                    f"{timeout} s; see {self.describe_logs()}"
                )
            time.sleep(0.05)

    def describe_logs(self, lines: int = 20) -> str:
        """Where the broker's output and logs are, for error messages, with
        the last ``lines`` lines of its output and of its newest log."""
        text = f"{self.output_path} and {self.directory / 'logs'}"
        for title, path in (("output", self.output_path), ("log", self._newest_log())):
            tail = _tail(path, lines) if path is not None else ""
            if tail:
                text += f"\n--- last lines of the {title} of broker {self.name} ({path}) ---\n{tail}"
        return text

    def log_files(self) -> List[Path]:
        """The broker's log files, oldest first (one per start)."""
        # `logs.last` is the broker's link to the newest one.
        files = [path for path in (self.directory / "logs").glob("logs.*") if not path.is_symlink()]
        return sorted(files, key=lambda path: path.stat().st_mtime)

    def _newest_log(self) -> Optional[Path]:
        with contextlib.suppress(OSError):
            files = self.log_files()
            if files:
                return files[-1]
        return None

    def log_tail(self, lines: int = 30, width: int = 400) -> str:
        """The last ``lines`` lines of its newest log file, each cut to
        ``width`` characters (the broker logs whole configurations on one
        line)."""
        path = self._newest_log()
        text = _tail(path, lines) if path is not None else ""
        return "\n".join(line if len(line) <= width else line[:width] + " [...]" for line in text.splitlines())

    def admin(self, command: str, timeout: float = 10.0) -> str:
        """Run a broker admin command (e.g. ``"CLUSTERS CLUSTER c STATUS"``;
        start it with ``ENCODING JSON_COMPACT`` for a JSON answer) over the
        broker's TCP port, and return the broker's answer.

        Raises:
            BrokerError: The broker is not running, or did not answer within
                ``timeout`` seconds.
        """
        if not self.running:
            raise BrokerError(f"broker {self.name} is not running")
        try:
            return admin_command(self.port, command, timeout)
        except AdminError as error:
            raise BrokerError(f"broker {self.name}: {error}") from None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds."""
        self.begin_stop()
        self.wait_stopped(grace)

    def begin_stop(self) -> None:
        """Send SIGTERM (resuming it first if it is paused) without waiting;
        see :meth:`wait_stopped`."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        if self._paused:
            process.send_signal(signal.SIGCONT)
            self._paused = False

    def wait_stopped(self, grace: float = 10.0) -> None:
        """Wait for the broker to exit after :meth:`begin_stop`, SIGKILLing
        it after ``grace`` seconds."""
        process = self.process
        if process is None:
            return
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
        self._paused = False

    def pause(self, timeout: float = 5.0) -> None:
        """Stop the broker with SIGSTOP: it keeps its sockets and answers
        nothing (a hung host), until :meth:`resume`.  Returns once every
        thread of the broker has stopped."""
        if not self.running:
            raise BrokerError(f"broker {self.name} is not running")
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self._paused = True
        _wait_until_stopped(self.process.pid, timeout)

    def resume(self) -> None:
        """Continue a broker stopped by :meth:`pause` (SIGCONT)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
        self._paused = False

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` stopped it (and it was not resumed)."""
        return self._paused and self.running

    @property
    def pid(self) -> Optional[int]:
        """The broker's process id (None before the first start)."""
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive (also when paused)."""
        return self.process is not None and self.process.poll() is None

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return f"<Broker {self.name} {self.uri} {state}>"

    def __enter__(self) -> "Broker":
        """Return the broker itself."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Call :meth:`stop`."""
        self.stop()


def _tail(path: Path, lines: int) -> str:
    """The last ``lines`` non-empty lines of a text file ('' if unreadable)."""
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - 200 * lines - 4096))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


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
    broker = Broker(executable, path, port or _free_ports(1)[0], authentication)
    try:
        broker.start(timeout)
        yield broker
    finally:
        broker.stop()
        if owned:
            shutil.rmtree(path, ignore_errors=True)
