"""``carpass simulate``: a realistic Belgian fleet's events, as JSON Lines or Avro on Kafka, with its truth.

::

    simulate(N, seed) ──records in arrival order──► JSON Lines file / stdout     (--out)
                      │                          └► Avro on the contract topics (--kafka; + malformed bytes)
                      ├──► ground truth JSON (--truth)
                      └──► offline judge + naive baseline ──► quality table (--judge; JSON with --report)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, Protocol, TextIO

from schemas.catalog import key_of
from schemas.codec import Codec
from schemas.jsonl import dumps
from schemas.records import INPUT_TOPICS
from streams.cli import CliError
from streams.settings import Settings
from streams.simulator.evaluate import Evaluation, evaluate
from streams.simulator.fleet import DEFAULT_END, DEFAULT_YEARS, Simulation, SimulatorError, simulate
from streams.simulator.report import format_report
from streams.simulator.world import MalformedRecord, SimRecord

PROGRESS_FROM_VEHICLES = 1_000
_BAR = 24

_EPILOG = """\
examples:
  carpass simulate --vehicles 1000 --seed 7 --out events.jsonl --truth truth.json
      1,000 vehicles over the 10 years before 2026-07-01 as JSON Lines, and the faults injected
  carpass simulate --vehicles 20000 --seed 1 --fault-rate-multiplier 10 --kafka --truth truth.json
      the demo's load: Avro on the contract topics (run `carpass kafka up` and `carpass topics create`
      first), including undecodable messages for the dead-letter topic; rollbacks, typos and the other
      faults ten times as often as in reality, so that every kind shows up
  carpass simulate --vehicles 5000 --seed 1 --judge --report quality.json
      judge the events offline with the stream's own core and print precision and recall per fault kind
      against the naive "lower than the previous reading" rule
  carpass simulate --vehicles 200 --seed 3 --out - | carpass produce -
      the same events through JSON Lines into Kafka (`carpass judge` takes VIN-keyed events only: use
      --judge, which resolves plate readings to VINs first)

The same --vehicles, --seed, window and multiplier give the same events and truth, byte for byte.
Calibration (readings per vehicle-year, connected share, fault rates and their sources):
streams/simulator/config.py. The truth format: streams/simulator/truth.py.
"""


class MessageProducer(Protocol):
    """What the Kafka sink needs of a producer (``streams.cli.io._Producer`` in production)."""

    def send(self, topic: str, key: bytes, value: bytes) -> None: ...

    def finish(self) -> int: ...


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``simulate`` to the ``carpass`` parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="generate a realistic fleet's events (JSON Lines or Kafka) with the ground truth of its faults",
        description=(
            "Simulate a Belgian fleet: registrations, workshop, inspection, connected and foreign readings, "
            "plate moves, recalls and accident inspections, with rollbacks, typos, duplicates, late "
            "submissions, odometer replacements, 5-digit wraps and malformed messages injected at realistic "
            "rates and listed in a ground-truth file."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--vehicles", type=int, required=True, metavar="N", help="number of vehicles")
    parser.add_argument(
        "--seed", type=int, required=True, metavar="S", help="random seed (same seed, same bytes)"
    )
    parser.add_argument(
        "--years",
        type=int,
        default=DEFAULT_YEARS,
        metavar="Y",
        help="length of the simulated window, ending at --end (default: %(default)s)",
    )
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=DEFAULT_END,
        metavar="YYYY-MM-DD",
        help="end of the window, exclusive (default: %(default)s)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="FILE", help="write JSON Lines to FILE (- for standard output)")
    where.add_argument("--kafka", action="store_true", help="produce Avro to the contract topics")
    parser.add_argument(
        "--topic-prefix", default="", metavar="PREFIX",
        help="with --kafka: prefix of topic names (default: CARPASS_TOPIC_PREFIX)"
    )
    parser.add_argument("--truth", type=Path, metavar="FILE", help="write the ground truth (JSON) to FILE")
    parser.add_argument(
        "--fault-rate-multiplier",
        type=float,
        default=1.0,
        metavar="M",
        help="multiply every fault rate by M (default: %(default)s, the real rates)",
    )
    parser.add_argument(
        "--judge",
        action="store_true",
        help="judge the events offline and print detection quality against the truth",
    )
    parser.add_argument("--report", type=Path, metavar="FILE", help="with --judge: write the quality as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --kafka: wait this long for the broker and for delivery (default: %(default)s)",
    )
    parser.set_defaults(handler=cmd_simulate)


class JsonLinesSink:
    """Records as JSON Lines (``schemas.jsonl``); malformed messages have no JSON form and are skipped."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, record: SimRecord) -> None:
        if not isinstance(record, MalformedRecord):
            self._out.write(dumps(record) + "\n")

    def close(self) -> int:
        self._out.flush()
        return 0


class KafkaSink:
    """Records as Avro on their contract topics (``records.INPUT_TOPICS``), keyed as the contract says;
    malformed messages go to their topic as the raw bytes."""

    def __init__(self, producer: MessageProducer, codec: Codec, topic_prefix: str = "") -> None:
        self._producer = producer
        self._codec = codec
        self._prefix = topic_prefix

    def write(self, record: SimRecord) -> None:
        if isinstance(record, MalformedRecord):
            self._producer.send(self._prefix + record.topic, record.key.encode("utf-8"), record.value)
            return
        topic = self._prefix + INPUT_TOPICS[type(record)]
        self._producer.send(topic, key_of(record).encode("utf-8"), self._codec.encode(record, topic=topic))

    def close(self) -> int:
        return self._producer.finish()


