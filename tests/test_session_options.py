"""Session constructor arguments: validation before anything reaches libbmq
(libbmq aborts the process on some out-of-range values), and the options
that do reach it."""

from __future__ import annotations

import pytest

import blazingmq
from blazingmq import CompressionAlgorithmType, Session, SessionOptions, Timeouts, session_events


@pytest.mark.parametrize("value", [0, -1.0, 2**63, float("inf")])
def test_bad_timeout_values(value):
    with pytest.raises(ValueError) as info:
        Session(print, timeout=value)
    assert str(info.value) == f"timeout must be greater than 0.0, was {value}"


def test_bad_timeout_inside_timeouts():
    with pytest.raises(ValueError, match=r"^timeout must be greater than 0.0, was -5$"):
        Session(print, timeout=Timeouts(connect_timeout=-5))


def test_compression_must_be_the_enum():
    with pytest.raises(ValueError):
        Session(print, message_compression_algorithm=1)  # type: ignore[arg-type]


def test_host_health_monitor_type():
    with pytest.raises(TypeError) as info:
        Session(print, host_health_monitor=object())  # type: ignore[arg-type]
    assert str(info.value) == (
        "host_health_monitor must be None or an instance of blazingmq.BasicHealthMonitor"
    )


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"num_processing_threads": 0}, "num_processing_threads must be at least 1"),
        ({"blob_buffer_size": 0}, "blob_buffer_size must be greater than 0"),
        ({"channel_high_watermark": 8 * 1024 * 1024}, "channel_high_watermark must be greater than 8388608"),
        ({"channel_high_watermark": 2**63}, "channel_high_watermark must be greater than 8388608"),
        ({"event_queue_watermarks": (10, 10)}, "event_queue_watermarks must satisfy 0 <= low < high"),
        ({"event_queue_watermarks": (-1, 10)}, "event_queue_watermarks must satisfy 0 <= low < high"),
        ({"stats_dump_interval": 31}, "stats_dump_interval must be a multiple of 30"),
        ({"stats_dump_interval": 3600}, "stats_dump_interval must be a multiple of 30"),
    ],
)
def test_out_of_range_pass_through_options(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Session(print, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_processing_threads": "2"},
        {"blob_buffer_size": 1.5},
        {"channel_high_watermark": "big"},
        {"event_queue_watermarks": 5},
        {"stats_dump_interval": "30"},
    ],
)
def test_wrong_types_of_pass_through_options(kwargs):
    with pytest.raises(TypeError):
        Session(print, **kwargs)


def test_all_options_reach_a_working_session(bmq_broker_uri, queue_uri, collector):
    events = collector()
    acks = collector()
    received = collector()
    session = Session(
        events,
        on_message=received,
        broker=bmq_broker_uri,
        message_compression_algorithm=CompressionAlgorithmType.ZLIB,
        timeout=Timeouts(connect_timeout=30, disconnect_timeout=30, open_queue_timeout=30,
                         configure_queue_timeout=30, close_queue_timeout=30),
        host_health_monitor=blazingmq.BasicHealthMonitor(),
        num_processing_threads=2,
        blob_buffer_size=8192,
        channel_high_watermark=64 * 1024 * 1024,
        event_queue_watermarks=(10, 100),
        stats_dump_interval=0,
    )
    try:
        uri = queue_uri()
        session.open_queue(uri, read=True, write=True)
        payload = b"compressible " * 1000
        session.post(uri, payload, on_ack=acks)
        assert acks.wait_count(1)[0].status is blazingmq.AckStatus.SUCCESS
        message, handle = received.wait_count(1)[0]
        assert message.data == payload
        handle.confirm()
    finally:
        session.stop()
    assert isinstance(events.items[0], session_events.Connected)


def test_with_options(bmq_broker_uri, collector):
    events = collector()
    options = SessionOptions(timeouts=Timeouts(connect_timeout=30.0), num_processing_threads=1)
    with Session.with_options(events, broker=bmq_broker_uri, session_options=options):
        events.wait_count(1)
    assert [type(e) for e in events.items] == [session_events.Connected, session_events.Disconnected]
