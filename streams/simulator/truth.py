"""The ground truth of a simulation: every fault injected into the events, with the reading it concerns.

Written beside the events as one JSON document (``carpass simulate --truth truth.json``)::

    {"format": "carpass-simulator-truth/1", "seed": 7, "vehicles": 20000,
     "start": "2016-07-01", "end": "2026-07-01", "fault_rate_multiplier": 10.0, "malformed": false,
     "counts": {"ROLLBACK": 212, ...},
     "faults": [{"kind": "SPIKE", "vin": "WVW…", "event_id": "…", "cause": "EXTRA_DIGIT",
                 "observed_at": "2021-03-08T09:41:00.000Z", "provider_id": "0412345678",
                 "true_value": 45210, "typed_value": 452100, "unit": "KM", "visible": true,
                 "related_event_ids": [], "rollback_km": null, "delay_days": null,
                 "topic": null, "payload": null}, …]}

What each kind's ``event_id`` is (the reading a perfect detector blames):

=====================  ===================================================================================
ROLLBACK               the first reading after the counter was turned back (read correctly from a tampered
                       dashboard); ``true_value``: what it should show, ``typed_value``: what it shows,
                       ``rollback_km``: the km removed; cause DOMESTIC_SALE or IMPORT
SPIKE / DIP            a reading whose value is wrong (above / below the truth); cause a keying error
                       (EXTRA_DIGIT, MISSING_DIGIT, SWAPPED_DIGITS, MISTYPED_DIGIT, MILES_AS_KM, the same
                       names as ``SuspectedCause``) or a connected feed's FEED_ZERO / FEED_STALE
CONFLICTING_DUPLICATE  of two readings of one provider on one day with different values, the wrong one;
                       ``related_event_ids``: the other one; cause the keying error
DUPLICATE              the resubmission of a reading already sent that day (same value); related: the
                       original; cause RESUBMITTED
ODOMETER_REPLACED      the first reading on the new counter; cause NEW_COUNTER or USED_COUNTER (a used
                       instrument cluster), or UNFLAGGED_REPLACEMENT when the R6 tick box was not ticked
COUNTER_WRAPPED        the first reading of a 5-digit counter after it passed 99,999; cause WRAP
LATE                   a reading sent 14-60 days after the work (R2); ``delay_days``; cause BACK_DATED
MALFORMED              an undecodable message (Kafka mode only): ``topic`` and ``payload`` (base64 of the
                       exact bytes sent), ``event_id`` a fresh id; cause TRUNCATED, TRAILING_BYTES,
                       NOT_AVRO or UNKNOWN_SCHEMA
=====================  ===================================================================================

``visible`` says whether the data hold the evidence a detector needs (see :mod:`streams.simulator.fleet`):
a typo hidden inside the trend, a rollback of an import without foreign history, or a replacement without
the tick box are injected but cannot be found as what they are. Values are in ``unit`` as sent (a 5-digit
counter's values as displayed); for MILES_AS_KM ``true_value`` is the right value in km, the unit the reading
was sent in.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from schemas.records import Unit

FORMAT = "carpass-simulator-truth/1"
TOLERANCE_KM = 100
"""RDW/NAP: a difference under 100 km is no trend break, so a wrong value that close is not visible."""


class TruthFormatError(ValueError):
    """A ground-truth document that this version cannot read."""


class FaultKind(StrEnum):
    ROLLBACK = "ROLLBACK"
    SPIKE = "SPIKE"
    DIP = "DIP"
    CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
    DUPLICATE = "DUPLICATE"
    ODOMETER_REPLACED = "ODOMETER_REPLACED"
    COUNTER_WRAPPED = "COUNTER_WRAPPED"
    LATE = "LATE"
    MALFORMED = "MALFORMED"


class Cause(StrEnum):
    EXTRA_DIGIT = "EXTRA_DIGIT"
    MISSING_DIGIT = "MISSING_DIGIT"
    SWAPPED_DIGITS = "SWAPPED_DIGITS"
    MISTYPED_DIGIT = "MISTYPED_DIGIT"
    MILES_AS_KM = "MILES_AS_KM"
    FEED_ZERO = "FEED_ZERO"
    FEED_STALE = "FEED_STALE"
    DOMESTIC_SALE = "DOMESTIC_SALE"
    IMPORT = "IMPORT"
    RESUBMITTED = "RESUBMITTED"
    NEW_COUNTER = "NEW_COUNTER"
    USED_COUNTER = "USED_COUNTER"
    UNFLAGGED_REPLACEMENT = "UNFLAGGED_REPLACEMENT"
    WRAP = "WRAP"
    BACK_DATED = "BACK_DATED"
    TRUNCATED = "TRUNCATED"
    TRAILING_BYTES = "TRAILING_BYTES"
    NOT_AVRO = "NOT_AVRO"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"


KEYING_CAUSES = frozenset(
    {Cause.EXTRA_DIGIT, Cause.MISSING_DIGIT, Cause.SWAPPED_DIGITS, Cause.MISTYPED_DIGIT, Cause.MILES_AS_KM}
)
"""Keying errors: the causes the core can suggest a right value for (``SuspectedCause`` names)."""

WRONG_VALUE_KINDS = frozenset({FaultKind.SPIKE, FaultKind.DIP, FaultKind.CONFLICTING_DUPLICATE})
"""Faults whose reading carries a wrong value (a data-entry or feed error, not fraud)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault (see the module docstring for what each field means per kind).

    ``observed_at`` is epoch ms (UTC); values are in ``unit``; ``payload`` is the exact bytes of a MALFORMED
    message.
    """

    kind: FaultKind
    vin: str
    event_id: str
    cause: Cause
    visible: bool
    observed_at: int | None = None
    provider_id: str | None = None
    true_value: int | None = None
    typed_value: int | None = None
    unit: Unit | None = None
    related_event_ids: tuple[str, ...] = ()
    rollback_km: int | None = None
    delay_days: int | None = None
    topic: str | None = None
    payload: bytes | None = None

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "vin": self.vin,
            "event_id": self.event_id,
            "cause": self.cause.value,
            "observed_at": _iso(self.observed_at),
            "provider_id": self.provider_id,
            "true_value": self.true_value,
            "typed_value": self.typed_value,
            "unit": self.unit.value if self.unit is not None else None,
            "visible": self.visible,
            "related_event_ids": list(self.related_event_ids),
            "rollback_km": self.rollback_km,
            "delay_days": self.delay_days,
            "topic": self.topic,
            "payload": base64.b64encode(self.payload).decode("ascii") if self.payload is not None else None,
        }

    @classmethod
    def from_json_obj(cls, obj: Mapping[str, Any]) -> Fault:
        try:
            payload = obj.get("payload")
            unit = obj.get("unit")
            return cls(
                kind=FaultKind(obj["kind"]),
                vin=str(obj["vin"]),
                event_id=str(obj["event_id"]),
                cause=Cause(obj["cause"]),
                visible=bool(obj["visible"]),
                observed_at=_from_iso(obj.get("observed_at")),
                provider_id=obj.get("provider_id"),
                true_value=obj.get("true_value"),
                typed_value=obj.get("typed_value"),
                unit=Unit(unit) if unit is not None else None,
                related_event_ids=tuple(obj.get("related_event_ids") or ()),
                rollback_km=obj.get("rollback_km"),
                delay_days=obj.get("delay_days"),
                topic=obj.get("topic"),
                payload=base64.b64decode(payload) if payload is not None else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise TruthFormatError(f"bad fault {dict(obj)!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """Every fault of one simulation, sorted by (observed_at, event_id), and how it was run."""

    seed: int
    vehicles: int
    start: date
    end: date
    fault_rate_multiplier: float
    malformed: bool
    """True when MALFORMED messages were produced (Kafka mode) and are listed."""
    faults: tuple[Fault, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        """Faults by kind, every kind listed (0 when none)."""
        found = Counter(f.kind.value for f in self.faults)
        return {kind.value: found.get(kind.value, 0) for kind in FaultKind}

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seed": self.seed,
            "vehicles": self.vehicles,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "fault_rate_multiplier": self.fault_rate_multiplier,
            "malformed": self.malformed,
            "counts": self.counts(),
            "faults": [f.to_json_obj() for f in self.faults],
        }

    def dump(self, out: IO[str]) -> None:
        """Write the document (one fault per line, so that diffs and ``grep`` stay readable)."""
        head = {k: v for k, v in self.to_json_obj().items() if k != "faults"}
        text = json.dumps(head, separators=(", ", ": "))[:-1]
        out.write(text + ', "faults": [\n')
        for position, fault in enumerate(self.faults):
            comma = "," if position < len(self.faults) - 1 else ""
            out.write("  " + json.dumps(fault.to_json_obj(), separators=(",", ":")) + comma + "\n")
        out.write("]}\n")

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            self.dump(out)

    @classmethod
    def from_json_obj(cls, obj: Mapping[str, Any]) -> GroundTruth:
        if obj.get("format") != FORMAT:
            raise TruthFormatError(f"not a {FORMAT} document (format: {obj.get('format')!r})")
        try:
            return cls(
                seed=int(obj["seed"]),
                vehicles=int(obj["vehicles"]),
                start=date.fromisoformat(obj["start"]),
                end=date.fromisoformat(obj["end"]),
                fault_rate_multiplier=float(obj["fault_rate_multiplier"]),
                malformed=bool(obj["malformed"]),
                faults=tuple(Fault.from_json_obj(f) for f in obj["faults"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise TruthFormatError(f"bad ground truth: {exc}") from exc

    @classmethod
    def read(cls, path: Path) -> GroundTruth:
        with path.open(encoding="utf-8") as handle:
            try:
                obj = json.load(handle)
            except json.JSONDecodeError as exc:
                raise TruthFormatError(f"{path}: not JSON: {exc}") from exc
        return cls.from_json_obj(obj)


def sorted_faults(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    """``faults`` in the document's order: by observed_at (none first), then kind, then event id."""
    return tuple(sorted(faults, key=lambda f: (f.observed_at or 0, f.kind.value, f.event_id)))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(instant_ms: int | None) -> str | None:
    if instant_ms is None:
        return None
    return (
        (_EPOCH + timedelta(milliseconds=instant_ms))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _from_iso(text: Any) -> int | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)
