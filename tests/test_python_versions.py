"""``requires-python = ">=3.9"`` is a promise.  Only one Python runs on the
project's machines, so what can be checked here is checked: every module
parses as Python 3.9, and the classifiers name exactly the versions from
the oldest promised one up.  (`.ci/run` also type-checks the package with
``mypy --python-version 3.9``, which catches library calls newer than 3.9.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import blazingmq

OLDEST = (3, 9)
PACKAGE = Path(blazingmq.__file__).parent
ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.pyi"), *(ROOT / "examples").glob("*.py")]
)


def test_there_are_sources_to_check():
    names = {path.name for path in SOURCES}
    assert {"_session.py", "_ext.pyi", "__init__.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_module_parses_as_the_oldest_supported_python(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=OLDEST)


def test_a_newer_syntax_is_refused():
    # The check above would catch e.g. a match statement (3.10).
    with pytest.raises(SyntaxError):
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=OLDEST)


def test_classifiers_name_the_supported_versions():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=%d.%d" % OLDEST
    versions = sorted(
        tuple(int(part) for part in match.group(1).split("."))
        for classifier in project["classifiers"]
        if (match := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", classifier))
    )
    assert versions[0] == OLDEST
    assert versions == [(3, minor) for minor in range(OLDEST[1], versions[-1][1] + 1)]
