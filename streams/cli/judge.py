"""``carpass judge FILE|-``: judge a JSON Lines file of events offline, with the stream's own core.

Input: one event per line, ``type`` naming the contract record (OdometerReading, CorrectionRequest,
VehicleRegistration, RecallStatus, AccidentInspectionStatus) and the contract's field names; timestamps
ISO-8601, dates YYYY-MM-DD (``schemas.jsonl``). Output on stdout, per VIN: the judgment and its reasons,
every reading with its receipt (the readings an open anomaly blames marked), each open anomaly in words
with its suggested value, and the receipts' issues with their error numbers. With ``--json``, JSON Lines
for programs instead: every Receipt and AnomalyEvent in order (contract shapes), then one VehicleSummary
per VIN. Bad input stops the command with the line and field at fault (exit status 2) before anything is
judged. ``ProviderRegistration`` lines are the registry of providers: when the file has any, readings are
judged by it as the worker does (``CARPASS_PROVIDERS_FROM_REGISTRY``; an unregistered provider's reading is
REJECTED), else by their own fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from schemas.errors import JsonLineError
from schemas.jsonl import read_lines, to_json_obj
from schemas.records import (
    AccidentInspectionStatus,
    AnomalyEvent,
    CorrectionRequest,
    OdometerReading,
    ProviderRegistration,
    RecallStatus,
    Receipt,
    VehicleRegistration,
)
from streams.cli import CliError
from streams.domain.offline import VehicleSummary, judge
from streams.domain.providers import ProviderBook, ProviderDirectory
from streams.domain.vehicle import VehicleEvent
from streams.settings import Settings

_JUDGED = (OdometerReading, CorrectionRequest, VehicleRegistration, RecallStatus, AccidentInspectionStatus)

_EXAMPLE = (
    '{"type": "OdometerReading", "event_id": "7d0c1f9e-2b7a-4c1e-9f1a-0d6c2e5b8a31", '
    '"vin": "WVWZZZ1JZXW000001", "odometer_value": 45210, "observed_at": "2024-03-01T10:15:00Z", '
    '"submitted_at": "2024-03-01T10:16:00Z", "provider_id": "0123456789", "provider_kind": "GARAGE", '
    '"origin": "WORKSHOP", "work_description": "annual service"}'
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``judge`` to the ``carpass`` parser."""
    parser = subparsers.add_parser(
        "judge",
        help="judge a JSON Lines file of events offline (receipts, anomalies, one summary per VIN)",
        description=__doc__,
        epilog=(f"example input line:\n  {_EXAMPLE}\n\nexamples:\n  carpass judge examples/rollback.jsonl\n"
                "  carpass judge --json events.jsonl > judged.jsonl"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("file", metavar="FILE", help="JSON Lines file of events, or - for standard input")
    parser.add_argument(
        "--json", action="store_true",
        help="JSON Lines for programs (receipts, anomaly events, one summary per VIN) instead of the report",
    )  # fmt: skip
    parser.set_defaults(handler=cmd_judge)


def cmd_judge(args: argparse.Namespace, settings: Settings) -> int:
    book = ProviderBook()
    if args.file == "-":
        records = load_events(sys.stdin, "<stdin>", book)
    else:
        try:
            with open(args.file, encoding="utf-8") as handle:
                records = load_events(handle, args.file, book)
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror}") from exc
    # As the worker (CARPASS_PROVIDERS_FROM_REGISTRY), when the file holds the registry's records.
    providers = book if settings.providers_from_registry and len(book) else None
    if args.json:
        write_judgments(records, sys.stdout, providers)
    else:
        sys.stdout.write(report(records, list(judge(records, providers=providers))))
    return 0


def load_events(lines: Iterable[str], name: str, providers: ProviderBook | None = None) -> list[VehicleEvent]:
    """Every event of ``lines`` (``ProviderRegistration`` lines go to ``providers``, if given); the first
    bad line raises ``CliError`` naming it."""
    records: list[VehicleEvent] = []
    for number, item in read_lines(lines):
        if isinstance(item, JsonLineError):
            raise CliError(f"{name}: {item}")
        if providers is not None and isinstance(item, ProviderRegistration):
            providers.add(item)
            continue
        if not isinstance(item, _JUDGED):
            raise CliError(
                f"{name}: line {number}: {type(item).__name__} is not judged; "
                f"expected one of {', '.join(t.__name__ for t in _JUDGED)}"
            )
        records.append(item)
    return records


def summary_json_obj(summary: VehicleSummary) -> dict[str, Any]:
    return {
        "type": "VehicleSummary",
        "vin": summary.vin,
        "judgment": summary.judgment.value,
        "reasons": list(summary.reasons),
        "open_anomalies": [
            {
                "anomaly_id": a.anomaly_id,
                "kind": a.kind,
                "blamed_event_id": a.blamed_event_id,
                "suspected_cause": a.suspected_cause,
                "suggested_value": a.suggested_value,
            }
            for a in summary.open_anomalies
        ],
        "readings_used": list(summary.readings_used),
    }


def write_judgments(
    records: Iterable[VehicleEvent], out: TextIO, providers: ProviderDirectory | None = None
) -> None:
    for output in judge(records, providers=providers):
        obj = summary_json_obj(output) if isinstance(output, VehicleSummary) else to_json_obj(output)
        out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


# --- the report a person reads ---------------------------------------------------------------------------

_CAUSES = {
    "EXTRA_DIGIT": "a digit too many", "MISSING_DIGIT": "a digit missing",
    "SWAPPED_DIGITS": "two digits swapped", "MISTYPED_DIGIT": "a digit mistyped",
    "MILES_AS_KM": "miles written as kilometres", "UNKNOWN": "a typing error of no known kind",
}  # fmt: skip
_KINDS = {
    "SPIKE": "a reading far above the trend", "DIP": "a reading far below the trend",
    "ROLLBACK": "the counter went back, and later readings follow the lower value",
    "IMPLAUSIBLE_RATE": "the counter grew faster than a car can be driven",
    "CONFLICTING_DUPLICATE": "one provider sent two values for one day",
    "ODOMETER_REPLACED": "the odometer was replaced", "COUNTER_WRAPPED": "a 5-digit counter went round",
    "STALE_HISTORY": "no reading for a long time",
}  # fmt: skip
Outputs = Sequence[Receipt | AnomalyEvent | VehicleSummary]


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def report(records: Sequence[VehicleEvent], outputs: Outputs) -> str:
    """The judged log as a person reads it, one block per VIN (in order of first appearance)."""
    receipts = {o.event_id: o for o in outputs if isinstance(o, Receipt)}
    anomalies = {o.anomaly_id: o for o in outputs if isinstance(o, AnomalyEvent)}
    summaries = [o for o in outputs if isinstance(o, VehicleSummary)]
    blocks = []
    for summary in summaries:
        readings = sorted((r for r in records if isinstance(r, OdometerReading) and r.vin == summary.vin),
                          key=lambda r: (r.observed_at, r.event_id))  # fmt: skip
        by_id = {r.event_id: r for r in readings}
        open_ = [anomalies[a.anomaly_id] for a in summary.open_anomalies if a.anomaly_id in anomalies]
        marks: dict[str, list[str]] = {}
        for anomaly in open_:
            if anomaly.blamed_event_id is not None:
                marks.setdefault(anomaly.blamed_event_id, []).append(anomaly.kind.value)
        reasons = f" ({', '.join(summary.reasons)})" if summary.reasons else ""
        lines = [f"{summary.vin}: {summary.judgment.value}{reasons}", ""]
        lines.append(f"  {'date':<10}  {'odometer':>10}  {'provider':<10}  {'origin':<10}  receipt")
        for reading in readings:
            answer = receipts.get(reading.event_id)
            status = answer.status.value if answer is not None else "-"
            unit = "" if reading.unit.value == "KM" else f" {reading.unit.value.lower()}"
            mark = f"   <- {', '.join(marks[reading.event_id])}" if reading.event_id in marks else ""
            day, origin = _day(reading.observed_at), reading.origin.value
            lines.append(f"  {day:<10}  {reading.odometer_value:>10,}{unit}  {reading.provider_id:<10}  "
                         f"{origin:<10}  {status}{mark}")  # fmt: skip
        if open_:
            lines += ["", "  open anomalies"]
            for anomaly in open_:
                lines.append(f"    {anomaly.kind.value}: {_explain(anomaly, by_id)}")
        issues = [(reading, issue) for reading in readings if (answer := receipts.get(reading.event_id))
                  for issue in answer.issues]  # fmt: skip
        by_number = {issue.error_number: reading for reading, issue in issues}
        fixes = _corrections(records, summary.vin, receipts, by_number)
        if fixes:
            lines += ["", "  corrections"] + [f"    {fix}" for fix in fixes]
        if issues:
            lines += ["", "  issues on the receipts"]
            for reading, issue in issues:
                severity = issue.severity.value
                lines.append(f"    {_day(reading.observed_at)}  {issue.error_number}  {severity:<7}  "
                             f"{issue.code}: {issue.message}")  # fmt: skip
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _corrections(
    records: Sequence[VehicleEvent], vin: str, receipts: dict[str, Receipt],
    readings: dict[str, OdometerReading],
) -> list[str]:  # fmt: skip
    """Each correction of ``vin``: what it asked for, of which reading, and its receipt."""
    lines = []
    for fix in (r for r in records if isinstance(r, CorrectionRequest) and r.vin == vin):
        reading = readings.get(fix.error_number)
        of = f"the reading of {_day(reading.observed_at)}" if reading is not None else "an unknown reading"
        if fix.withdraw:
            asked = "withdraw it"
        else:
            wanted = []
            if fix.corrected_value is not None:
                wanted.append(f"value {fix.corrected_value:,}")
            if fix.corrected_observed_at is not None:
                wanted.append(f"date {_day(fix.corrected_observed_at)}")
            asked = ", ".join(wanted) or "nothing"
        answer = receipts.get(fix.event_id)
        status = answer.status.value if answer is not None else "no receipt"
        lines.append(f"{_day(fix.submitted_at)}  {fix.error_number}  {of}: {asked} ({fix.channel.value}) "
                     f"-> {status}")  # fmt: skip
    return lines


def _explain(anomaly: AnomalyEvent, readings: dict[str, OdometerReading]) -> str:
    """One open anomaly in words: what, on which reading, the likely cause and the suggested value."""
    words = [_KINDS.get(anomaly.kind.value, anomaly.kind.value.lower())]
    if anomaly.counter_restarted:
        words = ["the counter started again near zero: most likely an odometer replaced without being "
                 "reported (R6), not a counter turned back"]  # fmt: skip
    blamed = readings.get(anomaly.blamed_event_id or "")
    if blamed is not None:
        value = f"{blamed.odometer_value:,} {blamed.unit.value.lower()}"
        words.append(f"the reading of {_day(blamed.observed_at)} ({value})")
    if anomaly.suspected_cause is not None:
        words.append(f"likely {_CAUSES.get(anomaly.suspected_cause.value, anomaly.suspected_cause.value)}")
    if anomaly.suggested_value is not None:
        words.append(f"did the provider mean {anomaly.suggested_value:,}?")
    words.append(f"blamed on provider {anomaly.blamed_provider_id}" if anomaly.blamed_provider_id
                 else "not blamed on the provider that read the dashboard")  # fmt: skip
    return "; ".join(words)
