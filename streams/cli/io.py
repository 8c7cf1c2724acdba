"""``carpass produce FILE`` and ``carpass tail TOPIC``: JSON Lines in and out of the contract topics.

::

    FILE (JSON Lines) ──schemas.jsonl──► record ──codec──► Avro ──murmur2(key_of)──► topic of the record
    topic ──codec.decode──► record ──schemas.jsonl──► stdout (one JSON object per line)

``produce`` skips bad lines (each reported on stderr with its line number and field), produces everything
else, and exits 1 if any line was bad or any record was not delivered. ``tail`` never stops on a value it
cannot decode: it prints ``{"error": <DecodeProblem>, "reason": …, "topic", "partition", "offset"}`` instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any

from schemas.catalog import TOPICS, key_of
from schemas.codec import Codec
from schemas.errors import DecodeError, EncodeError, JsonLineError
from schemas.jsonl import dumps, parse_line
from streams.cli import CliError
from streams.kafka.clients import bootstrap_servers, build_codec, consumer_config, producer_config
from streams.kafka.topics import CATALOGUE, TopicSpec
from streams.settings import Settings

PROGRESS_EVERY_LINES = 100_000
MAX_REPORTED_BAD_LINES = 50


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``produce`` and ``tail`` to the ``carpass`` parser."""
    produce = subparsers.add_parser(
        "produce", help="publish JSON Lines records as Avro to their contract topics",
        description=(
            "Read JSON Lines (one record per line, with \"type\" naming the contract record; see "
            "schemas/jsonl.py) and produce each as Avro to its topic, keyed by VIN (plate, provider id): "
            "an OdometerReading goes to <prefix>odometer.readings, where <prefix> is --topic-prefix, else "
            "CARPASS_TOPIC_PREFIX (as the worker reads it). Bad lines are reported and skipped; exit "
            "status 1 if any."
        ),
    )  # fmt: skip
    produce.add_argument("file", metavar="FILE", help="JSON Lines file, or - for standard input")
    produce.add_argument("--dry-run", action="store_true", help="validate and encode only; produce nothing")
    produce.add_argument(
        "--topic-prefix", default=None, metavar="PREFIX",
        help="prepend PREFIX to topic names (default: the setting CARPASS_TOPIC_PREFIX)",
    )  # fmt: skip
    produce.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS",
        help="how long to wait for the broker and for delivery at the end (default: %(default)s)",
    )  # fmt: skip
    produce.set_defaults(handler=cmd_produce)

    tail = subparsers.add_parser(
        "tail", help="print the records of a topic as JSON Lines",
        description=(
            "Print decoded records of <prefix>TOPIC, one JSON object per line, as they arrive. <prefix> is "
            "--topic-prefix, else CARPASS_TOPIC_PREFIX (as the worker writes it), and is not added again to "
            "a TOPIC that already starts with it: `carpass tail odometer.receipts` reads the receipts of "
            "the environment the settings name. The topic read is said on stderr."
        ),
    )  # fmt: skip
    tail.add_argument("topic", metavar="TOPIC")
    tail.add_argument(
        "--topic-prefix", default=None, metavar="PREFIX",
        help="prepend PREFIX to TOPIC (default: the setting CARPASS_TOPIC_PREFIX)",
    )  # fmt: skip
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record, not the end")
    tail.add_argument("--max", type=int, default=None, metavar="N", help="stop after N records")
    tail.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="stop when no record arrived for SECONDS (default: follow until interrupted)",
    )  # fmt: skip
    tail.set_defaults(handler=cmd_tail)


# --- produce -------------------------------------------------------------------------------------------


class _Delivery:
    """Counts delivery reports (called from ``Producer.poll``/``flush``)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None

    def __call__(self, error: Any, message: Any) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = f"{message.topic()}: {error}"


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str | None]]:
    """``(line number, text or None if not UTF-8)``, 1-based."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None


def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    codec = build_codec(settings)
    prefix: str = settings.topic_prefix if args.topic_prefix is None else args.topic_prefix
    with ExitStack() as stack:
        if args.file == "-":
            stream: IO[bytes] = sys.stdin.buffer
        else:
            try:
                stream = stack.enter_context(open(args.file, "rb"))
            except OSError as exc:
                raise CliError(f"cannot read {args.file}: {exc.strerror}") from exc
        producer = None if args.dry_run else _Producer(settings, args.timeout)
        per_topic: Counter[str] = Counter()
        bad = 0
        for number, text in _lines(stream):
            if number % PROGRESS_EVERY_LINES == 0:
                done = sum(per_topic.values())
                print(f"… {number:,} lines, {done:,} records, {bad:,} bad", file=sys.stderr)
            if text is None or not text.strip():
                if text is None:
                    bad += _report(bad, f"line {number}: not valid UTF-8")
                continue
            try:
                record = parse_line(text, number)
                topic = prefix + TOPICS[type(record)]
                value = codec.encode(record, topic=topic)
            except (JsonLineError, EncodeError) as exc:
                message = str(exc) if isinstance(exc, JsonLineError) else f"line {number}: {exc}"
                bad += _report(bad, message)
                continue
            if producer is not None:
                producer.send(topic, key_of(record).encode("utf-8"), value)
            per_topic[topic] += 1
        failed = producer.finish() if producer is not None else 0
    if bad > MAX_REPORTED_BAD_LINES:
        print(f"… {bad - MAX_REPORTED_BAD_LINES} more bad lines not shown", file=sys.stderr)
    total = sum(per_topic.values())
    verb = "would produce" if args.dry_run else "produced"
    detail = ", ".join(f"{topic} {count}" for topic, count in sorted(per_topic.items()))
    skipped = f"{bad} bad line{'' if bad == 1 else 's'} skipped"
    print(f"{verb} {total - failed} records{': ' + detail if detail else ''}; {skipped}")
    if failed:
        print(f"{failed} records were not delivered", file=sys.stderr)
    return 1 if bad or failed else 0


