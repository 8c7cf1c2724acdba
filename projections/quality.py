"""Provider quality per provider and year (R10 Trusted Provider, R14 compliance): a pure fold.

::

    Receipt (odometer.receipts)              ─┐  re-keyed by provider id
    AnomalyEvent with blamed_provider_id      ├─► evolve(tally, event) ─► ProviderTally ─► quality_view()
    ProviderRegistration (providers.registry)─┘                                           ─► ProviderQuality
    ProviderTally, year ─► compliance(tally, year) ─► SILENT / FEW_READINGS (R14)

What is counted, per Brussels calendar year:

* ``readings``: receipts that are not REJECTED and not a mere ``DUPLICATE`` of a reading already received
  (a successful correction's receipt cannot be told apart from a reading's and counts: it is a submission
  too). The year is the receipt's ``processed_at`` year: R10 speaks of readings *sent* in year Y.
* ``late_submissions``: counted readings whose receipt carries ``LATE_SUBMISSION`` (R2).
* ``trend_breaks``: distinct readings blamed by an anomaly of a data-error kind (SPIKE, DIP,
  IMPLAUSIBLE_RATE, CONFLICTING_DUPLICATE; ``streams.domain.anomalies.BLAMING_KINDS``) whose latest status
  is OPEN or RESOLVED (a corrected error was still an error); RETRACTED removes the blame. Rollbacks are
  never blamed on the provider who read the tampered dashboard. The year is the blamed reading's
  ``observed_at`` year (the anomaly carries no submission time; the two differ only for late readings
  around New Year).
* Trusted Provider year Y+1 (R10): at least one reading in Y and a trend-break rate below 0.5 %.

The live worker does not send its receipts through the fold one by one: the vehicle agent counts each
batch's receipts per provider (:class:`ProviderReadings`: one message per provider and batch, on the
provider-events topic) and :func:`count_readings` adds them. :func:`evolve` on a ``Receipt`` is the same
count for one receipt (an offline fold over ``odometer.receipts``).

Idempotence: anomalies are keyed by ``anomaly_id`` (a redelivery changes nothing); a batch's counts sent
again after a crash or a takeover upstream (the vehicle agent judges again what it had not committed, and
gives the same receipts: they are deterministic) are counted once: each counted reading names its input
(topic and partition, offset) and the tally keeps the highest offset counted per input partition
(``ProviderTally.counted_to``); a reading at or below it was counted already. A partition's readings reach
the fold in offset order (one producer per partition at a time, batches in order, idempotent producer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from schemas.records import (
    AnomalyEvent,
    AnomalyStatus,
    ProviderKind,
    ProviderRegistration,
    Receipt,
    ReceiptStatus,
)
from schemas.views import ProviderQuality, ProviderYear
from streams.domain.anomalies import BLAMING_KINDS
from streams.domain.calendar import brussels_day, date_of
from streams.domain.catalogue import IssueCode

R14_NACE_CODES = frozenset({"45113", "45201", "45203", "45204", "45205", "45209", "45320"})
"""NACE codes of the businesses that must send readings (R14)."""
TRUSTED_RATE_LIMIT = 0.005
"""R10: a trend-break rate strictly below 0.5 % earns Trusted Provider year Y+1."""
FEW_READINGS_RATIO = 0.5
"""R14 "abnormally few": fewer than half of the previous year's readings."""
MAX_BLAMES = 2_000
"""Blames one provider's tally lists at most (about 200 bytes each in its stored JSON, well under Kafka's
1 MB record limit). Beyond it, the oldest year's blames are settled: counted into that year
(``YearTally.breaks_settled``) and forgotten, so that a correction retracting one of them no longer
lowers that year's count."""

ProviderEvent = Receipt | AnomalyEvent | ProviderRegistration


@dataclass(frozen=True, slots=True)
class YearTally:
    """Counted readings of one calendar year."""

    year: int
    readings: int = 0
    late_submissions: int = 0
    breaks_settled: int = 0
    """Readings of the year blamed by anomalies no longer listed (settled: ``MAX_BLAMES``)."""


