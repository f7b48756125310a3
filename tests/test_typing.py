"""The package's annotations pass ``mypy --strict`` (the stub of the compiled
module included), so users' type checkers see a correct API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import blazingmq

PACKAGE = Path(blazingmq.__file__).parent


def test_py_typed_and_stub_are_installed():
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_ext.pyi").is_file()


def test_mypy_strict_on_the_installed_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), "-p", "blazingmq"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
