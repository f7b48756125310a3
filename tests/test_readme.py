"""The examples in README.md run as they are written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example(name: str) -> str:
    """The fenced code block that follows ``<!-- example: NAME -->``."""
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)```", README.read_text(), re.S)
    assert match, f"README.md has no example {name!r}"
    return match.group(1)


def run_python(code: str, broker_uri: str, tmp_path: Path) -> subprocess.CompletedProcess:
    # libbmq connects to BMQ_BROKER_URI instead of its default broker.
    script = tmp_path / "example.py"
    script.write_text(code)
    env = dict(os.environ, BMQ_BROKER_URI=broker_uri)
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_subscriptions_example(bmq_broker_uri, tmp_path):
    result = run_python(readme_example("subscriptions"), bmq_broker_uri, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "b'big' {'price': 50, 'region': 'EU'} True",
        "(Subscription('price > 10 && region == \"EU\"', max_unconfirmed_messages=100),)",
    ]


def test_batching_example(bmq_broker_uri, tmp_path):
    result = run_python(readme_example("batching"), bmq_broker_uri, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["100 {<AckStatus.SUCCESS>} 100 b'message 99'"]


def test_tracing_example(bmq_broker_uri, tmp_path):
    result = run_python(readme_example("tracing"), bmq_broker_uri, tmp_path)
    assert result.returncode == 0, result.stderr
    stats_line, spans_line = result.stdout.splitlines()
    assert stats_line == "1 1"
    assert spans_line.startswith("True [")
    for name in ("bmq.session.start", "bmq.queue.open", "bmq.queue.close", "bmq.session.stop"):
        assert repr(name) in spans_line, spans_line
