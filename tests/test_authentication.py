"""Authentication against the broker's built-in ``BasicAuthenticator``
(mechanism ``BASIC``, data ``user:password``), with anonymous clients
refused; and no credential or payload in any log."""

from __future__ import annotations

import logging
import threading

import pytest

import blazingmq
from blazingmq import AckStatus, session_events
from blazingmq.exceptions import BrokerTimeoutError
from blazingmq.testing import basic_authentication, start_broker

SECRET = "pa55-Wq8Zr-secret"
CREDENTIAL = ("BASIC", f"alice:{SECRET}".encode())
PAYLOAD_MARKER = b"payload-Xy7Kq-marker"
# Refused connections end in a connect timeout (libbmq retries until then).
REFUSE_FAST = blazingmq.Timeouts(connect_timeout=1.0)


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory):
    """A broker that knows alice and refuses anonymous clients."""
    directory = tmp_path_factory.mktemp("authbroker")
    with start_broker(directory, authentication=basic_authentication({"alice": SECRET})) as broker:
        yield broker


def test_broker_config_disallows_anonymous(auth_broker):
    config = (auth_broker.etc / "bmqbrkrcfg.json").read_text()
    assert '"BasicAuthenticator"' in config and '"disallow"' in config


def test_no_credential_is_refused(auth_broker):
    with pytest.raises(BrokerTimeoutError, match="^Failed to start session: TIMEOUT$"):
        blazingmq.Session(lambda e: None, broker=auth_broker.uri, timeout=REFUSE_FAST)


def test_wrong_credential_is_refused(auth_broker):
    with pytest.raises(BrokerTimeoutError, match="^Failed to start session: TIMEOUT$"):
        blazingmq.Session(
            lambda e: None, broker=auth_broker.uri, timeout=REFUSE_FAST, authn_credential=("BASIC", b"alice:wrong")
        )
    with pytest.raises(BrokerTimeoutError):
        blazingmq.Session(
            lambda e: None, broker=auth_broker.uri, timeout=REFUSE_FAST, authn_credential=("PLAIN", CREDENTIAL[1])
        )


@pytest.mark.parametrize("kind", ["pair", "callable", "with_options"])
def test_right_credential_connects_and_works(auth_broker, kind, collector):
    messages = collector()
    calls = []

    def provide():
        calls.append(threading.current_thread())
        return CREDENTIAL

    def on_message(message, handle):
        handle.confirm()
        messages(message.data)

    if kind == "pair":
        session = blazingmq.Session(
            lambda e: None, on_message=on_message, broker=auth_broker.uri, authn_credential=CREDENTIAL
        )
    elif kind == "callable":
        session = blazingmq.Session(lambda e: None, on_message=on_message, broker=auth_broker.uri, authn_credential=provide)
    else:
        session = blazingmq.Session.with_options(
            lambda e: None,
            on_message=on_message,
            broker=auth_broker.uri,
            session_options=blazingmq.SessionOptions(authn_credential=CREDENTIAL),
        )
    uri = f"bmq://bmq.test.mem.priority/authn_{kind}"
    acks = collector()
    try:
        session.open_queue(uri, read=True, write=True)
        session.post(uri, PAYLOAD_MARKER, on_ack=acks)
        assert acks.wait_count(1)[0].status is AckStatus.SUCCESS
        assert messages.wait_count(1) == [PAYLOAD_MARKER]
        session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
        session.close_queue(uri)
    finally:
        session.stop()
    if kind == "callable":
        # Called by libbmq, on one of its threads, not the constructor's.
        assert len(calls) >= 1
        assert all(thread is not threading.main_thread() for thread in calls)


