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