@dataclass(frozen=True, slots=True)
class Blame:
    """The latest status of one anomaly blamed on the provider."""

    anomaly_id: str
    blamed_event_id: str
    year: int
    status: AnomalyStatus
    detected_at: int


@dataclass(frozen=True, slots=True)
class ProviderTally:
    """Everything the quality fold remembers about one provider. Replace, never mutate.

    ``years`` sorted by year; ``blames`` sorted by ``anomaly_id``; ``as_of`` the newest event time folded.
    """

    provider_id: str
    as_of: int = 0
    name: str | None = None
    kind: ProviderKind | None = None
    active: bool = False
    nace_codes: tuple[str, ...] = ()
    registered_at: int | None = None
    years: tuple[YearTally, ...] = ()
    blames: tuple[Blame, ...] = ()
    last_reading_at: int | None = None
    counted_to: tuple[tuple[str, int], ...] = ()
    """Per input partition (``"odometer.readings/3"``: the contract's topic name), the highest offset of a
    reading counted from it (:func:`count_readings`), sorted."""

    def year(self, year: int) -> YearTally:
        return next((y for y in self.years if y.year == year), YearTally(year))

    def trend_breaks(self, year: int) -> int:
        """Distinct readings of ``year`` blamed by an OPEN or RESOLVED data-error anomaly."""
        retracted = AnomalyStatus.RETRACTED
        live = {b.blamed_event_id for b in self.blames if b.year == year and b.status is not retracted}
        return self.year(year).breaks_settled + len(live)


def year_of(instant_ms: int) -> int:
    """The Brussels calendar year of an instant (epoch ms)."""
    return date_of(brussels_day(instant_ms)).year


def provider_key(event: ProviderEvent) -> str | None:
    """The provider an event is about, or None when it concerns no provider's quality."""
    if isinstance(event, Receipt | ProviderRegistration):
        return event.provider_id
    if event.kind in BLAMING_KINDS and event.blamed_provider_id and event.blamed_event_id:
        return event.blamed_provider_id
    return None


def counts_as_reading(receipt: Receipt) -> bool:
    """Whether a receipt adds a reading to its provider's tally (not rejected, not a duplicate)."""
    if receipt.status is ReceiptStatus.REJECTED:
        return False
    return not any(issue.code == IssueCode.DUPLICATE for issue in receipt.issues)


def _with_year(years: tuple[YearTally, ...], tally: YearTally) -> tuple[YearTally, ...]:
    rest = [y for y in years if y.year != tally.year]
    return tuple(sorted([*rest, tally], key=lambda y: y.year))


def evolve(tally: ProviderTally, event: ProviderEvent) -> ProviderTally:
    """``tally`` after ``event``; events about another provider (``provider_key``) change nothing."""
    if provider_key(event) != tally.provider_id:
        return tally
    if isinstance(event, ProviderRegistration):
        if tally.registered_at is not None and event.changed_at < tally.registered_at:
            return tally
        return replace(
            tally,
            as_of=max(tally.as_of, event.changed_at),
            name=event.name,
            kind=event.kind,
            active=event.active,
            nace_codes=tuple(sorted(event.nace_codes)),
            registered_at=event.changed_at,
        )
    if isinstance(event, Receipt):
        as_of = max(tally.as_of, event.processed_at)
        if not counts_as_reading(event):
            return replace(tally, as_of=as_of)
        current = tally.year(year_of(event.processed_at))
        late = any(issue.code == IssueCode.LATE_SUBMISSION for issue in event.issues)
        counted = replace(
            current, readings=current.readings + 1, late_submissions=current.late_submissions + int(late)
        )
        last = max(tally.last_reading_at or event.processed_at, event.processed_at)
        return replace(tally, as_of=as_of, years=_with_year(tally.years, counted), last_reading_at=last)
    return _blame(tally, event)


