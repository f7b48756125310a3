"""The programs in examples/ run against the real broker and type-check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, *args: str, broker_uri: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, BMQ_BROKER_URI=broker_uri)
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_producer_then_consumer(bmq_broker_uri):
    produced = _run("producer.py", "5", broker_uri=bmq_broker_uri)
    assert produced.returncode == 0, produced.stderr
    assert "posted 5 messages, 0 not acknowledged" in produced.stdout
    consumed = _run("consumer.py", "5", broker_uri=bmq_broker_uri)
    assert consumed.returncode == 0, consumed.stderr
    lines = consumed.stdout.splitlines()
    assert lines[-1] == "received 5 messages"
    assert sorted(lines[:5]) == sorted(
        f"message {n} {{'number': {n}, 'source': 'examples/producer.py'}}" for n in range(5)
    )


def test_examples_pass_mypy_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), str(EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _run_with_argument(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run an example with the broker URI as its last argument (and no
    ``BMQ_BROKER_URI``, which libbmq would prefer)."""
    env = dict(os.environ)
    env.pop("BMQ_BROKER_URI", None)
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_producer_acks_reports_each_post_with_its_guid(bmq_broker_uri):
    result = _run_with_argument("producer_acks.py", "4", bmq_broker_uri)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "posted 4 messages, 0 not acknowledged"
    guids = []
    for number, line in enumerate(lines[:4]):
        guid = line.rsplit(" ", 1)[1]
        assert line.startswith(f"order {number}: SUCCESS "), line
        assert len(guid) == 32 and int(guid, 16) >= 0, line
        guids.append(guid)
    assert len(set(guids)) == 4  # one distinct GUID per post: each ACK went to its own post


def test_producer_acks_through_the_environment_variable(bmq_broker_uri):
    result = _run("producer_acks.py", "1", broker_uri=bmq_broker_uri)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "posted 1 messages, 0 not acknowledged"


def test_consumer_properties_prints_values_and_types(bmq_broker_uri):
    result = _run_with_argument("consumer_properties.py", "3", bmq_broker_uri)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"reading {n}: calibrated={n % 2 == 0} (BOOL), grade=b'A' (CHAR), "
        f"raw={bytes([n, 0xFF])!r} (BINARY), sensor='t-1' (STRING), sequence={n} (INT32)"
        for n in range(3)
    ] + ["received 3 messages"]
