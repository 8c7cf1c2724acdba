"""``carpass status``: one screen for the on-call: is the pipeline healthy?

::

    brokers ── the cluster's brokers and its controller
    topics ─── every topic of the pipeline (prefixed): present, partition count; VIN-keyed and plate-keyed
               topics co-partitioned (one count for all of them, the count of the setting)
    group ──── the workers' consumer group (CARPASS_APP_ID, isolated by the prefix): state, members and
               the partitions each holds
    lag ────── per input partition: the broker's high watermark minus the group's committed offset
    dead letters in the last hour, by error type (read from the dead-letter topic, by timestamp)
    workers ── each ``--worker URL``: does its ``/metrics`` answer; its batch failures and input lag

It exits with status 1 when something needs a look (a topic missing, partition counts that differ, a group
without members, a worker that does not answer, dead letters in the last hour), 0 otherwise; ``--json``
prints the same as one JSON object for scripts.

Examples::

    carpass status
    carpass status --worker http://worker-1:6066 --worker http://worker-2:6066 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from streams.cli import CliError
from streams.kafka.admin import keyed_partition_counts
from streams.kafka.clients import admin_config, bootstrap_servers, consumer_config
from streams.kafka.topics import PipelineTopics, TopicKind, spec_named
from streams.settings import Settings

HOUR_MS = 3_600_000
DEAD_LETTERS_READ_MAX = 100_000
"""Dead letters of the last hour read at most (their count is then "at least")."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status`` to the ``carpass`` parser."""
    status = subparsers.add_parser(
        "status", help="the pipeline's health on one screen: brokers, topics, group, lag, dead letters",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    status.add_argument(
        "--worker", action="append", default=[], metavar="URL",
        help="a worker's web URL (its CARPASS_WEB_ADVERTISED_URL) whose /metrics to ask; repeatable",
    )  # fmt: skip
    status.add_argument("--json", action="store_true", help="one JSON object instead of the text")
    status.add_argument(
        "--topic-prefix", default=None, metavar="PREFIX",
        help="the pipeline's topic prefix (default: the setting CARPASS_TOPIC_PREFIX)",
    )  # fmt: skip
    status.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS",
        help="how long to wait for the broker (default: %(default)s)",
    )  # fmt: skip
    status.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    if args.topic_prefix is not None:
        settings = _with_prefix(settings, args.topic_prefix)
    report = gather(settings, args.worker, args.timeout, int(time.time() * 1000))
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report))
    return 1 if report["problems"] else 0


def _with_prefix(settings: Settings, prefix: str) -> Settings:
    return dataclasses.replace(settings, topic_prefix=prefix)


# --- gathering -------------------------------------------------------------------------------------------


