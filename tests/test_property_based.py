"""Property-based tests (hypothesis): arbitrary payloads and property maps
round-trip unchanged through a real broker, and arbitrary (mostly invalid)
property maps never crash: they are posted or refused with a clear
exception, and the session keeps working.

Example counts are modest so that CI stays quick; raise them with
``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os
import queue as queue_module
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blazingmq
from blazingmq import Error, PropertyType

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

INT64 = st.integers(-(2**63), 2**63 - 1)
# libbmq accepts names that start with an ASCII letter or digit.
NAMES = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_letters + string.digits),
    st.text(alphabet=string.ascii_letters + string.digits + "_-.", max_size=63),
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
INFERRED_VALUES = st.one_of(st.booleans(), INT64, TEXT, st.binary(max_size=200))


class RoundTrip:
    """One session with one queue open for reading and writing; ``send``
    posts and returns the message as received."""

    def __init__(self, broker_uri: str, uri: str) -> None:
        self.uri = uri
        self.inbox: "queue_module.Queue[blazingmq.Message]" = queue_module.Queue()
        self.session = blazingmq.Session(lambda e: None, on_message=self._on_message, broker=broker_uri)
        self.session.open_queue(uri, read=True, write=True)

    def _on_message(self, message, handle):
        handle.confirm()
        self.inbox.put(message)

    def send(self, payload, properties=None, overrides=None) -> blazingmq.Message:
        self.session.post(self.uri, payload, properties=properties, property_type_overrides=overrides)
        return self.inbox.get(timeout=10)

    def close(self) -> None:
        self.session.stop()
        assert self.inbox.empty()


@pytest.fixture(scope="module")
def round_trip(bmq_broker_uri):
    trip = RoundTrip(bmq_broker_uri, "bmq://bmq.test.mem.priority/property_based")
    yield trip
    trip.close()


def _inferred_type(value):
    if isinstance(value, bool):
        return PropertyType.BOOL
    if isinstance(value, int):
        return PropertyType.INT64
    if isinstance(value, str):
        return PropertyType.STRING
    return PropertyType.BINARY


@given(payload=st.binary(min_size=1, max_size=65536))
def test_payloads_round_trip(round_trip, payload):
    message = round_trip.send(payload)
    assert message.data == payload
    assert message.properties == {} and message.property_types == {}


@given(payload=st.binary(min_size=1, max_size=64), properties=st.dictionaries(NAMES, INFERRED_VALUES, max_size=12))
def test_inferred_property_maps_round_trip(round_trip, payload, properties):
    message = round_trip.send(payload, properties)
    assert message.data == payload
    assert message.properties == properties
    assert message.property_types == {name: _inferred_type(value) for name, value in properties.items()}


TYPED_VALUES = st.one_of(
    st.tuples(st.just(PropertyType.BOOL), st.booleans()),
    st.tuples(st.just(PropertyType.CHAR), st.binary(min_size=1, max_size=1)),
    st.tuples(st.just(PropertyType.SHORT), st.integers(-(2**15), 2**15 - 1)),
    st.tuples(st.just(PropertyType.INT32), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just(PropertyType.INT64), INT64),
    st.tuples(st.just(PropertyType.STRING), TEXT),
    st.tuples(st.just(PropertyType.BINARY), st.binary(max_size=200)),
)


@given(typed=st.dictionaries(NAMES, TYPED_VALUES, min_size=1, max_size=12))
def test_overridden_property_maps_round_trip(round_trip, typed):
    properties = {name: value for name, (_, value) in typed.items()}
    overrides = {name: ptype for name, (ptype, _) in typed.items()}
    message = round_trip.send(b"typed", properties, overrides)
    assert message.properties == properties
    assert message.property_types == overrides


ANY_NAME = st.one_of(st.text(max_size=80), st.binary(max_size=80), st.integers(), st.none(), st.floats())
ANY_VALUE = st.one_of(
    st.booleans(),
    st.integers(),
    st.text(max_size=50),
    st.binary(max_size=50),
    st.floats(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.just(bytearray(b"x")),
)
ANY_OVERRIDE = st.one_of(st.sampled_from(list(PropertyType)), st.integers(0, 10), st.none(), st.text(max_size=5))


@given(
    properties=st.dictionaries(ANY_NAME, ANY_VALUE, max_size=8),
    overrides=st.one_of(st.none(), st.dictionaries(ANY_NAME, ANY_OVERRIDE, max_size=4)),
)
def test_arbitrary_property_maps_never_crash(round_trip, properties, overrides):
    """Whatever the map, post either succeeds (and the message arrives with
    those properties) or raises one of the documented exception classes;
    the session keeps working either way."""
    try:
        message = round_trip.send(b"any", properties, overrides)
    except (TypeError, ValueError, Error) as error:
        assert str(error)  # a message that says what is wrong
    else:
        assert len(message.properties) == len(properties)
    assert round_trip.send(b"after").data == b"after"
