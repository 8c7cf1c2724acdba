"""``carpass replay``: rebuild every vehicle's state and views from the input topics (the event store), or
judge the whole history again under changed rules into another prefix (a what-if).

::

    input topics (CARPASS_TOPIC_PREFIX), partition by partition, start -> end as of now, in the worker's
    event-time order ──► the worker's batch step (streams.worker.replay) ──► each VIN's last state on the
    vehicle table's changelog ──► its certificate and OK-label views

In place (no ``--to-prefix``): the workers' states and views are written again (after a rule change that
needs no what-if, or a corrupted view); receipts, anomalies and dead letters already on Kafka are not sent
again. The workers' group must be stopped (the replay refuses while it has members); at the end its
committed offsets of the inputs are set to where the replay stopped, and workers started then restore their
tables from the changelog and carry on from there.

What-if (``--to-prefix PREFIX``, with ``--policy FILE``): the same history judged with the changed
thresholds; receipts, anomalies, states and views go to PREFIX's topics (created if missing), nothing of
the source is written. Provider quality (R10, R14) is folded too, once every partition is replayed: the
replay's counted readings, its anomalies and the source's registry of providers, into PREFIX's
``providers.quality`` and the quality table's changelog. A replay shared out with ``--partitions`` leaves
that to ``--fold-quality`` once all its parts are done. Then ``carpass diff --against PREFIX`` shows what
the change would do.

A policy file is JSON (or YAML) naming only what changes, by section (trend, weights, receipts, bounds)::

    {"trend": {"tolerance_km": 250, "max_km_per_day": 1500}, "weights": {"workshop": 0.8}}

A progress line on stderr gives the rate and the time left; the summary (events, vehicles, receipts by
status, anomalies by kind, the rate) goes to stdout, and with ``--json FILE`` to a file as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from streams.cli import CliError
from streams.settings import Settings

HOLD_VEHICLES = 200_000
"""Decoded states held in memory (about 4-8 KB each); beyond, the least recently changed are stored."""
BAR = 24


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``replay`` to the ``carpass`` parser."""
    parser = subparsers.add_parser(
        "replay", help="rebuild states and views from the input topics, or a what-if under changed rules",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("examples:\n"
                "  carpass replay                                   # in place (stop the workers first)\n"
                "  carpass replay --to-prefix whatif- --policy tolerance.json\n"
                "  carpass replay --to-prefix whatif- --partitions 0,1 --replace  # then, elsewhere:\n"
                "  carpass replay --to-prefix whatif- --partitions 2,3\n"
                "  carpass replay --to-prefix whatif- --fold-quality\n"
                "  carpass diff --against whatif-"),
    )  # fmt: skip
    parser.add_argument(
        "--to-prefix", default=None, metavar="PREFIX",
        help="write to this topic prefix instead of rebuilding in place (a what-if); it must differ from "
             "CARPASS_TOPIC_PREFIX",
    )  # fmt: skip
    parser.add_argument(
        "--policy", type=Path, default=None, metavar="FILE",
        help="thresholds to change, JSON or YAML (see above); only with --to-prefix",
    )  # fmt: skip
    parser.add_argument(
        "--without-receipts", action="store_true",
        help="what-if: do not write receipts to the other prefix (counted all the same)",
    )  # fmt: skip
    parser.add_argument(
        "--replace", action="store_true",
        help="what-if: delete what an earlier what-if wrote under --to-prefix first (its outputs, views and "
             "changelog; never input topics: a prefix whose inputs hold records is refused)",
    )  # fmt: skip
    parser.add_argument(
        "--partitions", default=None, metavar="LIST",
        help="only these partition numbers, e.g. 0,1,2 (default: all): several processes, or machines, can "
             "replay a prefix side by side, each its own partitions",
    )  # fmt: skip
    parser.add_argument(
        "--fold-quality", action="store_true",
        help="what-if: only fold provider quality from what the replays of --to-prefix wrote there (after "
             "replays shared out with --partitions; a replay of every partition does it by itself)",
    )  # fmt: skip
    parser.add_argument("--hold-vehicles", type=int, default=HOLD_VEHICLES, metavar="N",
                        help="decoded states held in memory (default: %(default)s)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=None, metavar="N",
                        help="events per batch (default: CARPASS_BATCH_MAX_EVENTS)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the summary here")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.set_defaults(handler=cmd_replay)


