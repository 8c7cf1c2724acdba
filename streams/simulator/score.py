"""Detection quality against a simulation's ground truth: ``score(anomaly_events, truth) -> QualityReport``.

Anomalies: the latest event per ``anomaly_id`` counts (a later event supersedes); OPEN and RESOLVED ones are
detections, RETRACTED ones are not. Markers are ODOMETER_REPLACED and COUNTER_WRAPPED; every other kind is a
*break*.

Recall, per fault kind, over the *visible* faults (``Fault.visible``; the invisible are counted, not scored):

==========================  ==================================================================================
ROLLBACK (blamed right)     a ROLLBACK blamed on the fault's reading (the first after the step down)
ROLLBACK (in the VIN)       a ROLLBACK anywhere in the VIN
SPIKE, DIP                  a SPIKE or DIP blamed on the reading (either kind: a typo is caught either way),
                            or the reading REJECTED on its receipt (``receipts`` given; shown as "at intake")
CONFLICTING_DUPLICATE       a CONFLICTING_DUPLICATE blamed on either reading of the pair, or the wrong one
                            REJECTED on its receipt (at intake)
ODOMETER_REPLACED,          the marker of that kind on the reading
COUNTER_WRAPPED
DUPLICATE, LATE             the reading's receipt has a DUPLICATE / LATE_SUBMISSION issue (``receipts`` given)
MALFORMED                   a dead letter holds exactly the message's bytes (``dead_letters`` given)
==========================  ==================================================================================

With ``kind_agnostic=True`` (the naive baseline, whose flags have no kind) any break blamed on the reading
counts for ROLLBACK, SPIKE, DIP and CONFLICTING_DUPLICATE, and marker, receipt and dead-letter kinds are n/a.

Precision, per anomaly kind: ROLLBACK is right when the VIN has a rollback fault (and "exact" when it blames
that fault's reading), counting the ROLLBACKs marked ``counter_restarted`` apart (right when blamed on a
replacement sent without the R6 tick; a rollback fault is not "found" by them either); SPIKE, DIP and
IMPLAUSIBLE_RATE when the blamed reading carries a wrong value; CONFLICTING_DUPLICATE when it blames a
reading of a conflicting pair; a marker when a fault of its kind is on its reading. *Break precision*
(both detectors, same rule): a break is right when its blamed or related readings include a wrong value or
when its VIN has a rollback.

Blame: of the visible ROLLBACK, SPIKE, DIP and CONFLICTING_DUPLICATE faults that were *noticed* (a break names
the reading as blamed or related; for a rollback, a break in the VIN not blamed on a wrong value), the share
where a break blames exactly the fault's reading. Suggestion: of the visible keying typos blamed right, the
share whose suggested value is the true one (MILES_AS_KM: within 1 km, rounding). Clean vehicles: VINs
without any trend fault (ROLLBACK, SPIKE, DIP, CONFLICTING_DUPLICATE, ODOMETER_REPLACED, COUNTER_WRAPPED);
legitimate drops: VINs whose only trend faults are replacements and wraps. Breaks blamed on a replacement
sent without the R6 tick box are also counted apart (the data show a rollback; no detector can know).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.records import AnomalyEvent, AnomalyKind, AnomalyStatus, Receipt, ReceiptStatus
from streams.simulator.truth import KEYING_CAUSES, WRONG_VALUE_KINDS, Cause, Fault, FaultKind, GroundTruth

MARKERS = frozenset({AnomalyKind.ODOMETER_REPLACED, AnomalyKind.COUNTER_WRAPPED})
TREND_FAULTS = frozenset(
    {FaultKind.ROLLBACK, *WRONG_VALUE_KINDS, FaultKind.ODOMETER_REPLACED, FaultKind.COUNTER_WRAPPED}
)
_RECEIPT_CODES = {FaultKind.DUPLICATE: "DUPLICATE", FaultKind.LATE: "LATE_SUBMISSION"}
ROLLBACK_EXACT, ROLLBACK_IN_VIN = "ROLLBACK (blamed right)", "ROLLBACK (in the VIN)"
ROLLBACKS = frozenset({AnomalyKind.ROLLBACK})
RESTARTED = "ROLLBACK, counter restarted"
"""Precision row of the ROLLBACKs marked ``counter_restarted`` (an unreported replacement, #17 item 1):
right when blamed on a replacement sent without the R6 tick; the ROLLBACK rows count the others."""


@dataclass(frozen=True, slots=True)
class Ratio:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "total": self.total, "value": self.value}


@dataclass(frozen=True, slots=True)
class KindRecall:
    """Recall of one fault kind: ``found`` of the ``visible`` faults (``None``: not scorable here)."""

    kind: str
    faults: int
    visible: int
    found: int | None
    at_intake: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.visible if self.found is not None and self.visible else None


@dataclass(frozen=True, slots=True)
class KindPrecision:
    """Precision of one anomaly kind: ``right`` of the ``flagged`` (``right`` ``None``: no truth for it)."""

    kind: str
    flagged: int
    right: int | None

    @property
    def precision(self) -> float | None:
        return self.right / self.flagged if self.right is not None and self.flagged else None


@dataclass(frozen=True, slots=True)
class QualityReport:
    """How well one detector found the injected faults (see the module docstring for every definition)."""

    detector: str
    recall: tuple[KindRecall, ...]
    precision: tuple[KindPrecision, ...]
    breaks: Ratio
    """Break precision: right breaks / breaks."""
    blame: Ratio
    suggestion: Ratio
    clean_vehicles_flagged: Ratio
    legit_drop_vehicles_flagged: Ratio
    breaks_on_unflagged_replacements: int = 0
    """Breaks blamed on a replacement sent without the R6 tick: a rollback in the data, no detector's fault
    (counted wrong in the precision above)."""

    def recall_of(self, kind: str) -> KindRecall:
        return next(r for r in self.recall if r.kind == kind)

    def precision_of(self, kind: str) -> KindPrecision | None:
        return next((p for p in self.precision if p.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (ratios as ``{"hits", "total", "value"}``)."""
        return {
            "detector": self.detector,
            "recall": {
                r.kind: {
                    "faults": r.faults,
                    "visible": r.visible,
                    "found": r.found,
                    "at_intake": r.at_intake,
                    "recall": r.recall,
                }
                for r in self.recall
            },
            "precision": {
                p.kind: {"flagged": p.flagged, "right": p.right, "precision": p.precision}
                for p in self.precision
            },
            "break_precision": self.breaks.to_dict(),
            "blame": self.blame.to_dict(),
            "suggestion": self.suggestion.to_dict(),
            "clean_vehicles_flagged": self.clean_vehicles_flagged.to_dict(),
            "legit_drop_vehicles_flagged": self.legit_drop_vehicles_flagged.to_dict(),
            "breaks_on_unflagged_replacements": self.breaks_on_unflagged_replacements,
        }


def latest(anomaly_events: Iterable[AnomalyEvent]) -> list[AnomalyEvent]:
    """The detections: the latest event per ``anomaly_id`` (input order), unless RETRACTED."""
    last: dict[str, AnomalyEvent] = {}
    for event in anomaly_events:
        last[event.anomaly_id] = event
    return [e for e in last.values() if e.status is not AnomalyStatus.RETRACTED]


def score(
    anomaly_events: Iterable[AnomalyEvent],
    truth: GroundTruth,
    *,
    receipts: Iterable[Receipt] | None = None,
    dead_letters: Iterable[bytes] | None = None,
    vins: Iterable[str] | None = None,
    kind_agnostic: bool = False,
    detector: str = "engine",
) -> QualityReport:
    """Score ``anomaly_events`` against ``truth``. ``receipts`` (only those with issues are needed) score
    DUPLICATE, LATE and intake rejections; ``dead_letters`` (original values) score MALFORMED; ``vins`` (every
    VIN of the log) gives the clean-vehicle denominator (else only VINs named by faults or anomalies)."""
    found = latest(anomaly_events)
    breaks = [a for a in found if a.kind not in MARKERS]
    blamed: dict[str, list[AnomalyEvent]] = defaultdict(list)
    touched: dict[str, list[AnomalyEvent]] = defaultdict(list)
    by_vin: dict[str, list[AnomalyEvent]] = defaultdict(list)
    for a in breaks:
        by_vin[a.vin].append(a)
        if a.blamed_event_id is not None:
            blamed[a.blamed_event_id].append(a)
        for eid in {a.blamed_event_id, *a.related_event_ids} - {None}:
            touched[str(eid)].append(a)
    markers = {(a.kind.value, a.blamed_event_id) for a in found if a.kind in MARKERS}
    faults = truth.faults
    wrong = {f.event_id for f in faults if f.kind in WRONG_VALUE_KINDS}
    pairs = {
        eid
        for f in faults
        if f.kind is FaultKind.CONFLICTING_DUPLICATE
        for eid in (f.event_id, *f.related_event_ids)
    }
    rollback_vins = {f.vin for f in faults if f.kind is FaultKind.ROLLBACK}
    rollback_events = {f.event_id for f in faults if f.kind is FaultKind.ROLLBACK}
    codes: dict[str, set[str]] = defaultdict(set)
    rejected: set[str] = set()
    for r in receipts or ():
        codes[r.event_id].update(issue.code for issue in r.issues)
        if r.status is ReceiptStatus.REJECTED:
            rejected.add(r.event_id)
    letters = set(dead_letters) if dead_letters is not None else None

    def kinds_ok(a: AnomalyEvent, allowed: frozenset[AnomalyKind]) -> bool:
        return kind_agnostic or a.kind in allowed

    typo_kinds = frozenset({AnomalyKind.SPIKE, AnomalyKind.DIP})
    recall: list[KindRecall] = []
    for kind in FaultKind:
        of_kind = [f for f in faults if f.kind is kind]
        visible = [f for f in of_kind if f.visible]
        intake = 0
        if kind is FaultKind.ROLLBACK:
            def accuses(a: AnomalyEvent) -> bool:  # a counter restarted near zero is not a rollback found
                return kinds_ok(a, ROLLBACKS) and (kind_agnostic or not a.counter_restarted)

            exact = sum(any(accuses(a) for a in blamed[f.event_id]) for f in visible)
            in_vin = sum(any(accuses(a) for a in by_vin[f.vin]) for f in visible)
            recall.append(KindRecall(ROLLBACK_EXACT, len(of_kind), len(visible), exact))
            recall.append(KindRecall(ROLLBACK_IN_VIN, len(of_kind), len(visible), in_vin))
            continue
        hits: int | None
        if kind in (FaultKind.SPIKE, FaultKind.DIP):
            hit_list = [any(kinds_ok(a, typo_kinds) for a in blamed[f.event_id]) for f in visible]
            intake = sum(not h and f.event_id in rejected for h, f in zip(hit_list, visible, strict=True))
            hits = sum(hit_list) + intake
        elif kind is FaultKind.CONFLICTING_DUPLICATE:
            conflict = frozenset({AnomalyKind.CONFLICTING_DUPLICATE})
            hit_list = [
                any(kinds_ok(a, conflict) for eid in (f.event_id, *f.related_event_ids) for a in blamed[eid])
                for f in visible
            ]
            intake = sum(not h and f.event_id in rejected for h, f in zip(hit_list, visible, strict=True))
            hits = sum(hit_list) + intake
        elif kind in (FaultKind.ODOMETER_REPLACED, FaultKind.COUNTER_WRAPPED):
            hits = None if kind_agnostic else sum((kind.value, f.event_id) in markers for f in visible)
        elif kind in _RECEIPT_CODES:
            hits = (
                None
                if receipts is None or kind_agnostic
                else sum(_RECEIPT_CODES[kind] in codes.get(f.event_id, ()) for f in visible)
            )
        else:
            hits = None if letters is None else sum(f.payload in letters for f in visible)
        recall.append(KindRecall(kind.value, len(of_kind), len(visible), hits, intake))

    precision = _precision(found, kind_agnostic, wrong, pairs, rollback_vins, rollback_events, faults)
    unflagged = {f.event_id for f in faults if f.cause is Cause.UNFLAGGED_REPLACEMENT}
    on_unflagged = sum(a.blamed_event_id in unflagged for a in breaks)
    breaks_right = sum(
        a.vin in rollback_vins
        or any(eid in wrong or eid in pairs for eid in (a.blamed_event_id, *a.related_event_ids))
        for a in breaks
    )
    return QualityReport(
        detector=detector,
        recall=tuple(recall),
        precision=precision,
        breaks=Ratio(breaks_right, len(breaks)),
        blame=_blame(faults, blamed, touched, by_vin, wrong),
        suggestion=_suggestions(faults, blamed),
        clean_vehicles_flagged=_vehicles(faults, by_vin, vins, legit=False),
        legit_drop_vehicles_flagged=_vehicles(faults, by_vin, vins, legit=True),
        breaks_on_unflagged_replacements=on_unflagged,
    )


def _precision(
    found: list[AnomalyEvent],
    kind_agnostic: bool,
    wrong: set[str],
    pairs: set[str],
    rollback_vins: set[str],
    rollback_events: set[str],
    faults: tuple[Fault, ...],
) -> tuple[KindPrecision, ...]:
    if kind_agnostic:
        return ()
    marked = {
        (f.kind.value, f.event_id)
        for f in faults
        if f.kind in (FaultKind.ODOMETER_REPLACED, FaultKind.COUNTER_WRAPPED)
    }
    rows: list[KindPrecision] = []
    for kind in AnomalyKind:
        of_kind = [a for a in found if a.kind is kind]
        if not of_kind:
            continue
        right: int | None
        if kind is AnomalyKind.ROLLBACK:
            restarted = [a for a in of_kind if a.counter_restarted]
            of_kind = [a for a in of_kind if not a.counter_restarted]
            rows.append(
                KindPrecision(
                    "ROLLBACK (exact)",
                    len(of_kind),
                    sum(a.blamed_event_id in rollback_events for a in of_kind),
                )
            )
            if restarted:  # right when blamed on a replacement sent without the R6 tick
                unflagged = {f.event_id for f in faults if f.cause is Cause.UNFLAGGED_REPLACEMENT}
                hits = sum(a.blamed_event_id in unflagged for a in restarted)
                rows.append(KindPrecision(RESTARTED, len(restarted), hits))
            right = sum(a.vin in rollback_vins for a in of_kind)
        elif kind in (AnomalyKind.SPIKE, AnomalyKind.DIP, AnomalyKind.IMPLAUSIBLE_RATE):
            right = sum(a.blamed_event_id in wrong for a in of_kind)
        elif kind is AnomalyKind.CONFLICTING_DUPLICATE:
            right = sum(a.blamed_event_id in pairs for a in of_kind)
        elif kind in MARKERS:
            right = sum((kind.value, a.blamed_event_id) in marked for a in of_kind)
        else:
            right = None
        rows.append(KindPrecision(kind.value, len(of_kind), right))
    return tuple(rows)


def _blame(
    faults: tuple[Fault, ...],
    blamed: Mapping[str, list[AnomalyEvent]],
    touched: Mapping[str, list[AnomalyEvent]],
    by_vin: Mapping[str, list[AnomalyEvent]],
    wrong: set[str],
) -> Ratio:
    noticed = right = 0
    for f in faults:
        if not f.visible or f.kind not in (FaultKind.ROLLBACK, *WRONG_VALUE_KINDS):
            continue
        if f.kind is FaultKind.ROLLBACK:
            seen = any(a.blamed_event_id not in wrong for a in by_vin.get(f.vin, ()))
        else:
            seen = bool(touched.get(f.event_id))
        if seen or blamed.get(f.event_id):
            noticed += 1
            right += bool(blamed.get(f.event_id))
    return Ratio(right, noticed)


def _suggestions(faults: tuple[Fault, ...], blamed: Mapping[str, list[AnomalyEvent]]) -> Ratio:
    caught = good = 0
    for f in faults:
        if not f.visible or f.cause not in KEYING_CAUSES or f.kind not in WRONG_VALUE_KINDS:
            continue
        detections = blamed.get(f.event_id)
        if not detections or f.true_value is None:
            continue
        caught += 1
        slack = 1 if f.cause is Cause.MILES_AS_KM else 0
        good += any(
            a.suggested_value is not None and abs(a.suggested_value - f.true_value) <= slack
            for a in detections
        )
    return Ratio(good, caught)


def _vehicles(
    faults: tuple[Fault, ...],
    by_vin: Mapping[str, list[AnomalyEvent]],
    vins: Iterable[str] | None,
    *,
    legit: bool,
) -> Ratio:
    trend: dict[str, set[FaultKind]] = defaultdict(set)
    for f in faults:
        if f.kind in TREND_FAULTS:
            trend[f.vin].add(f.kind)
    everyone = set(vins) if vins is not None else set(by_vin) | {f.vin for f in faults}
    if legit:
        group = {
            v
            for v, kinds in trend.items()
            if kinds <= {FaultKind.ODOMETER_REPLACED, FaultKind.COUNTER_WRAPPED}
        }
    else:
        group = everyone - set(trend)
    return Ratio(sum(bool(by_vin.get(v)) for v in group), len(group))