@dataclass(frozen=True, slots=True)
class CountedReading:
    """A receipt counted as a reading: its input (``source`` ``"<contract topic>/<partition>"``, ``offset``)
    and what it adds (the ``year`` of its ``processed_at``; ``late``: a ``LATE_SUBMISSION``)."""

    source: str
    offset: int
    year: int
    late: bool


@dataclass(frozen=True, slots=True)
class ProviderReadings:
    """What one batch of the vehicle agent's receipts adds to one provider's tally.

    ``as_of``: the newest ``processed_at`` of its receipts (counted or not); ``last_reading_at``: the newest
    of those counted (None: none counted); ``counted``: the receipts that count as readings."""

    provider_id: str
    as_of: int
    last_reading_at: int | None
    counted: tuple[CountedReading, ...]


def count_readings(tally: ProviderTally, readings: ProviderReadings) -> ProviderTally:
    """``tally`` with ``readings`` counted; a reading at or below its partition's ``counted_to`` mark was
    counted already (a batch sent again) and adds nothing."""
    if readings.provider_id != tally.provider_id:
        return tally
    marks = dict(tally.counted_to)
    moved = dict(marks)
    added: dict[int, list[int]] = {}
    for item in readings.counted:
        if item.offset <= marks.get(item.source, -1):
            continue
        if item.offset > moved.get(item.source, -1):
            moved[item.source] = item.offset
        counts = added.setdefault(item.year, [0, 0])
        counts[0] += 1
        counts[1] += int(item.late)
    years = tally.years
    for year, (readings_n, late_n) in added.items():
        current = tally.year(year)
        years = _with_year(years, replace(current, readings=current.readings + readings_n,
                                          late_submissions=current.late_submissions + late_n))  # fmt: skip
    last = tally.last_reading_at
    if readings.last_reading_at is not None:
        last = readings.last_reading_at if last is None else max(last, readings.last_reading_at)
    return replace(
        tally, as_of=max(tally.as_of, readings.as_of), years=years, last_reading_at=last,
        counted_to=tuple(sorted(moved.items())) if moved != marks else tally.counted_to,
    )  # fmt: skip


def readings_to_json(readings: ProviderReadings) -> bytes:
    """The message form of :class:`ProviderReadings` (compact JSON: it starts with ``{``, which no Avro
    record on the provider-events topic does)."""
    obj = {
        "provider_id": readings.provider_id,
        "as_of": readings.as_of,
        "last_reading_at": readings.last_reading_at,
        "counted": [[c.source, c.offset, c.year, int(c.late)] for c in readings.counted],
    }
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def readings_from_json(data: bytes) -> ProviderReadings:
    """The inverse of :func:`readings_to_json`; ``ValueError``, ``KeyError`` or ``TypeError`` if malformed."""
    obj = json.loads(data)
    return ProviderReadings(
        provider_id=str(obj["provider_id"]),
        as_of=int(obj["as_of"]),
        last_reading_at=None if obj["last_reading_at"] is None else int(obj["last_reading_at"]),
        counted=tuple(CountedReading(str(s), int(o), int(y), bool(late)) for s, o, y, late in obj["counted"]),
    )


def _blame(tally: ProviderTally, event: AnomalyEvent) -> ProviderTally:
    assert event.blamed_event_id is not None
    old = next((b for b in tally.blames if b.anomaly_id == event.anomaly_id), None)
    if old is not None and old.detected_at > event.detected_at:
        return tally
    year = year_of(event.observed_at if event.observed_at is not None else event.detected_at)
    new = Blame(event.anomaly_id, event.blamed_event_id, year, event.status, event.detected_at)
    rest = [b for b in tally.blames if b.anomaly_id != event.anomaly_id]
    blames = tuple(sorted([*rest, new], key=lambda b: b.anomaly_id))
    return _settle_oldest(replace(tally, as_of=max(tally.as_of, event.detected_at), blames=blames))