def load_policy_file(path: Path) -> dict[str, Any]:
    """The overrides in ``path`` (JSON, or YAML when PyYAML is there); :class:`CliError` when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--policy {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            import yaml
        except ImportError:
            raise CliError(f"--policy {path}: not JSON ({json_error})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CliError(f"--policy {path}: neither JSON nor YAML ({exc})") from None
    if not isinstance(data, dict):
        raise CliError(f"--policy {path}: a mapping of sections is expected, like "
                       '{"trend": {"tolerance_km": 250}}')  # fmt: skip
    return data


class ProgressLine:
    """``replaying [#####.....] 45%  1,234,567 of 2,700,000 events  23,456/s  1m02s left`` on stderr,
    redrawn at most every quarter of a second."""

    REDRAW_S = 0.25

    def __init__(self, stream: IO[str], total: int) -> None:
        self.stream, self.total = stream, total
        self.began = self.drawn = time.perf_counter()
        self.done = 0

    def __call__(self, events: int) -> None:
        self.done += events
        now = time.perf_counter()
        if now - self.drawn < self.REDRAW_S and self.done < self.total:
            return
        self.drawn = now
        share = self.done / self.total if self.total else 1.0
        rate = self.done / max(now - self.began, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        bar = "#" * int(share * BAR) + "." * (BAR - int(share * BAR))
        self.stream.write(f"\rreplaying [{bar}] {share:4.0%} {self.done:>12,} of {self.total:,} events "
                          f"{rate:>9,.0f}/s {_duration(left)} left ")  # fmt: skip
        self.stream.flush()

    def end(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.domain.policy import DEFAULT_POLICY, PolicyError, policy_with

    what_if = args.to_prefix is not None
    if what_if and args.to_prefix == settings.topic_prefix:
        raise CliError("--to-prefix is the source's own prefix: leave it out to rebuild in place")
    if args.policy is not None and not what_if:
        raise CliError("--policy needs --to-prefix: a changed policy in place would rewrite the registry's "
                       "views; try it in another prefix first, then change the workers' settings")
    if args.hold_vehicles < 1:
        raise CliError("--hold-vehicles must be 1 or more")
    if args.replace and not what_if:
        raise CliError("--replace needs --to-prefix (it deletes what an earlier what-if wrote there)")
    if args.fold_quality and (not what_if or args.replace or args.partitions or args.policy):
        raise CliError("--fold-quality needs --to-prefix, and neither --replace, --partitions nor --policy: "
                       "it folds what earlier replays wrote there")  # fmt: skip
    args.partition_numbers = _partitions(args.partitions)
    policy = replace(DEFAULT_POLICY, bounds=settings.vehicle_bounds())
    if args.policy is not None:
        try:
            policy = policy_with(policy, load_policy_file(args.policy))
        except PolicyError as exc:
            raise CliError(f"--policy {args.policy}: {exc}") from None
    summary = fold_only(settings, args) if args.fold_quality else run(settings, args, policy, what_if)
    print(render(summary))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def _partitions(text: str | None) -> frozenset[int] | None:
    if text is None:
        return None
    try:
        numbers = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CliError(f"--partitions {text!r}: partition numbers separated by commas, e.g. 0,1,2") from None
    if not numbers or min(numbers) < 0:
        raise CliError(f"--partitions {text!r}: partition numbers separated by commas, e.g. 0,1,2")
    return numbers


def prepare_what_if(
    settings: Settings, target: Any, replace_it: bool, timeout_s: float = 20.0,
    partitions: frozenset[int] | None = None,
) -> None:  # fmt: skip
    """Refuse a what-if prefix that holds records already (an earlier what-if: its anomalies would mix with
    this one's), unless ``replace_it``: then delete its output, view and changelog topics (never inputs;
    a prefix whose inputs hold records is a pipeline of its own and is refused). With ``partitions`` (a
    replay shared out), only those partitions of its topics count: another process's share may be there."""
    from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

    from streams.kafka.clients import admin_config
    from streams.kafka.topics import TopicKind, topics_of_kind
    from streams.worker.replay import new_reader, plan_spans

    admin: Any = AdminClient(admin_config(settings))
    existing = admin.list_topics(timeout=timeout_s).topics
    t = target.topics
    written = [t.receipts, t.anomalies, t.dead_letters, t.certificates, t.ok_labels, target.changelog,
               t.provider_events, t.provider_quality, target.quality_changelog]  # fmt: skip
    inputs = [t.name(spec.name) for spec in topics_of_kind(TopicKind.INPUT)]
    consumer = new_reader(settings)
    try:
        records = Counter[str]()
        present = [topic for topic in (*inputs, *written) if topic in existing]
        # A share's own partitions of the VIN-keyed topics (co-partitioned with the inputs); the topics keyed
        # otherwise (dead letters, provider events and quality) take every share's records anywhere.
        vin_keyed = {t.receipts, t.anomalies, t.certificates, t.ok_labels, target.changelog}
        for span in plan_spans(consumer, present, timeout_s):
            shared = partitions is not None and span.topic not in inputs
            if not shared or (span.topic in vin_keyed and span.partition in (partitions or ())):
                records[span.topic] += span.records
    finally:
        consumer.close()
    if any(records[topic] for topic in inputs):
        raise CliError(f"prefix {t.prefix!r} has input topics holding records: it is a pipeline, not a "
                       "what-if prefix; choose another --to-prefix")  # fmt: skip
    held = {topic: records[topic] for topic in written if records[topic]}
    if not held:
        return
    if not replace_it:
        listing = ", ".join(f"{topic} ({n:,})" for topic, n in held.items())
        raise CliError(f"prefix {t.prefix!r} holds records of an earlier run: {listing}. Add --replace to "
                       "delete them first, or choose a new --to-prefix")  # fmt: skip
    doomed = [topic for topic in written if topic in existing]
    for topic, future in admin.delete_topics(doomed, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s + 5)
        except Exception as exc:
            raise CliError(f"could not delete {topic}: {exc}") from None
    _await_gone(admin, doomed, timeout_s)


def _await_gone(admin: Any, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(name in admin.list_topics(timeout=timeout_s).topics for name in names):
        if time.monotonic() > deadline:
            raise CliError(f"topics deleted but still listed after {timeout_s:.0f} s: {', '.join(names)}")
        time.sleep(0.2)


def run(settings: Settings, args: argparse.Namespace, policy: Any, what_if: bool) -> dict[str, Any]:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]
    from prometheus_client import CollectorRegistry

    from projections.steps import ReadingsCounter, ViewPublisher
    from streams.kafka.admin import TopicSetupError, ensure_topics
    from streams.kafka.clients import admin_config, bootstrap_servers, build_codec
    from streams.kafka.topics import PipelineTopics
    from streams.state.held import HeldStates
    from streams.worker.faust.adapters import KafkaSink, SinkError
    from streams.worker.metrics import WorkerMetrics
    from streams.worker.replay import (
        ChangelogStore,
        PartitionFetcher,
        ReplayError,
        ReplayTarget,
        commit_offsets,
        group_members,
        new_reader,
        plan_spans,
        replay_partition,
    )
    from streams.worker.vehicles import VehicleProcessor

    source = PipelineTopics(settings.topic_prefix)
    prefix = args.to_prefix if what_if else settings.topic_prefix
    group = what_if_group(settings, prefix) if what_if else settings.group_id()
    target = ReplayTarget(PipelineTopics(prefix), group)
    admin: Any = AdminClient(admin_config(settings))
    try:
        if not what_if and (members := group_members(admin, target.group_id)):
            raise CliError(f"the workers' group {target.group_id!r} has {members} member(s): stop every "
                           "`carpass worker` of this prefix first (a running worker writes the same "
                           "states)")
        if what_if:
            prepare_what_if(settings, target, args.replace, partitions=args.partition_numbers)
        changelog_config = {"cleanup.policy": "compact"}
        extra = {target.changelog: changelog_config}
        if what_if:  # provider quality is folded there too (made by the workers' Faust in a pipeline)
            extra |= {target.quality_changelog: changelog_config, target.topics.provider_events: {}}
        partitions = ensure_topics(settings, prefix=prefix, extra=extra)
    except TopicSetupError as exc:
        raise CliError(str(exc)) from None
    except KafkaException as exc:
        raise CliError(f"cannot reach Kafka at {bootstrap_servers(settings)}: {exc}") from None

    # Registrations first: on a tie in time a car's registration is judged before its readings (the worker).
    inputs = sorted(source.vehicle_inputs, key=lambda topic: topic != source.registrations)
    reader = new_reader(settings)
    spans = plan_spans(reader, inputs)
    for span in spans:
        if span.start > 0:
            print(f"carpass replay: warning: {span.topic}[{span.partition}] starts at offset {span.start:,}: "
                  "the records before it are gone (retention or deletion) and are not replayed",
                  file=sys.stderr)  # fmt: skip
    if args.partition_numbers is not None:
        unknown = args.partition_numbers - {span.partition for span in spans}
        if unknown:
            raise CliError(f"--partitions: no partition {', '.join(map(str, sorted(unknown)))} in the inputs")
        spans = [span for span in spans if span.partition in args.partition_numbers]
    if spans and max(span.partition for span in spans) >= partitions:
        raise CliError(f"the inputs have {max(s.partition for s in spans) + 1} partitions, the topics of "
                       f"prefix {prefix!r} {partitions}: co-partitioned topics need one count")  # fmt: skip
    codec = build_codec(settings)
    book = _registry(settings, source, codec) if settings.providers_from_registry else None
    metrics = WorkerMetrics.create(CollectorRegistry())
    sink = KafkaSink(settings)
    store = ChangelogStore(sink, target.changelog)
    processor = VehicleProcessor(
        codec=codec, topics=source, store=store, sink=sink, metrics=metrics, policy=policy,
        hooks=[ViewPublisher(codec, sink, target.topics.certificates, target.topics.ok_labels)],
        max_input_bytes=settings.max_input_bytes, providers=book, hold=HeldStates(args.hold_vehicles),
        output_topics=target.topics,
    )  # fmt: skip
    t = target.topics
    muted = {t.dead_letters} | ({t.receipts, t.anomalies} if not what_if else set())
    if what_if and args.without_receipts:
        muted.add(t.receipts)
    processor.outputs.muted = frozenset(muted)
    if what_if:  # each batch's receipts counted per provider, as a worker with the projections does
        processor.outputs.listeners.append(ReadingsCounter(sink, t.provider_events, source.base))
    total = sum(span.records for span in spans)
    progress = None if args.quiet else ProgressLine(sys.stderr, total)
    batch = args.batch or settings.batch_max_events
    started = time.perf_counter()
    events = vehicles = 0
    try:
        for partition in sorted({span.partition for span in spans}):
            mine = [span for span in spans if span.partition == partition]
            fetcher = PartitionFetcher(reader, mine)
            events += replay_partition(processor, mine, fetcher, inputs, batch,
                                       progress if progress is not None else lambda n: None)  # fmt: skip
            fetcher.close()
            vehicles += store.forget(partition)
        providers = None
        if what_if and args.partition_numbers is None:
            providers = fold_quality(settings, source, target, codec, sink)
        sink.close()
    except (SinkError, ReplayError) as exc:
        raise CliError(f"replay stopped: {exc} (nothing was committed: run it again)") from None
    finally:
        if progress is not None:
            progress.end()
        reader.close()
    seconds = time.perf_counter() - started
    if not what_if:
        commit_offsets(settings, target.group_id, spans)
    return {
        "mode": "what-if" if what_if else "in place",
        "source_prefix": settings.topic_prefix,
        "target_prefix": prefix,
        "group": target.group_id,
        "changelog": target.changelog,
        "events": events,
        "vehicles": vehicles,
        "changelog_records": store.records,
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds) if seconds > 0 else 0,
        "receipts": _counts(metrics.receipts, 0),
        "anomalies": _counts(metrics.anomalies, 0),
        "dead_letters": sum(_counts(metrics.dead_letters, 1).values()),
        "policy_file": str(args.policy) if args.policy is not None else None,
        "offsets_committed": not what_if,
        "partitions": sorted({span.partition for span in spans}),
        "providers_folded": providers,
    }


