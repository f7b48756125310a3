"""The ``blazingmq`` command line, end to end in subprocesses against the
real broker."""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from test_readme import readme_example

BIN = Path(sys.executable).parent
TIMEOUT = 120


def cli(*args: str, broker: str, input: bytes = b"", env_extra=None, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, BMQ_BROKER_URI=broker, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "blazingmq", *args], input=input, capture_output=True, env=env, timeout=TIMEOUT, **kwargs
    )


def lines(result: subprocess.CompletedProcess) -> List[str]:
    return result.stdout.decode().splitlines()


def start(*args: str, broker: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, BMQ_BROKER_URI=broker)
    return subprocess.Popen(
        [sys.executable, "-m", "blazingmq", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kwargs
    )


def test_produce_then_consume_keeps_payloads_and_typed_properties(bmq_broker_uri, bmq_queue_uri):
    produced = cli(
        "produce",
        bmq_queue_uri,
        "hello",
        "two words\tand a tab",
        "--property", "price:int64=12",
        "--property", "region=EU",
        "--property", "urgent:bool=true",
        "--property", "code:int32=-7",
        "--property", "raw:binary=00ff10",
        "--property", "grade:char=41",
        broker=bmq_broker_uri,
    )
    assert produced.returncode == 0, produced.stderr
    acks = [line.split("\t") for line in lines(produced)]
    assert [(index, status) for index, _, status in acks] == [("0", "SUCCESS"), ("1", "SUCCESS")]
    assert all(len(guid) == 32 for _, guid, _ in acks)
    assert b"posted 2 messages" in produced.stderr and b"2 acknowledged, 0 failed" in produced.stderr

    consumed = cli("consume", bmq_queue_uri, "--count", "2", "--timeout", "60", "--json", broker=bmq_broker_uri)
    assert consumed.returncode == 0, consumed.stderr
    records = [json.loads(line) for line in lines(consumed)]
    assert [r["data"] for r in records] == ["hello", "two words\tand a tab"]
    assert [r["guid"] for r in records] == [guid for _, guid, _ in acks]
    for record in records:
        assert record["properties"] == {
            "price": 12,
            "region": "EU",
            "urgent": True,
            "code": -7,
            "raw": "00ff10",
            "grade": "41",
        }
        assert record["property_types"] == {
            "price": "INT64",
            "region": "STRING",
            "urgent": "BOOL",
            "code": "INT32",
            "raw": "BINARY",
            "grade": "CHAR",
        }
    # Confirmed: nothing is left.
    again = cli("consume", bmq_queue_uri, "--count", "1", "--timeout", "1", broker=bmq_broker_uri)
    assert again.returncode == 4
    assert lines(again) == []


def test_plain_output_is_one_line_per_message(bmq_broker_uri, bmq_queue_uri):
    produced = cli("produce", bmq_queue_uri, "line\none", "-p", "k=v", broker=bmq_broker_uri)
    assert produced.returncode == 0, produced.stderr
    consumed = cli("consume", bmq_queue_uri, "-n", "1", "-t", "60", broker=bmq_broker_uri)
    assert consumed.returncode == 0, consumed.stderr
    [line] = lines(consumed)
    guid, payload, properties = line.split("\t")
    assert guid == lines(produced)[0].split("\t")[1]
    assert payload == "line\\none"
    assert json.loads(properties) == {"k": "v"}
    # Not a terminal: no progress on stderr.
    assert b"msg/s" not in consumed.stderr and b"\r" not in consumed.stderr


def test_stdin_lines_files_count_and_size(bmq_broker_uri, bmq_queue_uri, tmp_path):
    from_stdin = cli("produce", bmq_queue_uri, "--json", input=b"alpha\nbeta\n\ngamma\n", broker=bmq_broker_uri)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert [json.loads(line)["status"] for line in lines(from_stdin)] == ["SUCCESS"] * 3
    (tmp_path / "a.bin").write_bytes(b"\x00\x01binary\xff")
    from_file = cli("produce", bmq_queue_uri, "--file", str(tmp_path / "a.bin"), broker=bmq_broker_uri)
    assert from_file.returncode == 0, from_file.stderr
    repeated = cli("produce", bmq_queue_uri, "again", "--count", "3", "--rate", "100", broker=bmq_broker_uri)
    assert repeated.returncode == 0, repeated.stderr
    generated = cli("produce", bmq_queue_uri, "--count", "2", "--size", "20", broker=bmq_broker_uri)
    assert generated.returncode == 0, generated.stderr

    out = tmp_path / "out"
    consumed = cli("consume", bmq_queue_uri, "-n", "9", "-t", "60", "--output-dir", str(out), broker=bmq_broker_uri)
    assert consumed.returncode == 0, consumed.stderr
    files = [Path(line.split("\t")[1]) for line in lines(consumed)]
    assert [f.parent for f in files] == [out] * 9
    assert [f.read_bytes() for f in files] == [
        b"alpha",
        b"beta",
        b"gamma",
        b"\x00\x01binary\xff",
        b"again",
        b"again",
        b"again",
        b"0 " + b"x" * 18,
        b"1 " + b"x" * 18,
    ]


def test_peek_leaves_messages_for_the_next_consumer(bmq_broker_uri, bmq_queue_uri):
    assert cli("produce", bmq_queue_uri, "kept", broker=bmq_broker_uri).returncode == 0
    peeked = cli("consume", bmq_queue_uri, "-n", "1", "-t", "60", "--peek", broker=bmq_broker_uri)
    assert peeked.returncode == 0, peeked.stderr
    taken = cli("consume", bmq_queue_uri, "-n", "1", "-t", "60", broker=bmq_broker_uri)
    assert taken.returncode == 0, taken.stderr
    assert lines(peeked) == lines(taken)
    assert lines(taken)[0].split("\t")[1] == "kept"


def test_consume_with_a_subscription(bmq_broker_uri, bmq_queue_uri):
    for price in ("5", "50"):
        assert cli("produce", bmq_queue_uri, price, "-p", f"price:int64={price}", broker=bmq_broker_uri).returncode == 0
    consumed = cli(
        "consume", bmq_queue_uri, "-n", "1", "-t", "60", "--json", "--subscription", "price > 10", broker=bmq_broker_uri
    )
    assert consumed.returncode == 0, consumed.stderr
    [record] = [json.loads(line) for line in lines(consumed)]
    assert (record["data"], record["subscription"]) == ("50", "price > 10")


def test_exit_codes_for_usage_errors(bmq_broker_uri, bmq_queue_uri):
    for args in (
        ["produce", bmq_queue_uri, "x", "--property", "novalue"],
        ["produce", bmq_queue_uri, "x", "--property", "n:int64=abc"],
        ["produce", bmq_queue_uri, "x", "--property", "n:float=1.5"],
        ["produce", bmq_queue_uri, "x", "--size", "10"],
        ["consume", bmq_queue_uri, "--count", "0"],
        ["frobnicate"],
        [],
    ):
        result = cli(*args, broker=bmq_broker_uri)
        assert result.returncode == 2, args
        assert b"usage: blazingmq" in result.stderr
        assert b"Traceback" not in result.stderr


def test_exit_code_for_a_refused_queue(bmq_broker_uri):
    result = cli("produce", "bmq://no.such.domain/q", "x", broker=bmq_broker_uri)
    assert result.returncode == 1
    assert b"Failed to open bmq://no.such.domain/q queue" in result.stderr
    assert b"Traceback" not in result.stderr


def test_exit_code_for_no_broker():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` now.
    result = cli("produce", "bmq://bmq.test.mem.priority/q", "x", "--connect-timeout", "2", broker=f"tcp://127.0.0.1:{port}")
    assert result.returncode == 3
    assert b"cannot connect to tcp://127.0.0.1:" in result.stderr
    assert b"Traceback" not in result.stderr


def test_ctrl_c_stops_consume_cleanly(bmq_broker_uri, bmq_queue_uri):
    assert cli("produce", bmq_queue_uri, "first", broker=bmq_broker_uri).returncode == 0
    process = start("consume", bmq_queue_uri, broker=bmq_broker_uri)
    try:
        line = process.stdout.readline()  # consuming for sure once a message is out
        assert line.split(b"\t")[1] == b"first\n"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert b"blazingmq consume: interrupted" in stderr
    assert b"Traceback" not in stderr
    # The message printed before Ctrl-C was confirmed; none was lost.
    assert cli("produce", bmq_queue_uri, "second", broker=bmq_broker_uri).returncode == 0
    after = cli("consume", bmq_queue_uri, "-n", "1", "-t", "60", broker=bmq_broker_uri)
    assert [line.split("\t")[1] for line in lines(after)] == ["second"]


def test_ctrl_c_stops_produce_cleanly(bmq_broker_uri, bmq_queue_uri):
    process = start("produce", bmq_queue_uri, "slow", "--count", "1000", "--rate", "5", broker=bmq_broker_uri)
    try:
        assert process.stdout.readline().endswith(b"\tSUCCESS\n")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert b"blazingmq produce: interrupted" in stderr
    assert b"Traceback" not in stderr


def _dev_broker_round_trip(queue: str, *options: str, check_files=lambda uri: None) -> str:
    """``blazingmq broker *options``: its URI (first line) works for a
    produce/consume round trip; Ctrl-C stops it (exit 0, port closed)."""
    process = start("broker", *options, broker="unused")
    try:
        uri = process.stdout.readline().decode().strip()
        assert uri.startswith("tcp://127.0.0.1:")
        check_files(uri)
        produced = cli("produce", queue, "to the dev broker", broker=uri)
        assert produced.returncode == 0, produced.stderr
        consumed = cli("consume", queue, "-n", "1", "-t", "60", broker=uri)
        assert lines(consumed)[0].split("\t")[1] == "to the dev broker"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr
    port = int(uri.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    return uri


def test_broker_command_prints_its_uri_and_stops_on_ctrl_c(bmq_queue_uri):
    _dev_broker_round_trip(bmq_queue_uri)


def test_broker_command_runs_a_cluster_behind_a_proxy(bmq_queue_uri_factory, tmp_path):
    def check_files(uri: str) -> None:
        # The URI is the proxy's: its folder is next to the node's.
        assert sorted(path.name for path in (tmp_path / "dev").iterdir()) == ["east1", "eastp"]
        assert uri.rsplit(":", 1)[1] in (tmp_path / "dev" / "eastp" / "etc" / "bmqbrkrcfg.json").read_text()

    queue = bmq_queue_uri_factory("bmq.test.persistent.priority")
    _dev_broker_round_trip(queue, "--cluster", "1", "--dir", str(tmp_path / "dev"), check_files=check_files)
    for bad in (["--cluster", "0"], ["--cluster", "2", "--port", "1234"]):
        result = cli("broker", *bad, broker="unused")
        assert result.returncode == 2 and b"--cluster" in result.stderr, result


def test_bench_reports_rates(bmq_broker_uri, bmq_queue_uri):
    result = cli("bench", bmq_queue_uri, "--count", "2000", "--size", "100", "--json", broker=bmq_broker_uri)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["posted"] == report["acked"] == report["consumed"] == 2000
    assert report["nacked"] == 0 and report["post_rate"] > 0
    plain = cli("bench", bmq_queue_uri, "--count", "500", "--size", "10", broker=bmq_broker_uri)
    assert plain.returncode == 0, plain.stderr
    assert lines(plain)[0].startswith("produced 500 messages of 10 bytes in ")
    assert lines(plain)[1].startswith("consumed 500 messages in ")


def test_progress_goes_to_a_terminal_only(bmq_broker_uri, bmq_queue_uri):
    controller, terminal = pty.openpty()
    try:
        env = dict(os.environ, BMQ_BROKER_URI=bmq_broker_uri)
        process = subprocess.Popen(
            [sys.executable, "-m", "blazingmq", "bench", bmq_queue_uri, "--count", "3000", "--size", "10"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=env,
        )
        os.close(terminal)
        terminal = -1
        seen = b""
        deadline = time.monotonic() + TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            try:
                seen += os.read(controller, 4096)
            except OSError:
                break
        process.communicate(timeout=TIMEOUT)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert process.returncode == 0
    assert b"\r" in seen and b"msg/s" in seen


def test_console_script_and_help():
    script = BIN / "blazingmq"
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0
    text = result.stdout.decode()
    for word in ("produce", "consume", "bench", "broker", "exit codes", "130"):
        assert word in text
    version = subprocess.run([str(script), "--version"], capture_output=True, timeout=TIMEOUT)
    assert version.stdout.decode().startswith("blazingmq ")


def test_readme_example(bmq_broker_uri, tmp_path):
    env = dict(os.environ, BMQ_BROKER_URI=bmq_broker_uri, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        ["bash", "-e", "-c", readme_example("cli")],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode().splitlines()
    assert [line.split("\t")[2] for line in out[:2]] == ["SUCCESS", "SUCCESS"]
    records = [json.loads(line) for line in out[2:4]]
    assert [(r["data"], r["properties"]) for r in records] == [
        ("hello", {"price": 12, "region": "EU"}),
        ("world", {"price": 12, "region": "EU"}),
    ]
    assert out[4].startswith("produced 2000 messages of 100 bytes")
    assert len((tmp_path / "acks.tsv").read_text().splitlines()) == 1000
    received = sorted((tmp_path / "received").iterdir())
    assert sorted(int(path.read_text()) for path in received) == list(range(1, 1001))
