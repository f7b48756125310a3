"""``blazingmq.otel``: spans and metrics of real sessions, exported to the
OpenTelemetry SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import blazingmq
import blazingmq.aio
import blazingmq.otel
from blazingmq import AckStatus, PropertyType


class Telemetry:
    """The in-memory exporters of one test."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("test")
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])

    def finished(self, name: str) -> List[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> List[ReadableSpan]:
        """Spans end on other threads (ACKs, libbmq's spans): wait for them."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.finished(name)
            if len(spans) >= count:
                return spans
            if time.monotonic() > deadline:
                names = [span.name for span in self.spans.get_finished_spans()]
                raise AssertionError(f"{count} span(s) {name!r} expected; finished: {names}")
            time.sleep(0.01)

    def points(self, name: str) -> List[Any]:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    result = Telemetry()
    blazingmq.otel.instrument(tracer_provider=result.tracer_provider, meter_provider=result.meter_provider)
    try:
        yield result
    finally:
        blazingmq.otel.uninstrument()


def _attributes(span: ReadableSpan) -> Dict[str, Any]:
    return dict(span.attributes or {})


def test_a_message_is_traced_from_post_to_process(telemetry, session_factory, queue_uri, bmq_broker, collector):
    uri = queue_uri()
    received = collector()

    def on_message(message, handle):
        with telemetry.tracer.start_as_current_span("work"):
            pass
        handle.confirm()
        received((message.properties, message.property_types))

    consumer = session_factory(on_message=on_message)
    consumer.open_queue(uri, read=True)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    acks = collector()
    properties = {"text": "hello", "number": 42, "flag": True, "raw": b"\x00\xff", "small": 7}
    with telemetry.tracer.start_as_current_span("request") as request:
        producer.post(uri, b"payload", properties, {"small": PropertyType.SHORT}, on_ack=acks)
    ack = acks.wait_count(1)[0]
    assert ack.status is AckStatus.SUCCESS
    (got_properties, got_types), = received.wait_count(1)

    send, = telemetry.wait_for(f"send {uri}")
    process, = telemetry.wait_for(f"process {uri}")
    work, = telemetry.wait_for("work")

    assert send.kind is SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == request.get_span_context().span_id
    host, port = bmq_broker.uri.rsplit("/", 1)[1].split(":")
    assert _attributes(send) == {
        "messaging.system": "blazingmq",
        "messaging.destination.name": uri,
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.message.body.size": 7,
        "messaging.message.id": ack.guid.hex().upper(),
        "messaging.blazingmq.ack.status": "SUCCESS",
        "server.address": host,
        "server.port": int(port),
    }
    assert send.status.status_code is StatusCode.UNSET

    # One trace: the consumer's span is the producer's child, and links to it.
    assert process.kind is SpanKind.CONSUMER
    assert process.context.trace_id == send.context.trace_id == request.get_span_context().trace_id
    assert process.parent is not None and process.parent.span_id == send.context.span_id
    assert [link.context.span_id for link in process.links] == [send.context.span_id]
    attributes = _attributes(process)
    assert attributes["messaging.operation.name"] == "process"
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.message.id"] == ack.guid.hex().upper()
    assert attributes["messaging.destination.name"] == uri
    assert [event.name for event in process.events] == ["confirm"]
    # The callback's own spans are children of the process span.
    assert work.parent is not None and work.parent.span_id == process.context.span_id

    # The program's properties arrive as they were; the trace context is
    # one more STRING property.
    assert {name: got_properties[name] for name in properties} == properties
    assert got_types["small"] is PropertyType.SHORT and got_types["number"] is PropertyType.INT64
    assert set(got_properties) == set(properties) | {"traceparent"}
    assert got_types["traceparent"] is PropertyType.STRING
    assert properties == {"text": "hello", "number": 42, "flag": True, "raw": b"\x00\xff", "small": 7}


def test_a_consumer_that_does_not_trace_sees_an_ordinary_property(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    consumer = session_factory(on_message=lambda message, handle: (handle.confirm(), received(message)))
    consumer.open_queue(uri, read=True)
    assert "post" not in vars(consumer) and "confirm" not in vars(consumer)
    exporter = Telemetry()
    blazingmq.otel.instrument(tracer_provider=exporter.tracer_provider, meter_provider=exporter.meter_provider)
    try:
        producer = session_factory()
    finally:
        blazingmq.otel.uninstrument()
    producer.open_queue(uri, write=True)
    producer.post(uri, b"x", {"kind": "k"})
    message = received.wait_count(1)[0]
    assert message.properties["kind"] == "k"
    assert message.properties["traceparent"].startswith("00-")
    assert exporter.finished(f"process {uri}") == []  # nothing traced on this side
    # A post without on_ack asks for no ACK: its span ends with the post.
    send, = exporter.finished(f"send {uri}")
    assert "messaging.message.id" not in _attributes(send)


def test_a_nack_is_an_error_of_the_producer_span(telemetry, session_factory, queue_uri, collector):
    uri = queue_uri("bmq.test.mem.limited")  # 3 messages per queue
    producer = session_factory()
    producer.open_queue(uri, write=True)
    acks = collector()
    for _ in range(4):
        producer.post(uri, b"x", on_ack=acks)
    assert [ack.status for ack in acks.wait_count(4)][-1] is AckStatus.LIMIT_MESSAGES
    spans = telemetry.wait_for(f"send {uri}", 4)
    failed = [span for span in spans if span.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1
    assert _attributes(failed[0])["error.type"] == "LIMIT_MESSAGES"
    assert _attributes(failed[0])["messaging.blazingmq.ack.status"] == "LIMIT_MESSAGES"
    assert "messaging.message.id" not in _attributes(failed[0])


def test_an_exception_of_on_message_is_recorded(telemetry, session_factory, queue_uri, capfd):
    uri = queue_uri()

    def on_message(message, handle):
        handle.confirm()
        raise ValueError("cannot process this")

    consumer = session_factory(on_message=on_message)
    consumer.open_queue(uri, read=True, write=True)
    consumer.post(uri, b"x")
    process, = telemetry.wait_for(f"process {uri}")
    assert process.status.status_code is StatusCode.ERROR
    assert _attributes(process)["error.type"] == "ValueError"
    exception, = [event for event in process.events if event.name == "exception"]
    assert exception.attributes["exception.type"] == "ValueError"
    assert exception.attributes["exception.message"] == "cannot process this"
    # Still reported as before.
    assert "ValueError: cannot process this" in capfd.readouterr().err


def test_post_many_is_one_span_with_the_batch_count(telemetry, session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    consumer = session_factory(on_message=lambda message, handle: (handle.confirm(), received(message)))
    consumer.open_queue(uri, read=True)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    acks = collector()
    producer.post_many(uri, iter([b"a", b"b", b"c", b"d", b"e"]), {"batch": 1}, on_ack=acks)
    acks.wait_count(5)
    received.wait_count(5)
    send, = telemetry.wait_for(f"send {uri}")
    assert _attributes(send)["messaging.batch.message_count"] == 5
    assert _attributes(send)["messaging.blazingmq.ack.status"] == "SUCCESS"
    assert "messaging.message.id" not in _attributes(send)
    processes = telemetry.wait_for(f"process {uri}", 5)
    assert {span.parent.span_id for span in processes if span.parent} == {send.context.span_id}
    assert all(message.properties["batch"] == 1 for message in received.items)


def test_libbmq_spans_are_children_of_the_callers_span(telemetry, bmq_broker_uri, queue_uri):
    uri = queue_uri()
    with telemetry.tracer.start_as_current_span("setup") as setup:
        session = blazingmq.Session(lambda event: None, on_message=lambda m, h: None, broker=bmq_broker_uri)
        try:
            session.open_queue(uri, read=True)
            session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
            session.close_queue(uri)
        finally:
            session.stop()
    names = ("bmq.session.start", "bmq.queue.open", "bmq.queue.configure", "bmq.queue.close", "bmq.session.stop")
    spans = {name: telemetry.wait_for(name)[0] for name in names}
    setup_context = setup.get_span_context()
    for name, span in spans.items():
        assert span.context.trace_id == setup_context.trace_id, name
        assert span.parent is not None and span.parent.span_id == setup_context.span_id, name
        assert span.kind is SpanKind.CLIENT
        assert _attributes(span)["messaging.system"] == "blazingmq"
        assert span.start_time < span.end_time
    for name in ("bmq.queue.open", "bmq.queue.configure", "bmq.queue.close"):
        assert _attributes(spans[name])["bmq.queue.uri"] == uri
    # libbmq's inner spans are children of its outer ones.
    inner, = telemetry.wait_for("bmq.queue.openConfigure")
    assert inner.parent is not None and inner.parent.span_id == spans["bmq.queue.open"].context.span_id


def test_aio_post_and_iteration_are_traced(telemetry, bmq_broker_uri, queue_uri):
    uri = queue_uri()

    async def main() -> Tuple[Any, Any]:
        async with blazingmq.aio.Session(bmq_broker_uri) as session:
            await session.open_queue(uri, read=True, write=True)
            with telemetry.tracer.start_as_current_span("request"):
                ack = await session.post(uri, b"aio", {"k": "v"})
            async for message in session.messages(uri):
                with telemetry.tracer.start_as_current_span("work"):
                    pass
                await message.confirm()
                break
            outside = telemetry.tracer.start_span("after the loop")
            outside.end()
            await session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
            await session.close_queue(uri)
        return ack, message

    ack, message = asyncio.run(main())
    assert message.properties["k"] == "v"
    request, = telemetry.finished("request")
    send, = telemetry.wait_for(f"send {uri}")
    process, = telemetry.wait_for(f"process {uri}")
    work, = telemetry.finished("work")
    after, = telemetry.finished("after the loop")
    assert send.parent.span_id == request.context.span_id
    assert _attributes(send)["messaging.message.id"] == ack.guid.hex().upper()
    assert process.parent.span_id == send.context.span_id
    assert _attributes(process)["messaging.message.id"] == ack.guid.hex().upper()
    assert work.parent.span_id == process.context.span_id
    assert [event.name for event in process.events] == ["confirm"]
    # Leaving the loop ended the span and made it no longer current.
    assert after.parent is None
    # The queue operations awaited in the loop's task are libbmq spans too.
    assert telemetry.wait_for("bmq.queue.close")[0].parent is None


def test_metrics_count_a_known_workload(telemetry, session_factory, queue_uri, collector):
    uri, limited = queue_uri(), queue_uri("bmq.test.mem.limited")
    received = collector()
    consumer = session_factory(on_message=lambda message, handle: (handle.confirm(), received(message)))
    consumer.open_queue(uri, read=True)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    producer.open_queue(limited, write=True)
    acks = collector()
    for _ in range(4):
        producer.post(uri, b"x", on_ack=acks)
    producer.post_many(uri, [b"y"] * 3, on_ack=acks)
    for _ in range(4):
        producer.post(limited, b"z", on_ack=acks)  # the fourth is NACKed
    acks.wait_count(11)
    received.wait_count(7)
    telemetry.wait_for(f"process {uri}", 7)

    def total(name: str, **attributes: Any) -> float:
        return sum(
            point.value if hasattr(point, "value") else point.count
            for point in telemetry.points(name)
            if all(point.attributes.get(key) == value for key, value in attributes.items())
        )

    destination = "messaging.destination.name"
    assert total("messaging.client.sent.messages", **{destination: uri}) == 7
    assert total("messaging.client.sent.messages", **{destination: limited}) == 4
    assert total("messaging.client.operation.duration", **{destination: uri}) == 5  # 4 posts, 1 batch
    assert total("messaging.client.operation.duration", **{"error.type": "LIMIT_MESSAGES"}) == 1
    assert total("messaging.client.consumed.messages", **{destination: uri}) == 7
    assert total("messaging.process.duration", **{destination: uri}) == 7
    assert total("blazingmq.client.acks", **{"messaging.blazingmq.ack.status": "SUCCESS"}) == 10
    assert total("blazingmq.client.acks", **{"messaging.blazingmq.ack.status": "LIMIT_MESSAGES"}) == 1
    assert total("blazingmq.client.nacks") == 1
    assert total("blazingmq.client.messages_in_flight") == 0
    assert total("blazingmq.client.channel_waits") == 0
    assert total("blazingmq.client.reconnections") == 0
    # One series per session.
    clients = {point.attributes["messaging.client.id"] for point in telemetry.points("blazingmq.client.nacks")}
    assert len(clients) == 2


def test_sessions_are_instrumented_only_while_asked(session_factory, queue_uri):
    plain = session_factory()
    assert not blazingmq.otel.is_instrumented()
    assert "post" not in vars(plain) and plain._telemetry is None
    exporter = Telemetry()
    blazingmq.otel.instrument(tracer_provider=exporter.tracer_provider, meter_provider=exporter.meter_provider)
    try:
        assert blazingmq.otel.is_instrumented()
        traced = session_factory()
    finally:
        blazingmq.otel.uninstrument()
    assert "post" in vars(traced) and "post" not in vars(session_factory())
    # Bad input is refused as without tracing.
    with pytest.raises(TypeError, match="^not expecting type"):
        traced.post(queue_uri(), "not bytes")
    with pytest.raises(blazingmq.Error, match="^Queue not opened$"):
        traced.post(queue_uri(), b"x")
    with pytest.raises(TypeError, match="^on_ack must be a callable or None"):
        traced.post_many(queue_uri(), [b"x"], on_ack=3)
    with pytest.raises(TypeError):
        blazingmq.otel.instrument(tracer_provider="not a provider")  # type: ignore[arg-type]


def test_a_failing_span_processor_costs_no_callback(session_factory, queue_uri, collector, capfd):
    from opentelemetry.sdk.trace import SpanProcessor

    class Failing(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            if span.name.startswith("process "):
                raise RuntimeError("on_start failed")

        def on_end(self, span: Any) -> None:
            raise RuntimeError("on_end failed")

    provider = TracerProvider()
    provider.add_span_processor(Failing())
    blazingmq.otel.instrument(tracer_provider=provider, meter_provider=MeterProvider())
    try:
        uri = queue_uri()
        received = collector()
        session = session_factory(on_message=lambda message, handle: (handle.confirm(), received(message)))
        session.open_queue(uri, read=True, write=True)
        acks = collector()
        session.post(uri, b"x", on_ack=acks)  # its span ends with the ACK, on the callback thread
        session.post(uri, b"y")  # its span ends here
        assert acks.wait_count(1)[0].status is AckStatus.SUCCESS
        received.wait_count(2)
        assert session.stats().messages_confirmed == 2
    finally:
        blazingmq.otel.uninstrument()
    assert "blazingmq.otel: recording telemetry failed" in capfd.readouterr().err


def test_importing_blazingmq_imports_no_opentelemetry():
    import subprocess
    import sys

    code = "import sys, blazingmq, blazingmq.aio; print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
