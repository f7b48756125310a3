"""Message properties: inference, overrides, their errors, and the round trip
through the broker."""

from __future__ import annotations

import pytest

from blazingmq import Error, PropertyType


@pytest.fixture
def round_trip(session_factory, queue_uri, collector):
    """Post with the given properties; return the received message."""
    received = collector()
    session = session_factory(on_message=received)
    uri = queue_uri()
    session.open_queue(uri, read=True, write=True)

    def post(properties, overrides=None):
        count = len(received.items)
        session.post(uri, b"payload", properties=properties, property_type_overrides=overrides)
        message, handle = received.wait_count(count + 1)[-1]
        handle.confirm()
        return message

    return post


def test_inferred_types_round_trip(round_trip):
    message = round_trip({"flag": True, "count": -(2**63), "name": "zürich", "blob": b"\x00\xff"})
    assert message.properties == {"flag": True, "count": -(2**63), "name": "zürich", "blob": b"\x00\xff"}
    assert message.property_types == {
        "flag": PropertyType.BOOL,
        "count": PropertyType.INT64,
        "name": PropertyType.STRING,
        "blob": PropertyType.BINARY,
    }
    assert type(message.properties["flag"]) is bool


def test_overridden_types_round_trip(round_trip):
    properties = {"c": b"x", "s": -(2**15), "i": 2**31 - 1, "t": b"raw", "b": False}
    overrides = {
        "c": PropertyType.CHAR,
        "s": PropertyType.SHORT,
        "i": PropertyType.INT32,
        "t": PropertyType.STRING,
        "b": PropertyType.BOOL,
    }
    message = round_trip(properties, overrides)
    assert message.properties == {"c": b"x", "s": -(2**15), "i": 2**31 - 1, "t": "raw", "b": False}
    assert message.property_types == overrides


def test_bytes_property_names_are_accepted(round_trip):
    message = round_trip({b"key": 1})
    assert message.properties == {"key": 1}


@pytest.fixture
def writer(session_factory, queue_uri):
    session = session_factory()
    uri = queue_uri()
    session.open_queue(uri, write=True)
    return lambda *args, **kwargs: session.post(uri, b"x", *args, **kwargs)


def test_unsupported_value_type(writer):
    with pytest.raises(Error, match="^Property values of type 'float' are not supported$"):
        writer({"f": 1.5})


def test_override_for_missing_property(writer):
    with pytest.raises(Error, match="^Received override for non-existent property 'nope'$"):
        writer({"a": 1}, {"nope": PropertyType.INT32})


@pytest.mark.parametrize(
    "ptype,value,low,high",
    [
        (PropertyType.SHORT, 2**15, -(2**15), 2**15 - 1),
        (PropertyType.INT32, -(2**31) - 1, -(2**31), 2**31 - 1),
        (PropertyType.INT64, 2**63, -(2**63), 2**63 - 1),
    ],
)
def test_integer_out_of_range(writer, ptype, value, low, high):
    with pytest.raises(ValueError) as info:
        writer({"k": value}, {"k": ptype})
    assert str(info.value) == f"Property k value must be between [{low}, {high}], inclusive"


def test_inferred_int_out_of_int64_range(writer):
    with pytest.raises(ValueError, match=r"must be between \[-9223372036854775808, 9223372036854775807\]"):
        writer({"k": 2**64})


def test_char_needs_exactly_one_byte(writer):
    with pytest.raises(TypeError) as info:
        writer({"k": b"ab"}, {"k": PropertyType.CHAR})
    assert str(info.value) == "'k' value does not have exactly 1 byte, 2 bytes provided."


@pytest.mark.parametrize(
    "ptype,value,given,expected",
    [
        (PropertyType.BOOL, 1, "int", "bool"),
        (PropertyType.INT32, "1", "str", "int"),
        (PropertyType.BINARY, "s", "str", "bytes"),
        (PropertyType.STRING, 5, "int", "str"),
        (PropertyType.CHAR, "c", "str", "bytes"),
    ],
)
def test_wrong_type_for_override(writer, ptype, value, given, expected):
    with pytest.raises(TypeError) as info:
        writer({"k": value}, {"k": ptype})
    assert str(info.value) == f"'k' value is of the incorrect type, '{given}' provided, '{expected}' expected."


def test_property_name_of_wrong_type(writer):
    with pytest.raises(TypeError, match=r"^not expecting type '<class 'int'>'$"):
        writer({1: 1})


def test_empty_property_name(writer):
    with pytest.raises(ValueError, match=r"^Failed to set key '' with rc: -?\d+$"):
        writer({"": 1})


def test_non_utf8_string_property_is_skipped_and_reported(session_factory, queue_uri, collector):
    events = collector()
    received = collector()
    session = session_factory(events, on_message=received)
    uri = queue_uri()
    session.open_queue(uri, read=True, write=True)
    session.post(
        uri,
        b"payload",
        properties={"bad": b"\xff\xfe", "good": "ok"},
        property_type_overrides={"bad": PropertyType.STRING},
    )
    message, handle = received.wait_count(1)[0]
    handle.confirm()
    assert message.properties == {"good": "ok"}
    assert message.property_types == {"good": PropertyType.STRING}
    interface_errors = events.wait_for(
        lambda items: any(type(e).__name__ == "InterfaceError" for e in items)
    )
    (error,) = [e for e in interface_errors if type(e).__name__ == "InterfaceError"]
    assert error.message == "STRING property 'bad' has non-UTF-8 data"


def test_too_many_properties_is_a_value_error(writer):
    # libbmq allows at most 255 properties per message.
    with pytest.raises(ValueError, match=r"^Failed to set key 'p255' with rc: -?\d+$"):
        writer({f"p{i}": i for i in range(256)})
    writer({f"p{i}": i for i in range(255)})


def test_names_change_from_one_message_to_the_next(session_factory, queue_uri, collector):
    """Each message reuses the previous message's names only where they are
    the same: more names, fewer, other ones, none, the same again."""
    received = collector()
    session = session_factory(on_message=received)
    uri = queue_uri()
    session.open_queue(uri, read=True, write=True)
    sent = [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 3, "c": "z"},
        {"a": 4},
        {"a": 5, "b": "x", "c": "z"},
        {},
        {"b": "w"},
        {"d": 6, "b": "v"},
        {"d": 7, "b": "u"},
    ]
    for number, properties in enumerate(sent):
        session.post(uri, b"%d" % number, properties=properties)
    messages = received.wait_count(len(sent))
    for message, handle in messages:
        handle.confirm()
    assert [message.properties for message, _ in messages] == sent
