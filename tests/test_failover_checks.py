"""The checks of the failover tests (``failover_traffic.check``) on made-up
ledgers: no broker can be made to drop or reorder a message on demand, so
these feed the checker the deliveries and the broker log line that a real
run has produced (a primary garbage-collecting a message after a leader
kill), and make sure that it fails whatever the brokers' logs do not
explain."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import List

import pytest

from blazingmq import AckStatus
from failover_traffic import Ledger, check

QUEUE = "bmq://bmq.test.persistent.priority/checked"
GC_LINE = (
    "03DEC2026_20:26:25.934 (1) INFO mqbs_filebackedstorage.cpp:890 Partition [2] (cluster: testCluster): "
    f"For storage for queue [{QUEUE}] and queueKey [5B37B21349] configured with TTL value of [3600] seconds, "
    "garbage-collected [1] messages due to TTL expiration.\n"
)


class _Node:
    """A cluster node as ``check`` sees it: a name and log files."""

    def __init__(self, log: Path) -> None:
        self.name = "east1"
        self._log = log

    def log_files(self) -> List[Path]:
        return [self._log]


class _Cluster:
    def __init__(self, log: Path) -> None:
        self.nodes = [_Node(log)]


def _check(tmp_path: Path, deliveries: List[int], broker_dropped_one: bool) -> dict:
    log = tmp_path / "logs.1"
    log.write_text(GC_LINE if broker_dropped_one else "nothing dropped\n")
    ledger = Ledger(QUEUE)
    for number in range(20):
        ledger.posted()
        ledger.acked(number, AckStatus.SUCCESS, bytes(range(16)))
    for number in deliveries:
        ledger.delivered(b"%d" % number)
    figures = {"scenario": "made up", "seconds": 0, **ledger.figures()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check(_Cluster(log), ledger, figures)


def test_everything_delivered_in_order_with_duplicates_passes(tmp_path):
    figures = _check(tmp_path, [*range(10), 8, 9, *range(10, 20)], broker_dropped_one=False)
    assert figures["duplicates"] == 2 and figures["lost"] == []


def test_a_loss_passes_only_when_a_broker_log_explains_it(tmp_path):
    delivered = [number for number in range(20) if number != 5]
    assert _check(tmp_path, delivered, broker_dropped_one=True)["broker_losses"] == [5]
    with pytest.raises(AssertionError, match=r"1 SUCCESS-acknowledged messages never delivered, and no broker log"):
        _check(tmp_path, delivered, broker_dropped_one=False)
    with pytest.raises(AssertionError, match=r"2 SUCCESS-acknowledged messages never delivered"):
        _check(tmp_path, [number for number in delivered if number != 6], broker_dropped_one=True)


def test_late_messages_right_after_a_broker_loss_pass_any_other_disorder_fails(tmp_path):
    # 5 dropped by the broker, 6-9 held back until after 10 and 11.
    held_back = [0, 1, 2, 3, 4, 10, 11, 6, 7, 8, 9, *range(12, 20)]
    assert _check(tmp_path, held_back, broker_dropped_one=True)["broker_reordered"] == [(6, 9)]
    with pytest.raises(AssertionError, match="out of order"):  # no loss to explain it
        _check(tmp_path, [0, 1, 2, 3, 4, 5, 10, 11, 6, 7, 8, 9, *range(12, 20)], broker_dropped_one=True)
    with pytest.raises(AssertionError, match="out of order"):  # 9 before 8 among the late ones
        _check(tmp_path, [0, 1, 2, 3, 4, 10, 11, 6, 7, 9, 8, *range(12, 20)], broker_dropped_one=True)


def test_a_missing_ack_or_a_second_ack_fails(tmp_path):
    ledger = Ledger(QUEUE)
    for number in range(3):
        ledger.posted()
    ledger.acked(0, AckStatus.SUCCESS, bytes(16))
    ledger.acked(1, AckStatus.SUCCESS, bytes(16))
    ledger.acked(1, AckStatus.UNKNOWN, None)
    figures = {"scenario": "made up", "seconds": 0, **ledger.figures()}
    log = tmp_path / "logs.1"
    log.write_text("")
    with pytest.raises(AssertionError, match=r"posts without an ACK: \[2\]"):
        check(_Cluster(log), ledger, figures)
    ledger.acked(2, AckStatus.SUCCESS, bytes(16))
    with pytest.raises(AssertionError, match="posts with several ACKs"):
        check(_Cluster(log), ledger, {**figures, **ledger.figures()})
