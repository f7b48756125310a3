"""The code blocks of the documentation (docs/**/*.rst) run against a real
broker.

Every ``.. code-block:: python`` (or ``sh``) is preceded by a comment saying
how it is tested (a block without one fails
``test_every_code_block_is_marked``):

* ``.. test: run``: a whole program, run in a child interpreter with
  ``BMQ_BROKER_URI`` set to the test broker (libbmq then uses it instead of
  the program's ``tcp://localhost:30114``); it must exit 0 without a
  traceback.
* ``.. test: run-standalone``: the same, without ``BMQ_BROKER_URI`` (the
  block starts its own broker with ``blazingmq.testing.start_broker``).
* ``.. test: pytest``: a test module, run with ``python -m pytest`` (the
  installed pytest plugin provides its fixtures); every test must pass.
* ``.. test: sh``: shell commands, run with ``bash -e`` and
  ``BMQ_BROKER_URI`` set (the ``blazingmq`` command uses it), with this
  interpreter's ``bin`` first in ``PATH``.
* ``.. test: skip (reason)``: a fragment, not run (the reason says why or
  where it is covered).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import List

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_MARKER = re.compile(r"^\.\. test: (run-standalone|run|pytest|sh|skip)\b(.*)$")


@dataclass
class CodeBlock:
    path: Path
    line: int
    mode: str  # run, run-standalone, pytest, skip or "" (unmarked)
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(DOCS)}:{self.line}"


def _code_blocks() -> List[CodeBlock]:
    blocks = []
    for path in sorted(DOCS.rglob("*.rst")):
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if line.strip() not in (".. code-block:: python", ".. code-block:: sh"):
                continue
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = _MARKER.match(previous)
            indent = len(line) - len(line.lstrip())
            body: List[str] = []
            for following in lines[index + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following)
            code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
            blocks.append(CodeBlock(path, index + 1, marker.group(1) if marker else "", code))
    return blocks


BLOCKS = _code_blocks()
RUNNABLE = [block for block in BLOCKS if block.mode in ("run", "run-standalone")]
PYTEST_MODULES = [block for block in BLOCKS if block.mode == "pytest"]
SHELL = [block for block in BLOCKS if block.mode == "sh"]


def test_the_guide_has_code_to_run():
    assert len(RUNNABLE) >= 15, [block.name for block in RUNNABLE]
    assert PYTEST_MODULES


def test_every_code_block_is_marked():
    unmarked = [block.name for block in BLOCKS if not block.mode]
    assert not unmarked, f"code blocks without a '.. test: ...' comment before them: {unmarked}"


def _env(broker_uri: "str | None") -> "dict[str, str]":
    env = dict(os.environ)
    env.pop("BMQ_BROKER_URI", None)
    if broker_uri is not None:
        env["BMQ_BROKER_URI"] = broker_uri
    return env


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_code_block_runs(block, bmq_broker_uri, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(block.code)
    result = subprocess.run(
        [sys.executable, str(script)],
        env=_env(bmq_broker_uri if block.mode == "run" else None),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"{block.name} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{block.name}:\n{result.stderr}"


@pytest.mark.parametrize("block", PYTEST_MODULES, ids=[block.name for block in PYTEST_MODULES])
def test_code_block_passes_as_a_test_module(block, tmp_path):
    module = tmp_path / "test_from_docs.py"
    module.write_text(block.code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        env=_env(None),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{block.name} failed:\n{result.stdout}\n{result.stderr}"
    assert re.search(r"\b\d+ passed\b", result.stdout) and "failed" not in result.stdout, result.stdout


@pytest.mark.parametrize("block", SHELL, ids=[block.name for block in SHELL])
def test_shell_block_runs(block, bmq_broker_uri, tmp_path):
    env = _env(bmq_broker_uri)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{block.name} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{block.name}:\n{result.stderr}"
