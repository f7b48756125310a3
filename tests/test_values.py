"""Value classes, enums and reprs of the public API (no broker needed)."""

from __future__ import annotations

import pytest

import blazingmq
from blazingmq import (
    Ack,
    AckStatus,
    BasicHealthMonitor,
    CompressionAlgorithmType,
    Error,
    Message,
    MessageHandle,
    PropertyType,
    QueueOptions,
    SessionOptions,
    Timeouts,
    session_events,
)


def test_package_exports_exactly_the_contract():
    assert sorted(blazingmq.__all__) == sorted(
        [
            "Ack",
            "AckStatus",
            "BasicHealthMonitor",
            "CompressionAlgorithmType",
            "Error",
            "PropertyType",
            "PropertyTypeDict",
            "PropertyValueDict",
            "QueueOptions",
            "Message",
            "MessageHandle",
            "Session",
            "SessionOptions",
            "SessionStats",  # issue 15
            "Subscription",
            "Timeouts",
            "__version__",
            "exceptions",
            "session_events",
        ]
    )
    for name in blazingmq.__all__:
        assert hasattr(blazingmq, name)
    assert issubclass(blazingmq.exceptions.BrokerTimeoutError, blazingmq.Error)


def test_testing_host_health_alias():
    import blazingmq.testing

    assert blazingmq.testing.HostHealth is BasicHealthMonitor


def test_queue_options_defaults_equality_and_repr():
    assert QueueOptions.DEFAULT_MAX_UNCONFIRMED_MESSAGES == 1000
    assert QueueOptions.DEFAULT_MAX_UNCONFIRMED_BYTES == 33554432
    assert QueueOptions.DEFAULT_CONSUMER_PRIORITY == 0
    assert QueueOptions.DEFAULT_SUSPENDS_ON_BAD_HOST_HEALTH is False
    assert QueueOptions() == QueueOptions()
    assert QueueOptions(0, 0, 0) != QueueOptions()
    assert repr(QueueOptions()) == "QueueOptions()"
    assert repr(QueueOptions(0, 0, 0)) == (
        "QueueOptions(max_unconfirmed_messages=0, max_unconfirmed_bytes=0, consumer_priority=0)"
    )
    assert repr(QueueOptions(suspends_on_bad_host_health=True)) == "QueueOptions(suspends_on_bad_host_health=True)"


@pytest.mark.parametrize("kwargs", [{"max_unconfirmed_messages": "1"}, {"consumer_priority": 1.5}])
def test_queue_options_reject_non_ints(kwargs):
    with pytest.raises(TypeError):
        QueueOptions(**kwargs)


def test_timeouts_and_session_options_reprs():
    assert repr(Timeouts()) == "Timeouts()"
    assert repr(Timeouts(connect_timeout=5.0)) == "Timeouts(connect_timeout=5.0)"
    assert Timeouts(1.0) == Timeouts(connect_timeout=1.0)
    assert Timeouts(1.0) != Timeouts(2.0)
    options = SessionOptions(num_processing_threads=2, timeouts=Timeouts(open_queue_timeout=3.0))
    assert repr(options) == "SessionOptions(timeouts=Timeouts(open_queue_timeout=3.0), num_processing_threads=2)"
    assert options == SessionOptions(num_processing_threads=2, timeouts=Timeouts(open_queue_timeout=3.0))


def test_enum_reprs():
    assert repr(AckStatus.SUCCESS) == "<AckStatus.SUCCESS>"
    assert repr(PropertyType.INT32) == "<PropertyType.INT32>"
    assert repr(CompressionAlgorithmType.ZLIB) == "<CompressionAlgorithmType.ZLIB>"
    assert {s.name for s in AckStatus} == {
        "SUCCESS", "UNKNOWN", "TIMEOUT", "NOT_CONNECTED", "CANCELED", "NOT_SUPPORTED", "REFUSED",
        "INVALID_ARGUMENT", "NOT_READY", "LIMIT_BYTES", "LIMIT_MESSAGES", "STORAGE_FAILURE", "UNRECOGNIZED",
    }


