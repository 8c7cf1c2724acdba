"""``carpass topics create|list``: make and show the contract topics (``streams.kafka.topics.CATALOGUE``).

``create`` is idempotent: it makes the missing topics and reports the existing ones, and it warns (exit
status 1) when an existing topic breaks co-partitioning (a VIN-keyed topic with another partition count) or
has a configuration that differs from the catalogue's (for example a finite retention on an input topic,
which would silently drop events from the event store). It never alters an existing topic.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from streams.cli import CliError
from streams.kafka.admin import TopicSetupError, await_visible
from streams.kafka.clients import admin_config, bootstrap_servers
from streams.kafka.topics import CATALOGUE, TopicSpec
from streams.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``topics`` and its sub-commands to the ``carpass`` parser."""
    topics = subparsers.add_parser(
        "topics", help="create or list the contract topics", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)

    create = commands.add_parser(
        "create",
        help="create every contract topic that does not exist yet",
        description="Create the input, output and view topics with their configurations (idempotent).",
    )
    create.add_argument(
        "--partitions", type=int, default=None, metavar="N",
        help="partitions of each new topic (default: the setting CARPASS_PARTITIONS)",
    )  # fmt: skip
    create.add_argument(
        "--replication-factor", type=int, default=None, metavar="N",
        help="replicas of each new topic (default: min(3, number of brokers))",
    )  # fmt: skip
    _common(create)
    create.set_defaults(handler=cmd_create)

    listing = commands.add_parser(
        "list", help="show the contract topics and whether they exist",
        description="Show every contract topic: kind, record, key, and its partition count on the broker.",
    )  # fmt: skip
    _common(listing)
    listing.set_defaults(handler=cmd_list)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--topic-prefix", default=None, metavar="PREFIX",
        help="prepend PREFIX to every topic name (default: the setting CARPASS_TOPIC_PREFIX)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS",
        help="how long to wait for the broker (default: %(default)s)",
    )  # fmt: skip


def _prefix(args: argparse.Namespace, settings: Settings) -> str:
    prefix: str = settings.topic_prefix if args.topic_prefix is None else args.topic_prefix
    return prefix


def _admin(settings: Settings, timeout_s: float) -> tuple[Any, Any]:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(admin_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception as exc:
        raise CliError(f"cannot reach Kafka at {bootstrap_servers(settings)}: {exc}") from exc
    return admin, metadata


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]  # not in __all__

    partitions = args.partitions if args.partitions is not None else settings.partitions
    if partitions < 1:
        raise CliError(f"--partitions must be at least 1, got {partitions}")
    admin, metadata = _admin(settings, args.timeout)
    replicas = args.replication_factor or min(3, max(1, len(metadata.brokers)))
    names = {_prefix(args, settings) + spec.name: spec for spec in CATALOGUE}
    missing = [name for name in names if name not in metadata.topics]
    status = {name: "exists" for name in names if name not in missing}
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=replicas, config=dict(names[n].config))
             for n in missing],
            operation_timeout=args.timeout, request_timeout=args.timeout,
        )  # fmt: skip
        for name, future in futures.items():
            try:
                future.result(timeout=args.timeout + 5)
                status[name] = "created"
            except KafkaException as exc:
                error = exc.args[0]
                if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    status[name] = "exists"
                else:
                    raise CliError(f"could not create {name}: {error}") from exc
    if missing:  # usable once the broker's metadata lists each with its leaders: a producer started
        try:  # right after would otherwise be told the topic does not exist
            await_visible(admin, list(names), args.timeout)
        except TopicSetupError as exc:
            raise CliError(str(exc)) from exc
    counts = _partition_counts(admin, list(names), args.timeout)
    for name, spec in names.items():
        print(f"{status[name]:<8} {name:<40} {counts.get(name, partitions):>3} partitions  {spec.kind}")
    problems = _co_partitioning_problems(names, counts) + _config_problems(admin, names, status, args.timeout)
    for problem in problems:
        print(f"warning: {problem}")
    created = sum(1 for s in status.values() if s == "created")
    print(f"{created} created, {len(names) - created} existing, on {bootstrap_servers(settings)}")
    return 1 if problems else 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    admin, _ = _admin(settings, args.timeout)
    names = {_prefix(args, settings) + spec.name: spec for spec in CATALOGUE}
    counts = _partition_counts(admin, list(names), args.timeout)
    print(f"{'TOPIC':<40} {'KIND':<7} {'RECORD':<25} {'KEY':<12} PARTITIONS")
    for name, spec in names.items():
        found = str(counts[name]) if name in counts else "missing"
        print(f"{name:<40} {spec.kind:<7} {spec.record_type.__name__:<25} {spec.key:<12} {found}")
    return 0


def _partition_counts(admin: Any, names: list[str], timeout_s: float) -> dict[str, int]:
    """Partition count of each topic of ``names`` that exists (fresh metadata)."""
    metadata = admin.list_topics(timeout=timeout_s)
    return {n: len(metadata.topics[n].partitions) for n in names if n in metadata.topics}


def _co_partitioning_problems(names: dict[str, TopicSpec], counts: dict[str, int]) -> list[str]:
    vin_keyed = {name: counts[name] for name, spec in names.items() if spec.co_partitioned and name in counts}
    if len(set(vin_keyed.values())) <= 1:
        return []
    listing = ", ".join(f"{name}={count}" for name, count in vin_keyed.items())
    return [f"VIN-keyed topics have different partition counts, so they are not co-partitioned: {listing}"]


def _config_problems(
    admin: Any, names: dict[str, TopicSpec], status: dict[str, str], timeout_s: float
) -> list[str]:
    """Differences between the catalogue's configs and those of the topics that already existed."""
    existing = [name for name, state in status.items() if state == "exists"]
    if not existing:
        return []
    problems: list[str] = []
    for name, entries in _describe_configs(admin, existing, timeout_s).items():
        if isinstance(entries, Exception):
            problems.append(f"could not read the configuration of {name}: {entries}")
            continue
        for key, want in names[name].config.items():
            have = entries[key].value if key in entries else None
            if have != want:
                problems.append(f"{name} has {key}={have}, the catalogue says {want}")
    return problems


def _describe_configs(admin: Any, topics: list[str], timeout_s: float) -> dict[str, Any]:
    """Topic -> its config entries, or the exception that reading them raised. A topic just created can be
    in the metadata yet unknown to the broker answering (its metadata cache lags the controller, seconds
    on a busy machine): those are asked again for up to ``timeout_s``."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import ConfigResource  # type: ignore[attr-defined]  # not in __all__

    found: dict[str, Any] = {}
    pending = list(topics)
    deadline = time.monotonic() + timeout_s
    while pending:
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in pending]
        retry: list[str] = []
        for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items():
            try:
                found[resource.name] = future.result(timeout=timeout_s + 5)
            except KafkaException as exc:
                unknown = exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
                if unknown and time.monotonic() < deadline:
                    retry.append(resource.name)
                else:
                    found[resource.name] = exc
            except Exception as exc:
                found[resource.name] = exc
        pending = retry
        if pending:
            time.sleep(0.5)
    return found