def _settle_oldest(tally: ProviderTally) -> ProviderTally:
    """Within ``MAX_BLAMES``: the oldest year's blames counted into that year and dropped, while over."""
    while len(tally.blames) > MAX_BLAMES:
        oldest = min(b.year for b in tally.blames)
        settled = tally.year(oldest)
        settled = replace(settled, breaks_settled=tally.trend_breaks(oldest))
        kept = tuple(b for b in tally.blames if b.year != oldest)
        tally = replace(tally, years=_with_year(tally.years, settled), blames=kept)
    return tally


def fold(provider_id: str, events: Iterable[ProviderEvent]) -> ProviderTally:
    """Replay: every event in order from an empty tally."""
    tally = ProviderTally(provider_id)
    for event in events:
        tally = evolve(tally, event)
    return tally


def quality_view(tally: ProviderTally) -> ProviderQuality:
    """The published view (topic ``providers.quality``): one ``ProviderYear`` per year with readings or
    blamed breaks, oldest first."""
    years = sorted({y.year for y in tally.years} | {b.year for b in tally.blames})
    rows = []
    for year in years:
        counted = tally.year(year)
        breaks = tally.trend_breaks(year)
        rate = breaks / counted.readings if counted.readings else 0.0
        rows.append(
            ProviderYear(
                year=year,
                readings=counted.readings,
                trend_breaks=breaks,
                trend_break_rate=rate,
                late_submissions=counted.late_submissions,
                trusted_provider_next_year=counted.readings > 0 and rate < TRUSTED_RATE_LIMIT,
            )
        )
    return ProviderQuality(
        provider_id=tally.provider_id,
        as_of=tally.as_of,
        name=tally.name,
        kind=tally.kind,
        active=tally.active,
        years=tuple(rows),
        last_reading_at=tally.last_reading_at,
    )


def late_share(year: ProviderYear) -> float:
    """Late submissions per counted reading of the year (0.0 without readings)."""
    return year.late_submissions / year.readings if year.readings else 0.0


class ComplianceFinding(StrEnum):
    """R14: what the registry finds about a provider that must send readings."""

    SILENT = "SILENT"
    """Registered with an R14 NACE code, active, and no reading in the year."""
    FEW_READINGS = "FEW_READINGS"
    """Fewer than ``FEW_READINGS_RATIO`` of the previous year's readings."""


def must_send(tally: ProviderTally) -> bool:
    """R14: an active provider registered with one of the NACE codes of the obligation."""
    return tally.active and bool(R14_NACE_CODES.intersection(tally.nace_codes))


def compliance(tally: ProviderTally, year: int) -> ComplianceFinding | None:
    """The R14 finding about ``tally`` for the complete calendar ``year``, or None when it complies or
    is not obliged to send."""
    if not must_send(tally):
        return None
    now = tally.year(year).readings
    if now == 0:
        return ComplianceFinding.SILENT
    before = tally.year(year - 1).readings
    if before and now < FEW_READINGS_RATIO * before:
        return ComplianceFinding.FEW_READINGS
    return None


def silent_providers(tallies: Iterable[ProviderTally], year: int) -> list[tuple[str, ComplianceFinding]]:
    """Every obliged provider with an R14 finding for ``year``, by provider id."""
    found = [(t.provider_id, f) for t in tallies if (f := compliance(t, year)) is not None]
    return sorted(found)


def trusted_in(tally: ProviderTally, year: int) -> bool:
    """R10: Trusted Provider in ``year``: readings in ``year - 1`` and a trend-break rate below 0.5 %."""
    counted = tally.year(year - 1)
    return counted.readings > 0 and tally.trend_breaks(year - 1) / counted.readings < TRUSTED_RATE_LIMIT


def trusted_providers(tallies: Iterable[ProviderTally], year: int) -> list[ProviderTally]:
    """The providers trusted in ``year`` (R10), active ones only, by provider id."""
    return sorted((t for t in tallies if t.active and trusted_in(t, year)), key=lambda t: t.provider_id)


