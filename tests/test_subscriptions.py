"""Subscriptions: consumers that receive only the messages whose properties
match an expression (libbmq's bmqt::Subscription), against the real broker."""

from __future__ import annotations

import pickle

import pytest

import blazingmq
from blazingmq import AckStatus, Error, QueueOptions, Subscription


# -- the value class -----------------------------------------------------


def test_subscription_value_semantics():
    sub = Subscription('price > 10 && region == "EU"', max_unconfirmed_messages=5, consumer_priority=2)
    assert sub.expression == 'price > 10 && region == "EU"'
    assert sub.max_unconfirmed_messages == 5
    assert sub.max_unconfirmed_bytes is None
    assert sub.consumer_priority == 2
    assert repr(sub) == "Subscription('price > 10 && region == \"EU\"', max_unconfirmed_messages=5, consumer_priority=2)"
    same = Subscription('price > 10 && region == "EU"', 5, None, 2)
    assert sub == same and hash(sub) == hash(same)
    assert sub != Subscription('price > 10 && region == "EU"', 5)
    assert {sub: 1}[same] == 1
    assert pickle.loads(pickle.dumps(sub)) == sub
    with pytest.raises(AttributeError, match="immutable"):
        sub.expression = "x > 1"  # type: ignore[misc]


def test_subscription_rejects_bad_arguments():
    with pytest.raises(TypeError, match="expression must be a str, not 'bytes'"):
        Subscription(b"x > 1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expression must not be empty"):
        Subscription("  ")
    with pytest.raises(TypeError, match="max_unconfirmed_bytes must be an int or None, not 'str'"):
        Subscription("x > 1", max_unconfirmed_bytes="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="consumer_priority must be an int or None, not 'bool'"):
        Subscription("x > 1", consumer_priority=True)  # type: ignore[arg-type]


def test_queue_options_hold_subscriptions_as_a_tuple():
    one, two = Subscription("x > 1"), Subscription("x <= 1")
    options = QueueOptions(max_unconfirmed_messages=10, subscriptions=[one, two])
    assert options.subscriptions == (one, two)
    assert options == QueueOptions(10, subscriptions=(one, two))
    assert options != QueueOptions(10)
    assert repr(options) == (
        "QueueOptions(max_unconfirmed_messages=10, "
        "subscriptions=(Subscription('x > 1'), Subscription('x <= 1')))"
    )
    assert QueueOptions().subscriptions is None
    assert repr(QueueOptions(1, 2, 3)) == "QueueOptions(max_unconfirmed_messages=1, max_unconfirmed_bytes=2, consumer_priority=3)"
    with pytest.raises(TypeError, match="not a single 'Subscription'"):
        QueueOptions(subscriptions=one)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must hold Subscription objects, not 'str'"):
        QueueOptions(subscriptions=["x > 1"])  # type: ignore[list-item]


# -- against the broker --------------------------------------------------


def _post_all(producer, uri, collector, messages):
    acks = collector()
    for data, properties in messages:
        producer.post(uri, data, properties=properties, on_ack=acks)
    assert {ack.status for ack in acks.wait_count(len(messages))} == {AckStatus.SUCCESS}


def test_two_consumers_split_one_queue_by_expression(session_factory, queue_uri, collector):
    uri = queue_uri()
    expensive_eu = Subscription('price > 10 && region == "EU"')
    the_rest = Subscription('price <= 10 || region != "EU"')
    got_a, got_b = collector(), collector()
    consumer_a = session_factory(on_message=lambda m, h: (got_a(m), h.confirm()))
    consumer_b = session_factory(on_message=lambda m, h: (got_b(m), h.confirm()))
    consumer_a.open_queue(uri, read=True, options=QueueOptions(subscriptions=[expensive_eu]))
    consumer_b.open_queue(uri, read=True, options=QueueOptions(subscriptions=[the_rest]))
    producer = session_factory()
    producer.open_queue(uri, write=True)
    messages = [
        (b"eu-20", {"price": 20, "region": "EU"}),
        (b"eu-5", {"price": 5, "region": "EU"}),
        (b"us-50", {"price": 50, "region": "US"}),
        (b"eu-11", {"price": 11, "region": "EU"}),
        (b"us-1", {"price": 1, "region": "US"}),
    ]
    _post_all(producer, uri, collector, messages)

    items_a = got_a.wait_count(2)
    items_b = got_b.wait_count(3)
    assert sorted(m.data for m in items_a) == [b"eu-11", b"eu-20"]
    assert sorted(m.data for m in items_b) == [b"eu-5", b"us-1", b"us-50"]
    # Each message names the very subscription object it matched, and keeps
    # the properties it was routed by.
    assert all(m.subscription is expensive_eu for m in items_a)
    assert all(m.subscription is the_rest for m in items_b)
    assert {m.data: m.properties for m in items_a}[b"eu-20"] == {"price": 20, "region": "EU"}
    # Nothing else arrives at either consumer.
    producer.post(uri, b"eu-12", properties={"price": 12, "region": "EU"})
    assert [m.data for m in got_a.wait_count(3)][-1] == b"eu-12"
    assert len(got_b.items) == 3


def test_one_consumer_with_two_subscriptions_tells_them_apart(session_factory, queue_uri, collector):
    uri = queue_uri()
    cheap = Subscription("price < 10", max_unconfirmed_messages=100)
    dear = Subscription("price >= 100", max_unconfirmed_messages=100, consumer_priority=5)
    received = collector()
    consumer = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    consumer.open_queue(uri, read=True, options=QueueOptions(subscriptions=[cheap, dear]))
    producer = session_factory()
    producer.open_queue(uri, write=True)
    _post_all(
        producer,
        uri,
        collector,
        [(b"1", {"price": 1}), (b"500", {"price": 500}), (b"50", {"price": 50}), (b"2", {"price": 2})],
    )
    items = received.wait_count(3)
    by_data = {m.data: m.subscription for m in items}
    assert by_data == {b"1": cheap, b"2": cheap, b"500": dear}
    assert by_data[b"500"] is dear
    # The message matching neither (price 50) stays on the queue.
    with pytest.raises(AssertionError, match="timed out"):
        received.wait_count(4, timeout=1.0)


def test_message_without_subscriptions_has_subscription_none(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    session = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    session.open_queue(uri, read=True, write=True)
    session.post(uri, b"plain", properties={"price": 3})
    message = received.wait_count(1)[0]
    assert message.data == b"plain"
    assert message.subscription is None


def test_configure_queue_changes_subscriptions(session_factory, queue_uri, collector):
    uri = queue_uri()
    red = Subscription('color == "red"')
    blue = Subscription('color == "blue"')
    received = collector()
    consumer = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    consumer.open_queue(uri, read=True, options=QueueOptions(subscriptions=[red]))
    assert consumer.get_queue_options(uri).subscriptions == (red,)
    producer = session_factory()
    producer.open_queue(uri, write=True)

    _post_all(producer, uri, collector, [(b"r1", {"color": "red"}), (b"b1", {"color": "blue"})])
    assert [(m.data, m.subscription) for m in received.wait_count(1)] == [(b"r1", red)]

    # Switch to blue: the blue message that waited is delivered now, and
    # red ones are no longer.
    consumer.configure_queue(uri, QueueOptions(subscriptions=[blue]))
    assert consumer.get_queue_options(uri).subscriptions == (blue,)
    items = received.wait_count(2)
    assert (items[1].data, items[1].subscription) == (b"b1", blue)
    assert items[1].subscription is blue
    _post_all(producer, uri, collector, [(b"r2", {"color": "red"}), (b"b2", {"color": "blue"})])
    items = received.wait_count(3)
    assert items[2].data == b"b2"

    # Options without subscriptions leave them unchanged.
    consumer.configure_queue(uri, QueueOptions(max_unconfirmed_messages=50))
    options = consumer.get_queue_options(uri)
    assert options.max_unconfirmed_messages == 50
    assert options.subscriptions == (blue,)

    # Both at once: the red message that waited arrives.
    consumer.configure_queue(uri, QueueOptions(subscriptions=[red, blue]))
    assert consumer.get_queue_options(uri).subscriptions == (red, blue)
    items = received.wait_count(4)
    assert (items[3].data, items[3].subscription) == (b"r2", red)

    consumer.configure_queue(uri, QueueOptions(0, 0, 0))
    consumer.close_queue(uri)


def test_get_queue_options_reports_subscription_fields(session_factory, queue_uri):
    uri = queue_uri()
    sub = Subscription("n > 0", max_unconfirmed_messages=7, max_unconfirmed_bytes=70000, consumer_priority=3)
    session = session_factory(on_message=lambda m, h: None)
    session.open_queue(uri, read=True, options=QueueOptions(max_unconfirmed_messages=9, subscriptions=[sub]))
    options = session.get_queue_options(uri)
    assert options.max_unconfirmed_messages == 9
    assert options.subscriptions == (sub,)
    reported = options.subscriptions[0]
    assert (reported.max_unconfirmed_messages, reported.max_unconfirmed_bytes, reported.consumer_priority) == (
        7,
        70000,
        3,
    )
    # A queue opened without subscriptions reports none.
    other = queue_uri()
    session.open_queue(other, read=True)
    assert session.get_queue_options(other).subscriptions is None
    assert session.get_queue_options(other) == QueueOptions(1000, 33554432, 0, False)


@pytest.mark.parametrize(
    "expression",
    ["price >", "price > > 10", "(region == \"EU\"", "price @ 3"],
)
def test_invalid_expression_on_open_names_the_problem(session_factory, queue_uri, expression):
    uri = queue_uri()
    session = session_factory(on_message=lambda m, h: None)
    with pytest.raises(Error) as info:
        session.open_queue(uri, read=True, options=QueueOptions(subscriptions=[Subscription(expression)]))
    text = str(info.value)
    assert text.startswith(f"Failed to open {uri} queue: INVALID_ARGUMENT: Expression validation failed")
    assert expression in text
    assert "reason" in text
    # The queue did not open, and the session is still usable.
    with pytest.raises(Error, match="Queue not opened"):
        session.get_queue_options(uri)
    session.open_queue(uri, read=True)


def test_invalid_expression_on_configure_keeps_previous_subscriptions(session_factory, queue_uri, collector):
    uri = queue_uri()
    good = Subscription("n == 1")
    received = collector()
    consumer = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    consumer.open_queue(uri, read=True, options=QueueOptions(subscriptions=[good]))
    with pytest.raises(Error, match=r"^Failed to configure .* queue: INVALID_ARGUMENT: .*n ==="):
        consumer.configure_queue(uri, QueueOptions(subscriptions=[Subscription("n ===")]))
    assert consumer.get_queue_options(uri).subscriptions == (good,)
    producer = session_factory()
    producer.open_queue(uri, write=True)
    producer.post(uri, b"one", properties={"n": 1})
    message = received.wait_count(1)[0]
    assert message.subscription is good


def test_subscriptions_exported_from_package():
    assert blazingmq.Subscription is Subscription
    assert "Subscription" in blazingmq.__all__


def test_subscription_priority_picks_the_consumer(session_factory, queue_uri, collector):
    uri = queue_uri()
    got_high, got_low = collector(), collector()
    high = session_factory(on_message=lambda m, h: (got_high(m), h.confirm()))
    low = session_factory(on_message=lambda m, h: (got_low(m), h.confirm()))
    high.open_queue(uri, read=True, options=QueueOptions(subscriptions=[Subscription("n > 0", consumer_priority=10)]))
    low.open_queue(uri, read=True, options=QueueOptions(subscriptions=[Subscription("n > 0", consumer_priority=1)]))
    producer = session_factory()
    producer.open_queue(uri, write=True)
    _post_all(producer, uri, collector, [(b"%d" % n, {"n": n}) for n in range(1, 11)])
    assert sorted(int(m.data) for m in got_high.wait_count(10)) == list(range(1, 11))
    assert got_low.items == []


def test_subscription_max_unconfirmed_messages_limits_delivery(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    handles = []
    consumer = session_factory(on_message=lambda m, h: (handles.append(h), received(m)))
    consumer.open_queue(
        uri, read=True, options=QueueOptions(subscriptions=[Subscription("n > 0", max_unconfirmed_messages=2)])
    )
    producer = session_factory()
    producer.open_queue(uri, write=True)
    _post_all(producer, uri, collector, [(b"%d" % n, {"n": n}) for n in range(1, 6)])
    received.wait_count(2)
    with pytest.raises(AssertionError, match="timed out"):
        received.wait_count(3, timeout=1.0)
    # Each confirmation makes room for one more.
    handles[0].confirm()
    received.wait_count(3)


def test_empty_subscriptions_on_configure_stop_delivery(session_factory, queue_uri, collector):
    uri = queue_uri()
    received = collector()
    consumer = session_factory(on_message=lambda m, h: (received(m), h.confirm()))
    consumer.open_queue(uri, read=True, options=QueueOptions(subscriptions=[Subscription("n > 0")]))
    consumer.configure_queue(uri, QueueOptions(subscriptions=[]))
    assert consumer.get_queue_options(uri).subscriptions == ()
    producer = session_factory()
    producer.open_queue(uri, write=True)
    _post_all(producer, uri, collector, [(b"1", {"n": 1})])
    with pytest.raises(AssertionError, match="timed out"):
        received.wait_count(1, timeout=1.0)
    consumer.configure_queue(uri, QueueOptions(subscriptions=[Subscription("n == 1")]))
    assert received.wait_count(1)[0].data == b"1"
