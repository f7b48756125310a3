"""The ``blazingmq`` command (also ``python -m blazingmq``).

Subcommands: ``produce``, ``consume``, ``bench`` and ``broker``; see
``blazingmq --help``.  Results go to stdout, one line per message (or JSON
lines with ``--json``), so they can be piped; progress and rates go to
stderr, and only when stderr is a terminal.

Exit codes (``EXIT_*`` below): 0 success; 1 the broker refused something (a
NACK, a queue that could not be opened); 2 usage error; 3 no connection to
the broker; 4 timed out (ACKs, or ``consume --count`` messages, did not all
arrive in time); 130 interrupted (Ctrl-C / SIGINT).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

DEFAULT_BROKER = "tcp://localhost:30114"

_EPILOG = """\
exit codes:
  0    success
  1    the broker refused: a message was not acknowledged (NACK), or a queue
       could not be opened
  2    usage error
  3    could not connect to the broker
  4    timed out: ACKs, or the --count messages of consume, did not arrive in time
  130  interrupted (Ctrl-C)
"""

# `--property name[:type]=value`: the type names and how a value is parsed.
_PROPERTY_TYPES = ("string", "int64", "int32", "short", "bool", "char", "binary")


class _DeferredInterrupt:
    """Holds Ctrl-C back while a message is written and confirmed, so that
    a message printed is always a message confirmed; the interrupt is
    raised as soon as that is done.  Only usable from the main thread."""

    def __init__(self) -> None:
        self._holding = False
        self._pending = False
        self._previous: Any = None

    def install(self) -> None:
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._holding:
            self._pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> None:
        self._holding = True

    def __exit__(self, *exc_info: Any) -> None:
        self._holding = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


class _UsageError(Exception):
    """Bad arguments found after argparse (reported like argparse's)."""


class _Failure(Exception):
    """Ends a subcommand with a message on stderr and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- output helpers ------------------------------------------------------


class _Progress:
    """A status line rewritten in place on stderr, when it is a terminal."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 0.5) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._interval = interval
        self._last = 0.0
        self._width = 0

    def update(self, text: str, force: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        padding = max(0, self._width - len(text))
        self._width = len(text)
        self._stream.write("\r" + text + " " * padding)
        self._stream.flush()

    def clear(self) -> None:
        if self._enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


class _Rate:
    """Messages per second since the start and over the last interval."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._last_time = self.start
        self._last_count = 0
        self.current = 0.0

    def sample(self, count: int) -> float:
        now = time.monotonic()
        elapsed = now - self._last_time
        if elapsed >= 0.5:
            self.current = (count - self._last_count) / elapsed
            self._last_time, self._last_count = now, count
        return self.current

    def overall(self, count: int) -> float:
        elapsed = time.monotonic() - self.start
        return count / elapsed if elapsed > 0 else 0.0


def _json_value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _text_payload(data: bytes) -> str:
    """The payload on one line: UTF-8 text with backslash escapes for
    newlines, tabs, backslashes and bytes that are not UTF-8."""
    text = data.decode("utf-8", "backslashreplace")
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


# -- session helpers -----------------------------------------------------


def _connect(args: argparse.Namespace, on_message: Any = None) -> Any:
    import blazingmq

    try:
        return blazingmq.Session(
            blazingmq.session_events.log_session_event,
            on_message=on_message,
            broker=args.broker,
            timeout=blazingmq.Timeouts(connect_timeout=args.connect_timeout),
        )
    except blazingmq.Error as error:
        raise _Failure(EXIT_CONNECTION, f"cannot connect to {args.broker}: {error}") from None


def _open_queue(session: Any, uri: str, **kwargs: Any) -> None:
    import blazingmq

    try:
        session.open_queue(uri, **kwargs)
    except blazingmq.exceptions.BrokerTimeoutError as error:
        raise _Failure(EXIT_TIMEOUT, str(error)) from None
    except blazingmq.Error as error:
        raise _Failure(EXIT_REFUSED, str(error)) from None


def _parse_property(text: str) -> Tuple[str, Any, Any]:
    """``name[:type]=value`` -> (name, value, PropertyType or None)."""
    from blazingmq import PropertyType

    name, equals, raw = text.partition("=")
    if not equals:
        raise _UsageError(f"--property {text!r}: expected name=value or name:type=value")
    name, colon, type_name = name.partition(":")
    if not name:
        raise _UsageError(f"--property {text!r}: the name is empty")
    if not colon:
        return name, raw, None
    type_name = type_name.lower()
    try:
        if type_name == "string":
            return name, raw, PropertyType.STRING
        if type_name in ("int64", "int32", "short"):
            return name, int(raw, 0), PropertyType[type_name.upper()]
        if type_name == "bool":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return name, raw.lower() in ("true", "1"), PropertyType.BOOL
        if type_name in ("char", "binary"):
            return name, bytes.fromhex(raw), PropertyType[type_name.upper()]
    except ValueError as error:
        raise _UsageError(f"--property {text!r}: {error}") from None
    raise _UsageError(f"--property {text!r}: unknown type {type_name!r}; use one of {', '.join(_PROPERTY_TYPES)}")


# -- produce -------------------------------------------------------------


def _payloads(args: argparse.Namespace) -> Iterator[bytes]:
    """The messages to post, in order (``--count`` repeats them)."""
    if args.size is not None:
        if args.messages or args.file:
            raise _UsageError("--size generates the payloads: give no messages or --file with it")
        count = 1 if args.count is None else args.count
        for number in range(count):
            # Numbered, so that a consumer can tell them apart.
            yield (f"{number} ".encode() + b"x" * args.size)[: args.size]
        return
    sources: List[bytes] = [message.encode() for message in args.messages]
    for path in args.file:
        try:
            sources.append(Path(path).read_bytes())
        except OSError as error:
            raise _UsageError(f"--file {path}: {error.strerror}") from None
    if sources:
        count = len(sources) if args.count is None else args.count
        for number in range(count):
            yield sources[number % len(sources)]
        return
    # Standard input, a message per line.
    posted = 0
    for line in sys.stdin.buffer:
        if args.count is not None and posted >= args.count:
            return
        line = line.rstrip(b"\r\n")
        if line:
            posted += 1
            yield line


def _produce(args: argparse.Namespace) -> int:
    import blazingmq

    if args.count is not None and args.count < 0:
        raise _UsageError("--count must be >= 0")
    if args.size is not None and args.size < 1:
        raise _UsageError("--size must be >= 1")
    if args.rate is not None and args.rate <= 0:
        raise _UsageError("--rate must be > 0")
    properties: Dict[str, Any] = {}
    overrides: Dict[str, Any] = {}
    for text in args.property:
        name, value, property_type = _parse_property(text)
        properties[name] = value
        if property_type is not None:
            overrides[name] = property_type
    payloads = _payloads(args)

    acks: "queue.Queue[Tuple[int, Any]]" = queue.Queue()
    results: Dict[int, Any] = {}
    progress = _Progress()
    rate = _Rate()
    failed = 0
    out = sys.stdout

    def report(index: int, ack: Any) -> None:
        nonlocal failed
        results[index] = ack
        ok = ack.status is blazingmq.AckStatus.SUCCESS
        if not ok:
            failed += 1
        guid = ack.guid.hex().upper() if ack.guid else ""
        if args.json:
            out.write(json.dumps({"index": index, "guid": guid or None, "status": ack.status.name}) + "\n")
        else:
            out.write(f"{index}\t{guid or '-'}\t{ack.status.name}\n")

    def drain(block_until: Optional[float]) -> None:
        while True:
            timeout = None if block_until is None else block_until - time.monotonic()
            try:
                if block_until is None:
                    index, ack = acks.get_nowait()
                else:
                    if timeout is not None and timeout <= 0:
                        return
                    index, ack = acks.get(timeout=min(timeout or 0.2, 0.2))
            except queue.Empty:
                if block_until is None:
                    return
                if len(results) >= posted:
                    return
                continue
            report(index, ack)
            if block_until is not None and len(results) >= posted:
                return

    session = _connect(args)
    posted = 0
    try:
        _open_queue(session, args.queue, write=True)
        start = time.monotonic()
        for payload in payloads:
            if args.rate is not None:
                delay = start + posted / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            index = posted
            try:
                session.post(
                    args.queue,
                    payload,
                    properties=properties or None,
                    property_type_overrides=overrides or None,
                    on_ack=lambda ack, index=index: acks.put((index, ack)),
                )
            except blazingmq.Error as error:
                raise _Failure(EXIT_REFUSED, f"message {index}: {error}") from None
            posted += 1
            drain(None)
            progress.update(
                f"posted {posted} ({rate.sample(posted):.0f} msg/s), acknowledged {len(results)}, failed {failed}"
            )
        drain(time.monotonic() + args.ack_timeout)
        progress.clear()
        out.flush()
        missing = posted - len(results)
        summary = f"posted {posted} messages to {args.queue}: {len(results) - failed} acknowledged, {failed} failed"
        if missing:
            summary += f", {missing} without an ACK after {args.ack_timeout} s"
        print(summary, file=sys.stderr)
        if failed:
            return EXIT_REFUSED
        if missing:
            return EXIT_TIMEOUT
        return EXIT_OK
    finally:
        progress.clear()
        session.stop()


# -- consume -------------------------------------------------------------


def _consume(args: argparse.Namespace) -> int:
    import blazingmq

    if args.count is not None and args.count < 1:
        raise _UsageError("--count must be >= 1")
    if args.timeout is not None and args.timeout <= 0:
        raise _UsageError("--timeout must be > 0")
    if args.output_dir is not None:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    subscriptions = [blazingmq.Subscription(expression) for expression in args.subscription]
    options = blazingmq.QueueOptions(
        max_unconfirmed_messages=args.max_unconfirmed,
        subscriptions=subscriptions or None,
    )
    inbox: "queue.Queue[Any]" = queue.Queue()
    progress = _Progress()
    rate = _Rate()
    out = sys.stdout
    received = 0
    deadline = None if args.timeout is None else time.monotonic() + args.timeout

    session = _connect(args, on_message=lambda message, handle: inbox.put(message))
    opened = False
    hold_interrupt = _DeferredInterrupt()
    if threading.current_thread() is threading.main_thread():
        hold_interrupt.install()
    try:
        _open_queue(session, args.queue, read=True, options=options)
        opened = True
        while args.count is None or received < args.count:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                message = inbox.get(timeout=0.2 if remaining is None else min(0.2, remaining))
            except queue.Empty:
                progress.update(f"received {received} ({rate.sample(received):.0f} msg/s)")
                continue
            # Confirmed once written, so an interrupted run loses nothing;
            # Ctrl-C waits for both, so nothing written is delivered again.
            with hold_interrupt:
                _write_message(args, out, received, message)
                if not args.peek:
                    session.confirm(message)
            received += 1
            progress.update(f"received {received} ({rate.sample(received):.0f} msg/s)")
        progress.clear()
        out.flush()
        print(f"received {received} messages from {args.queue}", file=sys.stderr)
        if args.count is not None and received < args.count:
            print(f"timed out after {args.timeout} s waiting for {args.count} messages", file=sys.stderr)
            return EXIT_TIMEOUT
        return EXIT_OK
    finally:
        hold_interrupt.uninstall()
        progress.clear()
        if opened:
            try:
                # Pause delivery, then close: nothing unconfirmed is lost.
                session.configure_queue(args.queue, blazingmq.QueueOptions(0, 0, 0))
                session.close_queue(args.queue)
            except blazingmq.Error:
                pass
        session.stop()


def _write_message(args: argparse.Namespace, out: TextIO, number: int, message: Any) -> None:
    guid = message.guid.hex().upper()
    path = None
    if args.output_dir is not None:
        path = Path(args.output_dir) / f"{number:06d}-{guid}.bin"
        path.write_bytes(message.data)
    properties = {name: _json_value(value) for name, value in message.properties.items()}
    if args.json:
        record: Dict[str, Any] = {
            "guid": guid,
            "queue": message.queue_uri,
            "properties": properties,
            "property_types": {name: kind.name for name, kind in message.property_types.items()},
        }
        if path is not None:
            record["file"] = str(path)
        else:
            try:
                record["data"] = message.data.decode("utf-8")
            except UnicodeDecodeError:
                record["data_base64"] = base64.b64encode(message.data).decode()
        if message.subscription is not None:
            record["subscription"] = message.subscription.expression
        out.write(json.dumps(record) + "\n")
    else:
        shown = str(path) if path is not None else _text_payload(message.data)
        line = f"{guid}\t{shown}"
        if properties:
            line += "\t" + json.dumps(properties, separators=(",", ":"))
        out.write(line + "\n")
    out.flush()


# -- bench ---------------------------------------------------------------


def _bench(args: argparse.Namespace) -> int:
    import blazingmq

    if args.count < 1 or args.size < 1:
        raise _UsageError("--count and --size must be >= 1")
    lock = threading.Lock()
    counts = {"acked": 0, "nacked": 0, "consumed": 0}
    consumed_all = threading.Event()

    def on_ack(ack: Any) -> None:
        with lock:
            counts["acked" if ack.status is blazingmq.AckStatus.SUCCESS else "nacked"] += 1

    def on_message(message: Any, handle: Any) -> None:
        handle.confirm()
        with lock:
            counts["consumed"] += 1
            if counts["consumed"] >= args.count:
                consumed_all.set()

    payload = b"x" * args.size
    progress = _Progress()
    produce_rate, consume_rate = _Rate(), _Rate()
    consumer = _connect(args, on_message=on_message) if args.mode in ("both", "consume") else None
    producer = None
    try:
        if consumer is not None:
            _open_queue(consumer, args.queue, read=True)
        if args.mode in ("both", "produce"):
            producer = _connect(args)
            _open_queue(producer, args.queue, write=True)
        start = time.monotonic()
        posted = 0
        if producer is not None:
            while posted < args.count:
                try:
                    producer.post(args.queue, payload, on_ack=on_ack)
                except blazingmq.exceptions.BandwidthLimitError:
                    continue
                posted += 1
                if posted % 256 == 0:
                    _bench_progress(progress, posted, counts, produce_rate, consume_rate)
        produced_time = time.monotonic() - start
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with lock:
                done_acks = producer is None or counts["acked"] + counts["nacked"] >= posted
                done_consume = consumer is None or counts["consumed"] >= args.count
            if done_acks and done_consume:
                break
            _bench_progress(progress, posted, counts, produce_rate, consume_rate)
            consumed_all.wait(0.1)
        elapsed = time.monotonic() - start
        progress.clear()
        with lock:
            result: Dict[str, Any] = dict(counts)
        result.update(
            posted=posted,
            size=args.size,
            post_seconds=round(produced_time, 3),
            total_seconds=round(elapsed, 3),
            post_rate=round(posted / produced_time, 1) if posted and produced_time > 0 else 0.0,
            end_to_end_rate=round(max(result["consumed"], result["acked"]) / elapsed, 1) if elapsed > 0 else 0.0,
        )
        if args.json:
            print(json.dumps(result))
        else:
            if producer is not None:
                print(
                    f"produced {posted} messages of {args.size} bytes in {produced_time:.2f} s "
                    f"({result['post_rate']:.0f} msg/s, "
                    f"{result['post_rate'] * args.size / 1e6:.1f} MB/s); "
                    f"{result['acked']} acknowledged, {result['nacked']} failed"
                )
            if consumer is not None:
                print(
                    f"consumed {result['consumed']} messages in {elapsed:.2f} s "
                    f"({result['consumed'] / elapsed if elapsed > 0 else 0:.0f} msg/s)"
                )
        sys.stdout.flush()
        if result["nacked"]:
            return EXIT_REFUSED
        if (producer is not None and result["acked"] < posted) or (
            consumer is not None and result["consumed"] < args.count
        ):
            return EXIT_TIMEOUT
        return EXIT_OK
    finally:
        progress.clear()
        for session in (producer, consumer):
            if session is not None:
                session.stop()


def _bench_progress(progress: _Progress, posted: int, counts: Dict[str, int], produce: _Rate, consume: _Rate) -> None:
    consumed = counts["consumed"]
    progress.update(
        f"posted {posted} ({produce.sample(posted):.0f} msg/s), acknowledged {counts['acked']}, "
        f"consumed {consumed} ({consume.sample(consumed):.0f} msg/s)"
    )


# -- broker --------------------------------------------------------------


def _broker(args: argparse.Namespace) -> int:
    from .testing import BrokerError, DOMAINS, start_broker, start_cluster

    if args.cluster is not None and args.cluster < 1:
        raise _UsageError(f"--cluster: the number of nodes must be at least 1, was {args.cluster}")
    if args.cluster is not None and args.port is not None:
        raise _UsageError("--port cannot be used with --cluster (every broker of a cluster takes a free port)")
    stop = threading.Event()
    # Ctrl-C and SIGTERM are how it is meant to end: exit 0.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.cluster is None:
            with start_broker(args.dir, port=args.port) as broker:
                print(broker.uri, flush=True)
                if sys.stderr.isatty():
                    print(
                        f"broker running at {broker.uri} (files in {broker.directory}); domains: "
                        f"{', '.join(sorted(DOMAINS))}\nCtrl-C to stop",
                        file=sys.stderr,
                    )
                while not stop.wait(0.5):
                    if not broker.running:
                        raise _Failure(EXIT_REFUSED, f"the broker exited; see {broker.directory}")
        else:
            with start_cluster(nodes=args.cluster, directory=args.dir) as cluster:
                # The first line is what clients connect to, as for one broker.
                print(cluster.proxy_uri, flush=True)
                if sys.stderr.isatty():
                    nodes = ", ".join(f"{node.name} {node.uri}" for node in cluster.nodes)
                    print(
                        f"cluster {cluster.name} running: proxy {cluster.proxy_uri}; nodes {nodes}; leader "
                        f"{cluster.leader().name} (files in {cluster.directory}); domains: "
                        f"{', '.join(sorted(DOMAINS))}\nCtrl-C to stop",
                        file=sys.stderr,
                    )
                while not stop.wait(0.5):
                    if not cluster.proxies[0].running:
                        raise _Failure(EXIT_REFUSED, f"the proxy exited; see {cluster.proxies[0].directory}")
    except BrokerError as error:
        raise _Failure(EXIT_CONNECTION, str(error)) from None
    return EXIT_OK


# -- the command line ----------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--broker",
        default=os.environ.get("BMQ_BROKER_URI", DEFAULT_BROKER),
        help="broker URI (default: $BMQ_BROKER_URI or %(default)s)",
    )
    common.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up connecting to the broker after this long (default: %(default)s)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log session events and libbmq's INFO records")

    parser = argparse.ArgumentParser(
        prog="blazingmq",
        description="Produce, consume and benchmark BlazingMQ queues, or run a local development broker.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"blazingmq {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    produce = commands.add_parser(
        "produce",
        parents=[common],
        help="post messages and wait for their ACKs",
        description="Post messages (arguments, --file contents, or lines of standard input) and wait for the "
        "broker's ACKs.  Prints one line per message: index, GUID and ACK status.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    produce.add_argument("queue", help="queue URI, e.g. bmq://bmq.test.mem.priority/q")
    produce.add_argument("messages", nargs="*", metavar="MESSAGE", help="message payloads (UTF-8)")
    produce.add_argument("-f", "--file", action="append", default=[], help="a file whose content is one message")
    produce.add_argument("-n", "--count", type=int, help="post this many (cycling through the messages)")
    produce.add_argument("-s", "--size", type=int, help="generate payloads of this many bytes")
    produce.add_argument("-r", "--rate", type=float, help="at most this many messages per second")
    produce.add_argument(
        "-p",
        "--property",
        action="append",
        default=[],
        metavar="NAME[:TYPE]=VALUE",
        help=f"a property of every message; TYPE is one of {', '.join(_PROPERTY_TYPES)} "
        "(default: string; char and binary take hex)",
    )
    produce.add_argument(
        "--ack-timeout", type=float, default=30.0, metavar="SECONDS", help="wait this long for ACKs (default: 30)"
    )
    produce.add_argument("--json", action="store_true", help="JSON lines output")
    produce.set_defaults(run=_produce)

    consume = commands.add_parser(
        "consume",
        parents=[common],
        help="receive messages and print them",
        description="Receive messages and print one line per message: GUID, payload (escaped) and properties "
        "(JSON), tab-separated; or JSON lines with --json.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    consume.add_argument("queue", help="queue URI")
    consume.add_argument("-n", "--count", type=int, help="stop after this many messages")
    consume.add_argument(
        "-t", "--timeout", type=float, metavar="SECONDS", help="stop after this long (exit 4 if --count is not reached)"
    )
    consume.add_argument("--peek", action="store_true", help="do not confirm (the broker delivers them again)")
    consume.add_argument("-o", "--output-dir", help="write each payload to a file in this folder")
    consume.add_argument(
        "--subscription",
        action="append",
        default=[],
        metavar="EXPRESSION",
        help='receive only messages matching, e.g. \'price > 10 && region == "EU"\'',
    )
    consume.add_argument("--max-unconfirmed", type=int, help="max unconfirmed messages held by this consumer")
    consume.add_argument("--json", action="store_true", help="JSON lines output")
    consume.set_defaults(run=_consume)

    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="producer/consumer throughput with live rates",
        description="Post --count messages of --size bytes as fast as the channel allows while a second session "
        "consumes and confirms them; live rates on a terminal, a summary on stdout.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("queue", help="queue URI (its domain must hold --count messages)")
    bench.add_argument("-n", "--count", type=int, default=100_000, help="messages (default: %(default)s)")
    bench.add_argument("-s", "--size", type=int, default=1024, help="payload bytes (default: %(default)s)")
    bench.add_argument("--mode", choices=("both", "produce", "consume"), default="both")
    bench.add_argument(
        "--timeout", type=float, default=120.0, metavar="SECONDS", help="wait this long for ACKs and consumption"
    )
    bench.add_argument("--json", action="store_true", help="print the summary as JSON")
    bench.set_defaults(run=_bench)

    broker = commands.add_parser(
        "broker",
        help="run a local development broker (or a cluster with --cluster) until Ctrl-C",
        description="Start bmqbrkr.tsk (from $BLAZINGMQ_BROKER or /opt/bmq/bin) with the built-in development "
        "configuration (domains of blazingmq.testing) on 127.0.0.1, print its URI, and run until Ctrl-C or "
        "SIGTERM (exit 0).  With --cluster N: N cluster nodes and a proxy (blazingmq.testing.start_cluster); the "
        "URI printed is the proxy's.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    broker.add_argument("--port", type=int, help="TCP port (default: a free one)")
    broker.add_argument("--dir", help="folder for configuration, logs and storage (default: a temporary one, removed)")
    broker.add_argument(
        "--cluster",
        type=int,
        metavar="N",
        help="run a cluster of N nodes (in two data centers) and a proxy instead, and print the proxy's URI",
    )
    broker.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    broker.set_defaults(run=_broker)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="blazingmq: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.run(args))
    except _UsageError as error:
        parser.error(str(error))  # exits with EXIT_USAGE
    except _Failure as failure:
        print(f"blazingmq {args.command}: {failure}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        print(f"blazingmq {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return EXIT_OK  # not reached: parser.error exits


def console_main() -> None:
    """The ``blazingmq`` console script."""
    sys.exit(main())