def test_callable_returning_none_or_raising_is_refused_and_reported(auth_broker, capfd):
    with pytest.raises(BrokerTimeoutError):
        blazingmq.Session(lambda e: None, broker=auth_broker.uri, timeout=REFUSE_FAST, authn_credential=lambda: None)

    def broken():
        raise RuntimeError("credential store unreachable")

    with pytest.raises(BrokerTimeoutError):
        blazingmq.Session(lambda e: None, broker=auth_broker.uri, timeout=REFUSE_FAST, authn_credential=broken)
    err = capfd.readouterr().err
    assert "Traceback" in err and "RuntimeError: credential store unreachable" in err

    with pytest.raises(BrokerTimeoutError):
        blazingmq.Session(
            lambda e: None, broker=auth_broker.uri, timeout=REFUSE_FAST, authn_credential=lambda: ("BASIC", SECRET)
        )
    err = capfd.readouterr().err
    assert "TypeError: the value returned by authn_credential: the data must be bytes, not 'str'" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("BASIC", TypeError, "authn_credential: authn_credential must be None, a (mechanism, data) pair"),
        (("BASIC",), TypeError, "authn_credential: authn_credential must be None, a (mechanism, data) pair"),
        (["BASIC", b"x"], TypeError, "not 'list'"),
        ((b"BASIC", b"alice:x"), TypeError, "authn_credential: the mechanism must be a str, not 'bytes'"),
        (("", b"alice:x"), ValueError, "authn_credential: the mechanism must not be empty"),
        (("BASIC", SECRET), TypeError, "authn_credential: the data must be bytes, not 'str'"),
        (("BASIC", None), TypeError, "authn_credential: the data must be bytes, not 'NoneType'"),
        (42, TypeError, "not 'int'"),
    ],
)
def test_invalid_authn_credential_is_a_precise_error(value, error, message):
    with pytest.raises(error) as info:
        blazingmq.Session(lambda e: None, broker="tcp://127.0.0.1:1", authn_credential=value)
    assert message in str(info.value)
    assert SECRET not in str(info.value)


def test_session_options_repr_hides_the_credential():
    options = blazingmq.SessionOptions(authn_credential=CREDENTIAL)
    assert repr(options) == "SessionOptions(authn_credential=<hidden>)"
    assert options == blazingmq.SessionOptions(authn_credential=CREDENTIAL)
    assert options != blazingmq.SessionOptions()


def test_no_credential_or_payload_in_any_log(auth_broker, caplog, capfd, collector):
    """Everything libbmq and we log, at DEBUG, through a refused and an
    accepted authentication, a post and a delivery, and a reconnection."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("blazingmq._ext").setLevel(logging.DEBUG)
    try:
        with pytest.raises(BrokerTimeoutError):
            blazingmq.Session(
                lambda e: None,
                broker=auth_broker.uri,
                timeout=REFUSE_FAST,
                authn_credential=("BASIC", f"alice:{SECRET}-wrong".encode()),
            )
        events = collector()
        received = collector()

        def on_message(message, handle):
            received(message.data)
            handle.confirm()

        calls = []

        def provide():
            calls.append(1)
            return CREDENTIAL

        uri = "bmq://bmq.test.persistent.priority/authn_logs"
        with blazingmq.Session(events, on_message=on_message, broker=auth_broker.uri, authn_credential=provide) as session:
            session.open_queue(uri, read=True, write=True)
            session.post(uri, PAYLOAD_MARKER, properties={"p": PAYLOAD_MARKER})
            assert received.wait_count(1) == [PAYLOAD_MARKER]
            first_calls = len(calls)
            # A restarted broker authenticates the session again.
            auth_broker.kill()
            auth_broker.start()
            events.wait_for(lambda items: any(isinstance(e, session_events.StateRestored) for e in items), 60)
            assert len(calls) > first_calls
            session.configure_queue(uri, blazingmq.QueueOptions(0, 0, 0))
            session.close_queue(uri)
    finally:
        logging.getLogger("blazingmq._ext").setLevel(logging.NOTSET)
    assert len(caplog.records) > 20  # libbmq's records did reach logging
    text = "\n".join(record.getMessage() for record in caplog.records)
    captured = capfd.readouterr()
    for output in (text, captured.out, captured.err):
        assert SECRET not in output
        assert PAYLOAD_MARKER.decode() not in output
    assert any("Authentication" in record.getMessage() for record in caplog.records)
