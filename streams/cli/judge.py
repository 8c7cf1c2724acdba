"""``carpass judge FILE|-``: judge a JSON Lines file of events offline, with the stream's own core.

Input: one event per line, ``type`` naming the contract record (OdometerReading, CorrectionRequest,
VehicleRegistration, RecallStatus, AccidentInspectionStatus) and the contract's field names; timestamps
ISO-8601, dates YYYY-MM-DD (``schemas.jsonl``). Output on stdout, JSON Lines: every Receipt and
AnomalyEvent in order (contract shapes), then one VehicleSummary per VIN. Bad input stops the command with
the line and field at fault (exit status 2) before anything is judged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from schemas.errors import JsonLineError
from schemas.jsonl import read_lines, to_json_obj
from schemas.records import (
    AccidentInspectionStatus,
    CorrectionRequest,
    OdometerReading,
    RecallStatus,
    VehicleRegistration,
)
from streams.cli import CliError
from streams.domain.offline import VehicleSummary, judge
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
        epilog=f"example input line:\n  {_EXAMPLE}\n\nexample:\n  carpass judge events.jsonl > judged.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="JSON Lines file of events, or - for standard input")
    parser.set_defaults(handler=cmd_judge)


def cmd_judge(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # judging is offline: no broker, no settings needed
    if args.file == "-":
        records = load_events(sys.stdin, "<stdin>")
    else:
        try:
            with open(args.file, encoding="utf-8") as handle:
                records = load_events(handle, args.file)
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror}") from exc
    write_judgments(records, sys.stdout)
    return 0


def load_events(lines: Iterable[str], name: str) -> list[VehicleEvent]:
    """Every event of ``lines``; the first bad line raises ``CliError`` naming it."""
    records: list[VehicleEvent] = []
    for number, item in read_lines(lines):
        if isinstance(item, JsonLineError):
            raise CliError(f"{name}: {item}")
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


def write_judgments(records: Iterable[VehicleEvent], out: TextIO) -> None:
    for output in judge(records):
        obj = summary_json_obj(output) if isinstance(output, VehicleSummary) else to_json_obj(output)
        out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