class Progress:
    """A one-line progress bar on stderr, redrawn with ``\\r`` at most every ``REDRAW_S`` (and at the end)."""

    REDRAW_S = 0.25

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.start = DEFAULT_END
        """The window's first day (shown as the simulated month)."""
        self._began = time.perf_counter()
        self._drawn = 0.0

    def __call__(self, days_done: int, days_total: int, records: int) -> None:
        now = time.perf_counter()
        if now - self._drawn < self.REDRAW_S and days_done < days_total:
            return
        self._drawn = now
        share = days_done / days_total if days_total else 1.0
        filled = int(share * _BAR)
        month = date.fromordinal(self.start.toordinal() + days_done).strftime("%Y-%m")
        rate = records / max(now - self._began, 1e-9)
        bar = "#" * filled + "." * (_BAR - filled)
        self._stream.write(f"\rsimulating {month} [{bar}] {share:4.0%} {records:>11,} events {rate:>9,.0f}/s")
        self._stream.flush()

    def done(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    if args.out is None and not args.kafka and not args.judge:
        raise CliError("say where the events go: --out FILE (or -), --kafka, or --judge to only score them")
    if args.report is not None and not args.judge:
        raise CliError("--report needs --judge")
    progress = None if args.quiet or args.vehicles < PROGRESS_FROM_VEHICLES else Progress(sys.stderr)
    try:
        simulation = simulate(
            args.vehicles,
            args.seed,
            years=args.years,
            end=args.end,
            fault_rate_multiplier=args.fault_rate_multiplier,
            malformed=args.kafka,
            progress=progress,
        )
    except SimulatorError as exc:
        raise CliError(str(exc)) from exc
    if progress is not None:
        progress.start = simulation.params.start
    report_to = sys.stderr if args.out == "-" else sys.stdout
    with ExitStack() as stack:
        sink = _open_sink(args, settings, stack)
        started = time.perf_counter()
        evaluation: Evaluation | None = None
        tap: Callable[[SimRecord], None] = sink.write if sink is not None else (lambda record: None)
        if args.judge:
            evaluation = evaluate(simulation, tap)
        else:
            for record in simulation:
                tap(record)
        failed = sink.close() if sink is not None else 0
        elapsed = time.perf_counter() - started
    if progress is not None:
        progress.done()
    if args.truth is not None:
        simulation.truth.write(args.truth)
    print(summary(simulation, elapsed), file=report_to)
    if evaluation is not None:
        print("\ndetection quality against the ground truth (visible faults):", file=report_to)
        print(format_report(evaluation.engine, evaluation.naive), file=report_to)
        if args.report is not None:
            quality = {
                "engine": evaluation.engine.to_dict(),
                "naive": evaluation.naive.to_dict(),
                "records": evaluation.records,
                "readings": evaluation.readings,
            }
            args.report.write_text(json.dumps(quality, indent=2) + "\n", encoding="utf-8")
    if failed:
        print(f"{failed} records were not delivered", file=sys.stderr)
        return 1
    return 0


def _open_sink(
    args: argparse.Namespace, settings: Settings, stack: ExitStack
) -> JsonLinesSink | KafkaSink | None:
    if args.kafka:
        from streams.cli.io import _Producer  # the project's checked producer (topics must exist)
        from streams.kafka.clients import build_codec

        prefix = args.topic_prefix or settings.topic_prefix
        return KafkaSink(_Producer(settings, args.timeout), build_codec(settings), prefix)
    if args.out is None:
        return None
    if args.out == "-":
        return JsonLinesSink(sys.stdout)
    try:
        handle = stack.enter_context(open(args.out, "w", encoding="utf-8", buffering=1 << 20))  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}") from exc
    return JsonLinesSink(handle)


def summary(simulation: Simulation, elapsed_s: float) -> str:
    """Events by type, faults by kind, the calibration figures of 2024, and the generation rate."""
    stats, truth = simulation.stats, simulation.truth
    total = sum(stats.records.values())
    lines = [
        f"{total:,} events in {elapsed_s:.1f} s ({total / max(elapsed_s, 1e-9):,.0f} events/s); "
        f"{simulation.params.vehicles:,} vehicles, {truth.start} .. {truth.end}, seed {truth.seed}"
    ]
    lines += [
        f"  {name:<26} {count:>10,}" for name, count in sorted(stats.records.items(), key=lambda i: -i[1])
    ]
    lines.append(f"faults (x{truth.fault_rate_multiplier:g} the real rates):")
    visible = {kind: sum(f.visible for f in truth.faults if f.kind.value == kind) for kind in truth.counts()}
    lines += [
        f"  {kind:<26} {count:>10,}   ({visible[kind]:,} visible)" for kind, count in truth.counts().items()
    ]
    year = min(2024, truth.end.year - 1)
    readings = stats.readings_by_year.get(year, 0)
    if readings:
        rollbacks = [f.rollback_km for f in truth.faults if f.rollback_km]
        lines.append(
            f"calibration {year}: {stats.readings_per_vehicle_year(year):.2f} readings per vehicle-year "
            f"(registry 2024: ~3.2), {stats.connected_by_year.get(year, 0) / readings:.0%} connected "
            f"(registry 2024: 20%)"
            + (
                f"; mean rollback {sum(rollbacks) / len(rollbacks):,.0f} km (src ~100,000)"
                if rollbacks
                else ""
            )
        )
    return "\n".join(lines)