def gather(settings: Settings, workers: Sequence[str], timeout_s: float, now_ms: int) -> dict[str, Any]:
    """Everything ``carpass status`` shows, as plain JSON values; ``problems`` lists what needs a look."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(admin_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception as exc:
        raise CliError(f"cannot reach Kafka at {bootstrap_servers(settings)}: {exc}") from exc
    problems: list[str] = []
    topics = PipelineTopics(settings.topic_prefix)
    report: dict[str, Any] = {
        "bootstrap": bootstrap_servers(settings),
        "brokers": sorted(f"{b.id} {b.host}:{b.port}" for b in metadata.brokers.values()),
        "controller": metadata.controller_id,
        "topic_prefix": settings.topic_prefix,
    }
    report["topics"] = _topics(topics, metadata, settings.partitions, problems)
    group = settings.group_id()
    report["group"] = _group(admin, group, timeout_s, problems)
    report["lag"] = _lag(settings, admin, group, metadata, topics, timeout_s)
    dead = _dead_letters(settings, metadata, topics.dead_letters, now_ms, timeout_s)
    report["dead_letters_last_hour"] = dead
    if report["dead_letters_last_hour"]:
        total = sum(report["dead_letters_last_hour"].values())
        problems.append(f"{total} dead letters in the last hour")
    report["workers"] = [_worker(url, problems) for url in workers]
    report["problems"] = problems
    return report


def _topics(
    topics: PipelineTopics, metadata: Any, partitions: int, problems: list[str]
) -> list[dict[str, Any]]:
    rows = []
    wanted = topics.all_topics()
    for name, (key, _config) in sorted(wanted.items()):
        found = metadata.topics.get(name)
        count = len(found.partitions) if found is not None and found.error is None else None
        spec = spec_named(topics.base(name))
        kind = spec.kind.value if spec is not None else "internal"
        rows.append({"name": name, "kind": kind, "key": key.value, "partitions": count})
        if count is None:
            made_by = "carpass topics create" if spec is not None else "a worker makes it when it starts"
            problems.append(f"topic {name} is missing ({made_by})")
    counts = set(keyed_partition_counts(wanted, metadata).values())  # the worker's own rule (ensure_topics)
    if len(counts) > 1:
        problems.append(f"VIN- and plate-keyed topics have different partition counts {sorted(counts)}: not "
                        "co-partitioned (a worker refuses to start)")  # fmt: skip
    elif counts and counts != {partitions}:
        problems.append(f"VIN- and plate-keyed topics have {counts.pop()} partitions, CARPASS_PARTITIONS is "
                        f"{partitions}")  # fmt: skip
    return rows


def _group(admin: Any, group: str, timeout_s: float, problems: list[str]) -> dict[str, Any]:
    try:
        futures = admin.describe_consumer_groups([group], request_timeout=timeout_s)
        described = futures[group].result(timeout_s)
    except Exception as exc:
        problems.append(f"group {group}: not described ({exc})")
        return {"id": group, "state": "UNKNOWN", "members": []}
    members = []
    for member in described.members:
        assigned = getattr(member.assignment, "topic_partitions", None) or []
        parts = sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        members.append({"client_id": member.client_id, "host": member.host, "partitions": parts})
    state = getattr(described.state, "name", str(described.state))
    if not members:
        problems.append(f"group {group} has no member: no worker is running (state {state})")
    return {"id": group, "state": state, "members": sorted(members, key=lambda m: m["client_id"])}


def _lag(
    settings: Settings, admin: Any, group: str, metadata: Any, topics: PipelineTopics, timeout_s: float
) -> list[dict[str, Any]]:
    """Per partition of the topics the group reads (the inputs and the internal topics): committed offset,
    high watermark, lag (the whole partition when nothing is committed)."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition

    committed: dict[tuple[str, int], int] = {}
    try:
        request = ConsumerGroupTopicPartitions(group)
        futures = admin.list_consumer_group_offsets([request], request_timeout=timeout_s)
        answer = futures[group].result(timeout_s)
        committed = {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions if tp.offset >= 0}
    except Exception:  # no group yet: nothing committed
        committed = {}
    read = {name for name in topics.all_topics() if _read_by_workers(topics, name)}
    read |= {topic for topic, _ in committed}
    read &= set(metadata.topics)
    consumer = Consumer(consumer_config(settings, f"carpass-status-{uuid.uuid4().hex[:8]}"))
    rows = []
    try:
        for name in sorted(read):
            for partition in sorted(metadata.topics[name].partitions):
                low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=timeout_s)
                done = committed.get((name, partition))
                rows.append({"topic": name, "partition": partition, "committed": done, "high": high,
                             "lag": high - (done if done is not None else low)})  # fmt: skip
    finally:
        consumer.close()
    return rows


def _read_by_workers(topics: PipelineTopics, name: str) -> bool:
    spec = spec_named(topics.base(name))
    return spec is None or spec.kind is TopicKind.INPUT  # the contract's inputs and the internal topics


