"""Every public name of the API contract (shared/api.md) has a docstring
that the API reference renders, and the Session methods say what they raise
and from which threads they may be called."""

from __future__ import annotations

import inspect

import pytest

import blazingmq
import blazingmq.testing
from blazingmq import exceptions, session_events

# typing aliases (PropertyTypeDict, PropertyValueDict) are documented by
# `#:` comments, which only Sphinx reads; __version__ is a str.
_NOT_CLASSES_OR_FUNCTIONS = {"PropertyTypeDict", "PropertyValueDict", "__version__"}


def _public(module):
    for name in module.__all__:
        obj = getattr(module, name)
        # Constants (DOMAINS, BROKER_ENV_VAR, ...) are documented by `#:` comments.
        if name in _NOT_CLASSES_OR_FUNCTIONS or not (inspect.isclass(obj) or callable(obj) or inspect.ismodule(obj)):
            continue
        yield f"{module.__name__}.{name}", getattr(module, name)


PUBLIC = [
    *_public(blazingmq),
    *_public(exceptions),
    *_public(session_events),
    *_public(blazingmq.testing),
]


@pytest.mark.parametrize("name, obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_name_has_docstring(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc) > 20, f"{name} has no useful docstring"


PUBLIC_METHODS = [
    (cls, name)
    for cls in (
        blazingmq.Session,
        blazingmq.MessageHandle,
        blazingmq.BasicHealthMonitor,
        blazingmq.testing.Broker,
    )
    for name, member in vars(cls).items()
    if not name.startswith("_") and (callable(member) or isinstance(member, (property, classmethod)))
]


@pytest.mark.parametrize(
    "cls, name", PUBLIC_METHODS, ids=[f"{cls.__name__}.{name}" for cls, name in PUBLIC_METHODS]
)
def test_public_method_has_docstring(cls, name):
    assert inspect.getdoc(getattr(cls, name)), f"{cls.__name__}.{name} has no docstring"


@pytest.mark.parametrize(
    "method", ["open_queue", "configure_queue", "close_queue", "get_queue_options", "post", "confirm", "stop"]
)
def test_session_methods_document_raises_and_threads(method):
    doc = inspect.getdoc(getattr(blazingmq.Session, method))
    assert "Raises:" in doc
    assert "Thread safety:" in doc