def _report(already: int, message: str) -> int:
    if already < MAX_REPORTED_BAD_LINES:
        print(message, file=sys.stderr)
    return 1


class _Producer:
    """A confluent-kafka producer that refuses topics that do not exist (instead of auto-creating them)."""

    def __init__(self, settings: Settings, timeout_s: float) -> None:
        from confluent_kafka import Producer

        self._timeout_s = timeout_s
        self._bootstrap = bootstrap_servers(settings)
        self._delivery = _Delivery()
        self._producer = Producer(producer_config(settings, {"on_delivery": self._delivery}))
        self._topics = self._existing_topics()

    def _existing_topics(self) -> set[str]:
        try:
            metadata = self._producer.list_topics(timeout=self._timeout_s)
        except Exception as exc:
            self._producer.poll(0)  # librdkafka's own account of it (a refused password…) reaches the log
            raise CliError(f"cannot reach Kafka at {self._bootstrap}: {exc}") from exc
        return set(metadata.topics)

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        if topic not in self._topics:
            self._await_topic(topic)
        while True:
            try:
                self._producer.produce(topic, value=value, key=key)
                break
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.5)
        self._producer.poll(0)

    def _await_topic(self, topic: str) -> None:
        """Wait (up to the timeout) until the broker's metadata lists ``topic``: a topic just created can
        be missing from it for a moment. Then refuse, saying what was waited for."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            self._topics = self._existing_topics()
            if topic in self._topics:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        self.finish()
        raise CliError(
            f"topic {topic} does not exist on {self._bootstrap} (waited {self._timeout_s:.0f} s for it): run "
            "`carpass topics create` (records before this one were produced; producing again is safe, "
            "inputs are idempotent)"
        )

    def finish(self) -> int:
        """Wait for outstanding deliveries; the number of records not delivered."""
        left = self._producer.flush(self._timeout_s)
        if self._delivery.first_error:
            print(f"delivery failed: {self._delivery.first_error}", file=sys.stderr)
        return self._delivery.failed + left


# --- tail ----------------------------------------------------------------------------------------------


def _spec_of(topic: str) -> TopicSpec | None:
    """The catalogue entry ``topic`` is (possibly with a prefix), or ``None``."""
    return next((spec for spec in CATALOGUE if topic.endswith(spec.name)), None)


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

    codec = build_codec(settings)
    group = f"carpass-tail-{uuid.uuid4().hex[:12]}"  # never committed: assign(), no offsets stored
    prefix: str = settings.topic_prefix if args.topic_prefix is None else args.topic_prefix
    topic: str = args.topic if args.topic.startswith(prefix) else prefix + args.topic
    print(f"tail: {topic} on {bootstrap_servers(settings)}", file=sys.stderr)
    consumer = Consumer(consumer_config(settings, group, {"enable.partition.eof": False}))
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=15)
        except Exception as exc:
            consumer.poll(0)  # librdkafka's own account of it (a refused password…) reaches the log
            raise CliError(f"cannot reach Kafka at {bootstrap_servers(settings)}: {exc}") from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise CliError(f"topic {topic} does not exist on {bootstrap_servers(settings)}")
        start = OFFSET_BEGINNING if args.from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in sorted(found.partitions)])
        spec = _spec_of(topic)
        _follow(consumer, codec, spec.record_type if spec else None, args.max, args.timeout)
    finally:
        consumer.close()
    return 0


def _follow(
    consumer: Any, codec: Codec, expected: type | None, limit: int | None, idle_s: float | None
) -> None:
    """Print records until ``limit`` were printed or none arrived for ``idle_s`` seconds."""
    printed = 0
    last = time.monotonic()
    while limit is None or printed < limit:
        message = consumer.poll(0.2)
        if message is None:
            if idle_s is not None and time.monotonic() - last >= idle_s:
                return
            continue
        if message.error() is not None:
            raise CliError(f"consuming {message.topic()}: {message.error()}")
        last = time.monotonic()
        print(_render(message, codec, expected), flush=True)
        printed += 1


def _render(message: Any, codec: Codec, expected: type | None) -> str:
    value = message.value()
    if value is None:
        key = message.key()
        return json.dumps({"tombstone": True, "key": key.decode("utf-8", "replace") if key else None})
    try:
        return dumps(codec.decode(value, expected))
    except DecodeError as exc:
        return json.dumps(
            {"error": str(exc.problem), "reason": str(exc), "topic": message.topic(),
             "partition": message.partition(), "offset": message.offset()}
        )  # fmt: skip