@pytest.mark.parametrize("cls", [Ack, Message, MessageHandle])
def test_no_public_constructors(cls):
    with pytest.raises(Error, match=f"^The {cls.__name__} class does not have a public constructor.$"):
        cls()


def test_health_monitor_repr():
    assert repr(BasicHealthMonitor()) == "BasicHealthMonitor()"


def test_session_event_reprs_and_equality():
    assert repr(session_events.Connected()) == "<Connected>"
    assert repr(session_events.ConnectionLost("why")) == "<ConnectionLost: why>"
    assert session_events.Connected() == session_events.Connected()
    assert session_events.Connected() != session_events.Disconnected()
    assert session_events.Error("a") != session_events.Error("b")
    event = session_events.QueueReopened("bmq://d/q")
    assert event.queue_uri == "bmq://d/q"
    assert event == session_events.QueueReopened("bmq://d/q")
    assert event != session_events.QueueReopened("bmq://d/other")


def test_log_session_event_levels(caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="blazingmq.session_events")
    session_events.log_session_event(session_events.Connected())
    session_events.log_session_event(session_events.ConnectionLost())
    session_events.log_session_event(session_events.ConnectionTimeout())
    session_events.log_session_event(session_events.ChannelHighWatermark())
    session_events.log_session_event(session_events.ChannelLowWatermark())
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "Received session event: <Connected>"),
        ("WARNING", "Received session event: <ConnectionLost>"),
        ("ERROR", "Received session event: <ConnectionTimeout>"),
        ("WARNING", "Received session event: <ChannelHighWatermark>"),
        ("INFO", "Received session event: <ChannelLowWatermark>"),
    ]
    assert all(r.name == "blazingmq.session_events" for r in caplog.records)


def test_ack_status_codes_including_unknown_ones():
    # libbmq turns every wire code into a known AckResult, so no broker (and
    # not bmqa::MockSession, which encodes through the same wire codes) can
    # produce an unknown one; the mapping the extension uses is tested here.
    from blazingmq._enums import ack_status_from_code

    assert ack_status_from_code(0) is AckStatus.SUCCESS
    assert ack_status_from_code(-4) is AckStatus.CANCELED
    assert ack_status_from_code(-100) is AckStatus.LIMIT_MESSAGES
    assert ack_status_from_code(-103) is AckStatus.LIMIT_BYTES
    assert ack_status_from_code(-104) is AckStatus.STORAGE_FAILURE
    assert ack_status_from_code(12345) is AckStatus.UNRECOGNIZED
    assert ack_status_from_code(-9999) is AckStatus.UNRECOGNIZED


def test_session_event_mapping_from_libbmq_values(collector):
    # The conversion of libbmq's (type, status, description, queue) into
    # event objects; failures that a broker produces only rarely (a reopen
    # that times out) are exercised here with libbmq's own values.
    from blazingmq._session import _EventSink

    events = collector()
    sink = _EventSink(events)
    sink.session_event(1, 0, "SUCCESS", "", None)
    sink.session_event(8, -2, "TIMEOUT", "reopen timed out", "bmq://d/q")
    sink.session_event(8, 0, "SUCCESS", "", "bmq://d/q")
    sink.session_event(6, -2, "TIMEOUT", "no broker", None)
    sink.session_event(7, 0, "SUCCESS", "", "bmq://d/q")
    sink.session_event(-1, -1, "UNKNOWN", "boom", None)
    sink.session_event(18, 0, "SUCCESS", "", None)
    sink.interface_error("Messages received but no callback configured")
    assert events.items == [
        session_events.Connected(),
        session_events.QueueReopenFailed("bmq://d/q", "reopen timed out: TIMEOUT (-2)"),
        session_events.QueueReopened("bmq://d/q"),
        session_events.ConnectionTimeout("no broker: TIMEOUT (-2)"),
        session_events.InterfaceError("Unexpected event type: QUEUE_OPEN_RESULT"),
        session_events.Error("boom: UNKNOWN (-1)"),
        session_events.ChannelHighWatermark(),
        session_events.InterfaceError("Messages received but no callback configured"),
    ]
