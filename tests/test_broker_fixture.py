"""The broker helper of ``blazingmq.testing``."""

from __future__ import annotations

import os
import socket

import pytest

from blazingmq.testing import BROKER_ENV_VAR, BrokerError, find_broker_executable, start_broker


def test_session_broker_is_reachable(bmq_broker):
    assert bmq_broker.running
    assert bmq_broker.uri == f"tcp://127.0.0.1:{bmq_broker.port}"
    with socket.create_connection(("127.0.0.1", bmq_broker.port), timeout=5):
        pass


def test_broker_writes_its_config_and_domains(bmq_broker):
    etc = bmq_broker.etc
    assert (etc / "bmqbrkrcfg.json").is_file()
    assert str(bmq_broker.port) in (etc / "clusters.json").read_text()
    for domain in (
        "bmq.test.persistent.priority",
        "bmq.test.mem.fanout",
        "bmq.test.mem.broadcast",
        "bmq.tutorial.workqueue",
        "bmq.bench.mem.priority",
    ):
        assert (etc / "domains" / f"{domain}.json").is_file()


def test_start_broker_leaves_no_process_or_directory_behind():
    with start_broker() as broker:
        pid = broker.process.pid
        directory = broker.directory
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5):
            pass
    assert broker.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not directory.exists()


def test_missing_broker_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(BROKER_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(BrokerError, match=f"bmqbrkr.tsk not found.*{BROKER_ENV_VAR}"):
        find_broker_executable()
    with pytest.raises(BrokerError):
        with start_broker():
            pass  # pragma: no cover


def test_broker_env_var_accepts_the_folder_or_the_file(monkeypatch):
    executable = find_broker_executable()
    monkeypatch.setenv(BROKER_ENV_VAR, str(executable.parent))
    assert find_broker_executable() == executable
    monkeypatch.setenv(BROKER_ENV_VAR, str(executable))
    assert find_broker_executable() == executable


def test_broker_dies_with_the_process_that_started_it(tmp_path):
    import subprocess
    import sys
    import time

    code = (
        "import sys, os\n"
        "from blazingmq.testing import start_broker\n"
        "with start_broker(sys.argv[1]) as broker:\n"
        "    print(broker.process.pid, flush=True)\n"
        "    os._exit(1)  # a crash: no teardown runs\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], capture_output=True, text=True,
                            timeout=60)
    pid = int(result.stdout.split()[0])
    deadline = time.monotonic() + 15
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the broker outlived the process that started it"
        time.sleep(0.1)


def test_broker_starts_without_an_interpreter_for_its_launcher(monkeypatch):
    """An embedded Python may have no ``sys.executable``: the broker then
    starts directly (without the parent-death signal) and works."""
    import sys

    monkeypatch.setattr(sys, "executable", "")
    with start_broker() as broker:
        assert os.readlink(f"/proc/{broker.process.pid}/exe") == str(find_broker_executable().resolve())
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5):
            pass
    assert broker.process.poll() is not None