def _dead_letters(
    settings: Settings, metadata: Any, topic: str, now_ms: int, timeout_s: float
) -> dict[str, int]:
    """Dead letters written in the hour before ``now_ms``, counted by error type."""
    from confluent_kafka import Consumer, TopicPartition

    from schemas.codec import decode
    from schemas.records import DeadLetter

    if topic not in metadata.topics:
        return {}
    consumer = Consumer(consumer_config(settings, f"carpass-status-{uuid.uuid4().hex[:8]}"))
    counts: Counter[str] = Counter()
    try:
        wanted = [TopicPartition(topic, p, now_ms - HOUR_MS) for p in metadata.topics[topic].partitions]
        starts = consumer.offsets_for_times(wanted, timeout=timeout_s)
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=timeout_s)[1] for tp in starts}
        assigned = [tp for tp in starts if 0 <= tp.offset < ends[tp.partition]]
        if not assigned:
            return {}
        consumer.assign(assigned)
        left = {tp.partition for tp in assigned}
        read = 0
        deadline = time.monotonic() + timeout_s
        while left and read < DEAD_LETTERS_READ_MAX and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is not None:
                    continue
                read += 1
                try:
                    counts[decode(message.value() or b"", DeadLetter).error_type] += 1
                except Exception:
                    counts["undecodable dead letter"] += 1
                partition, offset = message.partition() or 0, message.offset() or 0
                if offset + 1 >= ends[partition]:
                    left.discard(partition)
    finally:
        consumer.close()
    return dict(sorted(counts.items()))


def _worker(url: str, problems: list[str]) -> dict[str, Any]:
    base = url.rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=3) as response:
            text = response.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as exc:
        problems.append(f"worker {base} does not answer ({exc})")
        return {"url": base, "up": False}
    failures = lag = 0.0
    for line in text.splitlines():
        if line.startswith("carpass_batch_failures_total{"):
            failures += float(line.rpartition(" ")[2])
        elif line.startswith("carpass_consumer_lag_messages{"):
            lag += float(line.rpartition(" ")[2])
    return {"url": base, "up": True, "batch_failures": int(failures), "input_lag": int(lag)}


# --- the screen -------------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    """The report as text for a terminal (pure: tested without a broker)."""
    brokers = len(report["brokers"])
    lines = [f"Kafka {report['bootstrap']}: {brokers} broker(s), controller {report['controller']}"]
    lines += [f"  {b}" for b in report["brokers"]]
    topics = report["topics"]
    present = [t for t in topics if t["partitions"] is not None]
    lines.append(f"topics (prefix {report['topic_prefix']!r}): {len(present)} of {len(topics)} present")
    for t in topics:
        count = "MISSING" if t["partitions"] is None else f"{t['partitions']} partitions"
        lines.append(f"  {t['name']:<50} {t['kind']:<9} key {t['key']:<12} {count}")
    group = report["group"]
    lines.append(f"group {group['id']}: {group['state']}, {len(group['members'])} member(s)")
    for member in group["members"]:
        lines.append(f"  {member['client_id']} on {member['host']}: {len(member['partitions'])} partitions")
    lag = report["lag"]
    total = sum(row["lag"] for row in lag)
    lines.append(f"lag: {total:,} messages over {len(lag)} partitions")
    for row in lag:
        if row["lag"]:
            done = "nothing committed" if row["committed"] is None else f"committed {row['committed']:,}"
            where = f"{row['topic']}[{row['partition']}]"
            lines.append(f"  {where}: {row['lag']:,} ({done}, end {row['high']:,})")
    dead = report["dead_letters_last_hour"]
    lines.append(f"dead letters in the last hour: {sum(dead.values()) if dead else 0}")
    lines += [f"  {kind}: {count}" for kind, count in dead.items()]
    for worker in report["workers"]:
        if worker["up"]:
            lines.append(f"worker {worker['url']}: up, input lag {worker['input_lag']:,}, "
                         f"batch failures {worker['batch_failures']}")  # fmt: skip
        else:
            lines.append(f"worker {worker['url']}: DOWN")
    problems = report["problems"]
    lines.append("healthy" if not problems else f"{len(problems)} problem(s):")
    lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)

