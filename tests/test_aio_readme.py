"""The asyncio example of README.md runs unchanged against the test broker
(``BMQ_BROKER_URI`` replaces the default broker URI in libbmq)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _asyncio_example() -> str:
    section = README.read_text().split("## asyncio", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's asyncio section has no python block"
    return match.group(1)


def test_readme_asyncio_example_runs(bmq_broker_uri, tmp_path):
    script = tmp_path / "aio_example.py"
    script.write_text(_asyncio_example())
    result = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "BMQ_BROKER_URI": bmq_broker_uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [
        "posted: AckStatus.SUCCESS",
        "received: b'hello' {'kind': 'greeting'}",
        "received: b'0' {}",
        "received: b'1' {}",
        "received: b'2' {}",
    ]