def fold_quality(settings: Settings, source: Any, target: Any, codec: Any, sink: Any) -> int:
    """Provider quality of a what-if prefix from what its replay wrote there, as the workers' agents fold
    it (``projections.wiring``): its anomalies and the source's registry of providers re-keyed onto the
    prefix's provider-events topic, where the replay's counted readings are, then every provider's tally
    folded from nothing into the quality table's changelog and ``providers.quality``. How many providers.
    Folding again gives the same tallies (anomalies count by id, registrations by time, readings by input
    offset)."""
    from projections.steps import ProviderRekey, QualityFolder
    from streams.cli.diff import read_to_end
    from streams.worker.replay import ChangelogStore

    t = target.topics
    rekey = ProviderRekey(codec, sink, t.provider_events)
    for topic in (t.anomalies, source.providers):
        for batch in _batches(read_to_end(settings, topic)):
            rekey.process(batch)
    store = ChangelogStore(sink, target.quality_changelog)
    folder = QualityFolder(codec, store, sink, t.provider_quality)
    for batch in _batches(read_to_end(settings, t.provider_events)):
        folder.process(batch)
    return len(store.keys())


def _batches(messages: Any, size: int = 5_000) -> Any:
    """confluent-kafka messages as lists of ``RawMessage`` of up to ``size``."""
    from streams.worker.replay import raw_message

    batch = []
    for m in messages:
        batch.append(raw_message(m))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def fold_only(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """``--fold-quality``: provider quality of ``--to-prefix`` from what earlier replays wrote there."""
    from streams.kafka.clients import build_codec
    from streams.kafka.topics import PipelineTopics
    from streams.worker.faust.adapters import KafkaSink, SinkError
    from streams.worker.replay import ReplayError, ReplayTarget

    prefix = args.to_prefix
    target = ReplayTarget(PipelineTopics(prefix), what_if_group(settings, prefix))
    started = time.perf_counter()
    sink = KafkaSink(settings)
    try:
        source, codec = PipelineTopics(settings.topic_prefix), build_codec(settings)
        providers = fold_quality(settings, source, target, codec, sink)
        sink.close()
    except (SinkError, ReplayError) as exc:
        raise CliError(f"folding provider quality stopped: {exc} (run it again)") from None
    return {"mode": "provider quality", "source_prefix": settings.topic_prefix, "target_prefix": prefix,
            "providers_folded": providers, "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def what_if_group(settings: Settings, prefix: str) -> str:
    """The app id of a what-if prefix (its changelog's name): the workers' app id with the source's prefix
    replaced by ``prefix`` (or ``prefix`` put in front)."""
    group, source = settings.group_id(), settings.topic_prefix
    return prefix + (group[len(source):] if source and group.startswith(source) else group)


def _registry(settings: Settings, source: Any, codec: Any) -> Any:
    """The registry of providers read to its end (as a live worker that followed it)."""
    from streams.worker.providers import ProviderFollower

    follower = ProviderFollower(settings, source.providers, codec)
    try:
        follower.start()
    except Exception as exc:
        raise CliError(f"the registry of providers ({source.providers}) cannot be read: {exc}") from None
    deadline = time.monotonic() + 60
    now_ms = int(time.time() * 1000)
    while not follower.ready_through(now_ms):
        if time.monotonic() > deadline:
            follower.close()
            raise CliError(f"the registry of providers ({source.providers}) was not read to its end in 60 s")
        time.sleep(0.05)
    follower.close()  # read: no thread polling the broker beside the replay
    return follower.book


def _counts(counter: Any, label: int) -> dict[str, int]:
    """A labelled counter's totals by its ``label``-th label (``WorkerMetrics``)."""
    out: Counter[str] = Counter()
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                out[list(sample.labels.values())[label]] += int(sample.value)
    return dict(sorted(out.items()))


def render(summary: dict[str, Any]) -> str:
    if summary["mode"] == "provider quality":
        return (f"provider quality of prefix {summary['target_prefix']!r}: {summary['providers_folded']:,} "
                f"providers folded in {summary['seconds']:,} s")  # fmt: skip
    lines = [
        f"replay ({summary['mode']}): {summary['events']:,} events, {summary['vehicles']:,} vehicles in "
        f"{summary['seconds']:,} s ({summary['events_per_s']:,} events/s)",
        f"  from prefix {summary['source_prefix']!r} to prefix {summary['target_prefix']!r}; states on "
        f"{summary['changelog']} ({summary['changelog_records']:,} records)",
        "  receipts: " + (", ".join(f"{k} {v:,}" for k, v in summary["receipts"].items()) or "none"),
        "  anomalies: " + (", ".join(f"{k} {v:,}" for k, v in summary["anomalies"].items()) or "none"),
        f"  dead letters: {summary['dead_letters']:,}",
    ]
    if summary["offsets_committed"]:
        lines.append(f"  the group {summary['group']!r} now starts after the replayed events")
    if summary["providers_folded"] is not None:
        lines.append(f"  provider quality: {summary['providers_folded']:,} providers folded")
    elif summary["mode"] == "what-if":
        then = f"carpass replay --to-prefix {summary['target_prefix']} --fold-quality"
        lines.append(f"  provider quality not folded (some partitions): once all are replayed, run {then}")
    return "\n".join(lines)
