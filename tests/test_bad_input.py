"""Misuse of every public method: each is a precise exception (class and
message), and the session stays usable afterwards.

Complements test_session.py (constructor arguments, wrong queue URI types),
test_session_options.py (option values) and test_properties.py (property
values and overrides)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from conftest import paused  # the shared helpers of this folder

import blazingmq
from blazingmq import Error, PropertyType, QueueOptions


@pytest.fixture
def session(session_factory, queue_uri, collector):
    """A session with one queue open for writing and one for reading."""
    received = collector()

    def on_message(message, handle):
        received((message, handle))

    session = session_factory(on_message=on_message)
    session.writer = queue_uri()
    session.reader = queue_uri()
    session.received = received
    session.open_queue(session.writer, write=True)
    session.open_queue(session.reader, read=True, write=True)
    return session


def still_usable(session) -> None:
    acks = []
    done = threading.Event()

    def on_ack(ack):
        acks.append(ack)
        done.set()

    session.post(session.writer, b"still usable", on_ack=on_ack)
    assert done.wait(10)
    assert acks[0].status is blazingmq.AckStatus.SUCCESS


W = "<writer>"  # replaced by the writer queue's URI
R = "<reader>"

BAD_CALLS = [
    # open_queue
    ("open_queue-uri-int", lambda s: s.open_queue(5, write=True), TypeError, "queue_uri must be a str, not 'int'"),
    ("open_queue-uri-None", lambda s: s.open_queue(None, write=True), TypeError, "queue_uri must be a str, not 'NoneType'"),
    ("open_queue-options-dict", lambda s: s.open_queue(W + "x", write=True, options={}), TypeError,
     "options must be a QueueOptions, not 'dict'"),
    ("open_queue-options-too-big", lambda s: s.open_queue(W + "x", read=True, options=QueueOptions(2**40)),
     ValueError, "max_unconfirmed_messages must fit in 32 bits (between -2147483648 and 2147483647), was 1099511627776"),
    ("open_queue-timeout-str", lambda s: s.open_queue(W + "x", write=True, timeout="5"), TypeError,
     "timeout must be a number, not 'str'"),
    ("open_queue-timeout-zero", lambda s: s.open_queue(W + "x", write=True, timeout=0), ValueError,
     "timeout must be greater than 0.0, was 0"),
    ("open_queue-timeout-nan", lambda s: s.open_queue(W + "x", write=True, timeout=float("nan")), ValueError,
     "timeout must be greater than 0.0, was nan"),
    ("open_queue-no-mode", lambda s: s.open_queue(W + "x"), Error,
     "Failed to open {W}x queue: INVALID_FLAGS: Invalid openQueue flags: 'At least one of 'READ' or 'WRITE' mode must be set.'"),
    ("open_queue-twice", lambda s: s.open_queue(W, write=True), Error,
     "Failed to open {W} queue: ALREADY_OPENED: ALREADY_OPENED"),
    ("open_queue-empty-uri", lambda s: s.open_queue("", write=True), Error,
     "Failed to open  queue: INVALID_URI: Invalid URI"),
    ("open_queue-not-a-uri", lambda s: s.open_queue("not a uri", write=True), Error,
     "Failed to open not a uri queue: INVALID_URI: Invalid URI"),
    ("open_queue-nul-in-uri", lambda s: s.open_queue("bmq://bmq.test.mem.priority/a\x00b", write=True), Error,
     "Failed to open bmq://bmq.test.mem.priority/a\x00b queue: INVALID_URI: Invalid URI"),
    ("open_queue-non-ascii-uri", lambda s: s.open_queue("bmq://bmq.test.mem.priority/é", write=True), Error,
     "Failed to open bmq://bmq.test.mem.priority/é queue: INVALID_URI: Invalid URI"),
    ("open_queue-over-long-uri", lambda s: s.open_queue("bmq://bmq.test.mem.priority/" + "a" * 5000, write=True),
     Error, "Failed to open bmq://bmq.test.mem.priority/" + "a" * 5000 + " queue: INVALID_URI: Invalid URI"),
    # configure_queue
    ("configure_queue-options-None", lambda s: s.configure_queue(R, None), TypeError,
     "options must be a QueueOptions, not 'NoneType'"),
    ("configure_queue-priority-too-big", lambda s: s.configure_queue(R, QueueOptions(consumer_priority=-(2**40))),
     ValueError, "consumer_priority must fit in 32 bits (between -2147483648 and 2147483647), was -1099511627776"),
    ("configure_queue-bytes-too-big", lambda s: s.configure_queue(R, QueueOptions(max_unconfirmed_bytes=2**31)),
     ValueError, "max_unconfirmed_bytes must fit in 32 bits (between -2147483648 and 2147483647), was 2147483648"),
    ("configure_queue-subscription-too-big",
     lambda s: s.configure_queue(R, QueueOptions(subscriptions=[blazingmq.Subscription("x > 0", max_unconfirmed_messages=2**32)])),
     ValueError, "max_unconfirmed_messages must fit in 32 bits (between -2147483648 and 2147483647), was 4294967296"),
    ("configure_queue-timeout-list", lambda s: s.configure_queue(R, QueueOptions(), timeout=[]), TypeError,
     "timeout must be a number, not 'list'"),
    ("configure_queue-not-open", lambda s: s.configure_queue(W + "x", QueueOptions()), Error, "Queue not opened"),
    ("configure_queue-uri-bytes", lambda s: s.configure_queue(R.encode(), QueueOptions()), TypeError,
     "queue_uri must be a str, not 'bytes'"),
    # close_queue
    ("close_queue-not-open", lambda s: s.close_queue(W + "x"), Error, "Queue not opened"),
    ("close_queue-timeout-neg", lambda s: s.close_queue(W, timeout=-1.0), ValueError,
     "timeout must be greater than 0.0, was -1.0"),
    # get_queue_options
    ("get_queue_options-not-open", lambda s: s.get_queue_options(W + "x"), Error, "Queue not opened"),
    ("get_queue_options-uri-float", lambda s: s.get_queue_options(1.5), TypeError, "queue_uri must be a str, not 'float'"),
    # post
    ("post-str", lambda s: s.post(W, "text"), TypeError, "not expecting type '<class 'str'>'"),
    ("post-None", lambda s: s.post(W, None), TypeError, "not expecting type '<class 'NoneType'>'"),
    ("post-bytearray", lambda s: s.post(W, bytearray(b"x")), TypeError, "not expecting type '<class 'bytearray'>'"),
    ("post-memoryview", lambda s: s.post(W, memoryview(b"x")), TypeError, "not expecting type '<class 'memoryview'>'"),
    ("post-empty", lambda s: s.post(W, b""), Error, "Failed to construct message: PAYLOAD_EMPTY"),
    ("post-not-open", lambda s: s.post(W + "x", b"x"), Error, "Queue not opened"),
    ("post-uri-bytes", lambda s: s.post(W.encode(), b"x"), TypeError, "queue_uri must be a str, not 'bytes'"),
    ("post-properties-list", lambda s: s.post(W, b"x", properties=[("a", 1)]), TypeError,
     "properties must be a mapping of property names to values, not 'list'"),
    ("post-properties-str", lambda s: s.post(W, b"x", properties="a=1"), TypeError,
     "properties must be a mapping of property names to values, not 'str'"),
    ("post-overrides-list", lambda s: s.post(W, b"x", properties={"a": 1}, property_type_overrides=["a"]), TypeError,
     "property_type_overrides must be a mapping of property names to PropertyType, not 'list'"),
    ("post-override-not-a-type", lambda s: s.post(W, b"x", properties={"a": 1}, property_type_overrides={"a": 3}),
     TypeError, "not expecting type '<class 'int'>'"),
    ("post-override-without-properties",
     lambda s: s.post(W, b"x", property_type_overrides={"a": PropertyType.INT32}), Error,
     "Received override for non-existent property 'a'"),
    ("post-property-None", lambda s: s.post(W, b"x", properties={"a": None}), Error,
     "Property values of type 'NoneType' are not supported"),
    ("post-property-list", lambda s: s.post(W, b"x", properties={"a": [1]}), Error,
     "Property values of type 'list' are not supported"),
    ("post-property-bytearray", lambda s: s.post(W, b"x", properties={"a": bytearray(b"1")}), Error,
     "Property values of type 'bytearray' are not supported"),
    ("post-property-name-None", lambda s: s.post(W, b"x", properties={None: 1}), TypeError,
     "not expecting type '<class 'NoneType'>'"),
    ("post-property-name-non-ascii", lambda s: s.post(W, b"x", properties={"é": 1}), ValueError,
     "Failed to set key 'é' with rc: -7"),
    ("post-property-name-over-long", lambda s: s.post(W, b"x", properties={"n" * 5000: 1}), ValueError,
     "Failed to set key '" + "n" * 5000 + "' with rc: -7"),
    ("post-property-int-too-big", lambda s: s.post(W, b"x", properties={"a": 2**63}), ValueError,
     "Property a value must be between [-9223372036854775808, 9223372036854775807], inclusive"),
    ("post-property-surrogate", lambda s: s.post(W, b"x", properties={"a": "\ud800"}), UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed"),
    ("post-property-value-too-large", lambda s: s.post(W, b"x", properties={"a": b"v" * (64 * 1024 * 1024)}),
     ValueError, "Failed to set key 'a' with rc: -7"),
    ("post-too-many-properties", lambda s: s.post(W, b"x", properties={f"p{i}": i for i in range(256)}),
     ValueError, "Failed to set key 'p255' with rc: -6"),
    # confirm
    ("confirm-None", lambda s: s.confirm(None), TypeError, "message must be a blazingmq.Message, not 'NoneType'"),
    ("confirm-bytes", lambda s: s.confirm(b"guid"), TypeError, "message must be a blazingmq.Message, not 'bytes'"),
    ("confirm_many-not-iterable", lambda s: s.confirm_many(5), TypeError,
     "messages must be an iterable of Message, not 'int'"),
]


@pytest.mark.parametrize("name, call, error, message", BAD_CALLS, ids=[case[0] for case in BAD_CALLS])
def test_bad_input_is_a_precise_error_and_the_session_stays_usable(session, name, call, error, message):
    def resolve(value):
        return value.replace(W, session.writer).replace(R, session.reader) if isinstance(value, str) else value

    def call_with_uris(s):
        class Resolving:
            def __getattr__(self, attribute):
                method = getattr(s, attribute)
                return lambda *args, **kwargs: method(
                    *[resolve(a) for a in args], **{k: resolve(v) for k, v in kwargs.items()}
                )

        return call(Resolving())

    expected = message.replace("{W}", session.writer)
    with pytest.raises(error) as info:
        call_with_uris(session)
    assert type(info.value) is error
    assert str(info.value) == expected
    still_usable(session)


def test_payload_sizes_at_the_limit(session):
    """64 MiB is accepted; one byte more is refused before reaching libbmq."""
    limit = 64 * 1024 * 1024
    with pytest.raises(Error, match="^Failed to construct message: PAYLOAD_TOO_BIG$"):
        session.post(session.writer, b"x" * (limit + 1))
    acks = []
    done = threading.Event()
    session.post(session.writer, b"x" * limit, on_ack=lambda ack: (acks.append(ack), done.set()))
    assert done.wait(60)
    assert acks[0].status is blazingmq.AckStatus.SUCCESS
    still_usable(session)


def test_unknown_domain_is_an_error(session):
    uri = "bmq://bmq.no.such.domain/q"
    with pytest.raises(Error) as info:
        session.open_queue(uri, write=True, timeout=30)
    assert type(info.value) is Error
    assert re.match(rf"^Failed to open {re.escape(uri)} queue: UNKNOWN: Domain file '.*bmq\.no\.such\.domain\.json' doesn't exist$",
                    str(info.value))
    still_usable(session)


def _received_message(session):
    session.post(session.reader, b"to confirm")
    message, handle = session.received.wait_count(1)[0]
    return message, handle


def test_confirm_of_a_message_from_another_session(session, session_factory):
    message, handle = _received_message(session)
    other = session_factory(on_message=lambda m, h: None)
    # The other session has the queue open too: libbmq would send a
    # confirmation the broker ignores.
    other.open_queue(session.reader, read=True, write=True, options=QueueOptions(0, 0, 0))
    with pytest.raises(Error, match="^Cannot confirm a message received by another session$"):
        other.confirm(message)
    with pytest.raises(Error, match="^Cannot confirm a message received by another session$"):
        other.confirm_many([message])
    session.confirm(message)  # the receiving session still can
    other.post(session.reader, b"other still usable")


def test_confirm_on_a_closed_queue_and_double_close(session):
    message, handle = _received_message(session)
    session.configure_queue(session.reader, QueueOptions(0, 0, 0))
    session.close_queue(session.reader)
    with pytest.raises(Error, match="^Queue not opened$"):
        session.confirm(message)
    with pytest.raises(Error, match="^Queue not opened$"):
        handle.confirm()
    with pytest.raises(Error, match="^Queue not opened$"):
        session.close_queue(session.reader)
    still_usable(session)


def test_confirm_while_the_queue_is_closing(own_broker):
    """While ``close_queue`` waits for the (paused) broker, confirming is
    refused with the existing SDK's message, through the handle's fast path
    as through the session."""
    uri = "bmq://bmq.test.mem.priority/confirm-while-closing"
    received = []
    arrived = threading.Event()

    def on_message(message, handle):
        received.append((message, handle))
        arrived.set()

    with blazingmq.Session(lambda event: None, on_message=on_message, broker=own_broker.uri) as session:
        session.open_queue(uri, read=True, write=True)
        session.post(uri, b"to confirm while closing")
        assert arrived.wait(10)
        message, handle = received[0]
        with paused(own_broker):
            closing = threading.Thread(target=session.close_queue, args=(uri,))
            closing.start()
            refused = None
            for _ in range(500):  # until close_queue has begun
                try:
                    handle.confirm()
                except Error as error:
                    refused = error
                    break
                time.sleep(0.01)
            assert refused is not None and str(refused).startswith(
                "Attempting to confirm message on a closing queue"
            )
            with pytest.raises(Error, match="^Attempting to confirm message on a closing queue"):
                session.confirm(message)
        closing.join(30)
        assert not closing.is_alive()
        with pytest.raises(Error, match="^Queue not opened$"):
            handle.confirm()


def test_every_method_on_a_stopped_session(session):
    message, handle = _received_message(session)
    session.stop()
    calls = [
        lambda: session.open_queue(session.writer + "x", write=True),
        lambda: session.configure_queue(session.reader, QueueOptions()),
        lambda: session.close_queue(session.writer),
        lambda: session.get_queue_options(session.writer),
        lambda: session.post(session.writer, b"x"),
        lambda: session.post_many(session.writer, [b"x"]),
        lambda: session.confirm(message),
        lambda: session.confirm_many([message]),
        lambda: handle.confirm(),
    ]
    for call in calls:
        with pytest.raises(Error, match="^Method called after session was stopped$"):
            call()
    session.stop()  # still idempotent


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"on_session_event": None}, TypeError, "on_session_event must be a callable, not None"),
        ({"on_session_event": 1}, TypeError, "on_session_event must be a callable, not 'int'"),
        ({"on_session_event": print, "on_message": "x"}, TypeError, "on_message must be a callable or None, not 'str'"),
        ({"on_session_event": print, "broker": 1}, TypeError, "not expecting type '<class 'int'>'"),
        ({"on_session_event": print, "broker": None}, TypeError, "not expecting type '<class 'NoneType'>'"),
        ({"on_session_event": print, "timeout": "1"}, TypeError, "timeout must be a number, not 'str'"),
        ({"on_session_event": print, "message_compression_algorithm": "ZLIB"}, ValueError,
         "message_compression_algorithm must be a CompressionAlgorithmType, not 'ZLIB'"),
        ({"on_session_event": print, "host_health_monitor": object()}, TypeError,
         "host_health_monitor must be None or an instance of blazingmq.BasicHealthMonitor"),
        ({"on_session_event": print, "channel_write_timeout": "1"}, TypeError,
         "channel_write_timeout must be a number, not 'str'"),
        ({"on_session_event": print, "channel_write_timeout": -1}, ValueError,
         "channel_write_timeout must be 0 or more, was -1"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, message):
    with pytest.raises(error) as info:
        blazingmq.Session(**kwargs)
    assert type(info.value) is error
    assert str(info.value) == message


def test_non_callable_on_ack_is_reported_when_its_ack_arrives(bmq_broker_uri, queue_uri, capfd):
    """Accepted for compatibility; reported (not raised) when the ACK comes,
    and later ACKs still arrive."""
    uri = queue_uri()
    acks = []
    done = threading.Event()
    with blazingmq.Session(lambda e: None, broker=bmq_broker_uri) as session:
        session.open_queue(uri, write=True)
        session.post(uri, b"x", on_ack="not callable")
        session.post(uri, b"y", on_ack=lambda ack: (acks.append(ack), done.set()))
        assert done.wait(10)
    assert [a.status for a in acks] == [blazingmq.AckStatus.SUCCESS]
    err = capfd.readouterr().err
    assert "Traceback" in err and "not callable" in err