HIGH_RATE = "HIGH_TREND_BREAK_RATE"
"""A report finding beside R14's: a trend-break rate above the report's threshold."""
REPORT_COLUMNS = (
    "provider_id", "name", "kind", "active", "r14_obliged", "finding", "readings", "readings_previous_year",
    "trend_breaks", "trend_break_rate", "late_submissions", "trusted_next_year",
)  # fmt: skip
"""The columns of the registry's report on providers (R14), in order (its CSV header)."""


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One provider in the report of ``year``: what R14 finds (or a high trend-break rate) and the counts."""

    provider_id: str
    name: str | None
    kind: str | None
    active: bool
    r14_obliged: bool
    finding: str
    readings: int
    readings_previous_year: int
    trend_breaks: int
    trend_break_rate: float
    late_submissions: int
    trusted_next_year: bool

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, column) for column in REPORT_COLUMNS)


def provider_report(tallies: Iterable[ProviderTally], year: int, max_rate: float) -> list[ReportRow]:
    """The registry's report on providers for the complete calendar ``year`` (R14): every obliged provider
    that was silent or sent abnormally few readings, and every provider whose trend-break rate is above
    ``max_rate``; silent first, then few readings, then by rate (highest first), then by id."""
    rows = []
    for tally in tallies:
        counted = tally.year(year)
        breaks = tally.trend_breaks(year)
        rate = breaks / counted.readings if counted.readings else 0.0
        finding = compliance(tally, year)
        label = finding.value if finding is not None else (HIGH_RATE if rate > max_rate else "")
        if not label:
            continue
        rows.append(ReportRow(
            tally.provider_id, tally.name, tally.kind.value if tally.kind is not None else None, tally.active,
            must_send(tally), label, counted.readings, tally.year(year - 1).readings, breaks, round(rate, 6),
            counted.late_submissions, trusted_in(tally, year + 1),
        ))  # fmt: skip
    order = {ComplianceFinding.SILENT.value: 0, ComplianceFinding.FEW_READINGS.value: 1, HIGH_RATE: 2}
    return sorted(rows, key=lambda r: (order[r.finding], -r.trend_break_rate, r.provider_id))


def tally_to_json(tally: ProviderTally) -> bytes:
    """The stored form of a tally (a table value): compact JSON, fields in declaration order."""
    obj = {
        "provider_id": tally.provider_id,
        "as_of": tally.as_of,
        "name": tally.name,
        "kind": tally.kind.value if tally.kind is not None else None,
        "active": tally.active,
        "nace_codes": list(tally.nace_codes),
        "registered_at": tally.registered_at,
        "years": [[y.year, y.readings, y.late_submissions, y.breaks_settled] for y in tally.years],
        "blames": [
            [b.anomaly_id, b.blamed_event_id, b.year, b.status.value, b.detected_at] for b in tally.blames
        ],
        "last_reading_at": tally.last_reading_at,
        "counted_to": [list(mark) for mark in tally.counted_to],
    }
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def tally_from_json(data: bytes) -> ProviderTally:
    """The inverse of :func:`tally_to_json`."""
    obj = json.loads(data)
    return ProviderTally(
        provider_id=obj["provider_id"],
        as_of=obj["as_of"],
        name=obj["name"],
        kind=ProviderKind(obj["kind"]) if obj["kind"] is not None else None,
        active=obj["active"],
        nace_codes=tuple(obj["nace_codes"]),
        registered_at=obj["registered_at"],
        years=tuple(YearTally(*row) for row in obj["years"]),  # 3 numbers before breaks_settled existed
        blames=tuple(Blame(a, e, y, AnomalyStatus(s), d) for a, e, y, s, d in obj["blames"]),
        last_reading_at=obj["last_reading_at"],
        counted_to=tuple((source, offset) for source, offset in obj.get("counted_to", ())),  # absent before
    )
