"""libbmq's own log records go to Python logging, not to stderr."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import time

import blazingmq


def test_libbmq_records_reach_the_blazingmq_ext_logger(bmq_broker_uri, caplog):
    caplog.set_level(logging.INFO, logger="blazingmq._ext")
    with blazingmq.Session(lambda e: None, broker=bmq_broker_uri) as session:
        session.open_queue("bmq://bmq.test.mem.priority/logging", write=True)
    deadline = time.monotonic() + 10
    while not any(r.name.startswith("blazingmq.BMQ") for r in caplog.records):
        assert time.monotonic() < deadline, "no libbmq record was forwarded"
        time.sleep(0.05)
    record = next(r for r in caplog.records if r.name.startswith("blazingmq.BMQ"))
    assert record.levelno >= logging.INFO
    assert record.getMessage()


def test_logger_level_controls_libbmq_records(bmq_broker_uri, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("blazingmq._ext").setLevel(logging.CRITICAL)
    # Records of earlier tests' sessions may still be on their way.
    time.sleep(1.0)
    caplog.clear()
    try:
        with blazingmq.Session(lambda e: None, broker=bmq_broker_uri):
            pass
        time.sleep(1.0)
        assert not [r for r in caplog.records if r.name.startswith("blazingmq.BMQ")]
    finally:
        logging.getLogger("blazingmq._ext").setLevel(logging.NOTSET)


QUIET = textwrap.dedent(
    """\
    import sys, time, blazingmq
    with blazingmq.Session(lambda e: None, broker=sys.argv[1]) as session:
        try:
            session.open_queue("bmq://no.such.domain/q", write=True, timeout=10)
        except blazingmq.Error as error:
            print("open failed:", error)
    time.sleep(0.5)
    """
)

# BALL's own console format starts with a timestamp such as 28NOV2026_07:01:02.
_BALL_LINE = re.compile(r"\d\d[A-Z]{3}\d{4}_\d\d:\d\d:\d\d")


def test_libbmq_writes_nothing_of_its_own_to_stderr(bmq_broker_uri):
    result = subprocess.run(
        [sys.executable, "-c", QUIET, bmq_broker_uri], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "open failed: Failed to open bmq://no.such.domain/q queue:" in result.stdout
    assert not _BALL_LINE.search(result.stderr), result.stderr
