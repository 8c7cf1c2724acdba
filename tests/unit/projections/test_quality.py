"""Provider quality (R10, R14): what counts as a reading, a blamed break, a late submission, silence."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from projections.quality import (
    MAX_BLAMES,
    ComplianceFinding,
    CountedReading,
    ProviderReadings,
    ProviderTally,
    compliance,
    count_readings,
    counts_as_reading,
    evolve,
    fold,
    provider_key,
    provider_report,
    quality_view,
    readings_from_json,
    readings_to_json,
    silent_providers,
    tally_from_json,
    tally_to_json,
    trusted_in,
    trusted_providers,
    year_of,
)
from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    Issue,
    Judgment,
    ProviderKind,
    ProviderRegistration,
    Receipt,
    ReceiptStatus,
    Severity,
)
from tests.unit.projections.builders import PROVIDER, VIN, ms

T = ms(2023, 5, 1)


def receipt(i: int, status: ReceiptStatus = ReceiptStatus.ACCEPTED, *codes: str, at: int = T) -> Receipt:
    issues = tuple(Issue(f"E{i}{c}", c, Severity.WARNING, "m") for c in codes)
    return Receipt(f"r-{i}", VIN, PROVIDER, status, issues, at)


def anomaly(
    aid: str,
    blamed: str,
    kind: AnomalyKind = AnomalyKind.SPIKE,
    *,
    status: AnomalyStatus = AnomalyStatus.OPEN,
    at: int = T,
    provider: str | None = PROVIDER,
) -> AnomalyEvent:
    return AnomalyEvent(aid, VIN, kind, status, (), Judgment.ILLOGICAL, at, blamed, provider, observed_at=T)


def registration(active: bool = True, nace: tuple[str, ...] = ("45201",)) -> ProviderRegistration:
    return ProviderRegistration("p-1", PROVIDER, "Garage Janssens", ProviderKind.GARAGE, nace, active, T)


def test_readings_rate_and_trusted_provider() -> None:
    events = [receipt(i) for i in range(1000)] + [anomaly(f"a{i}", f"r-{i}") for i in range(4)]
    year = quality_view(fold(PROVIDER, events)).years[0]
    assert (year.year, year.readings, year.trend_breaks) == (2023, 1000, 4)
    assert year.trend_break_rate == 0.004 and year.trusted_provider_next_year
    one_more = fold(PROVIDER, [*events, anomaly("a5", "r-5")])
    assert not quality_view(one_more).years[0].trusted_provider_next_year  # 0.5 % is not below 0.5 %


def test_rejected_and_duplicate_receipts_are_not_readings_late_ones_are_counted() -> None:
    events = [
        receipt(1),
        receipt(2, ReceiptStatus.REJECTED, "VALUE_OUT_OF_RANGE"),
        receipt(3, ReceiptStatus.ACCEPTED_WITH_WARNINGS, "DUPLICATE"),
        receipt(4, ReceiptStatus.ACCEPTED_WITH_WARNINGS, "LATE_SUBMISSION"),
    ]
    year = quality_view(fold(PROVIDER, events)).years[0]
    assert (year.readings, year.late_submissions) == (2, 1)


def test_rollbacks_and_retracted_blame_do_not_count_resolved_errors_do() -> None:
    assert provider_key(anomaly("a1", "r-1", AnomalyKind.ROLLBACK)) is None
    assert provider_key(anomaly("a2", "r-2", AnomalyKind.ODOMETER_REPLACED)) is None
    events = [
        receipt(1), receipt(2), receipt(3),
        anomaly("a1", "r-1"), anomaly("a1", "r-1", status=AnomalyStatus.RETRACTED, at=T + 1),
        anomaly("a2", "r-2"), anomaly("a2", "r-2", status=AnomalyStatus.RESOLVED, at=T + 1),
        anomaly("a3", "r-3"), anomaly("a4", "r-3", AnomalyKind.IMPLAUSIBLE_RATE),
    ]  # fmt: skip
    assert quality_view(fold(PROVIDER, events)).years[0].trend_breaks == 2  # r-2 and r-3, once each


def test_anomaly_redelivery_changes_nothing_and_other_providers_are_ignored() -> None:
    tally = fold(PROVIDER, [receipt(1), anomaly("a1", "r-1")])
    assert evolve(tally, anomaly("a1", "r-1")) == tally
    assert evolve(tally, anomaly("a9", "r-9", provider="1111111111")) == tally


def test_silent_and_few_readings_providers_with_r14_nace_codes() -> None:
    registered = evolve(ProviderTally(PROVIDER), registration())
    assert compliance(registered, 2023) is ComplianceFinding.SILENT
    busy = fold(PROVIDER, [registration(), *(receipt(i, at=ms(2022, 5, 1)) for i in range(10)), receipt(99)])
    assert compliance(busy, 2023) is ComplianceFinding.FEW_READINGS
    assert compliance(busy, 2022) is None
    not_obliged = evolve(ProviderTally(PROVIDER), registration(nace=("47110",)))
    assert compliance(not_obliged, 2023) is None
    inactive = evolve(ProviderTally(PROVIDER), registration(active=False))
    assert silent_providers([registered, busy, not_obliged, inactive], 2023) == [
        (PROVIDER, ComplianceFinding.FEW_READINGS),
        (PROVIDER, ComplianceFinding.SILENT),
    ]
    assert quality_view(busy).name == "Garage Janssens" and quality_view(busy).active


def test_tally_json_round_trip() -> None:
    tally = fold(PROVIDER, [registration(), receipt(1), receipt(2, ReceiptStatus.ACCEPTED_WITH_WARNINGS,
                 "LATE_SUBMISSION"), anomaly("a1", "r-1")])  # fmt: skip
    assert tally_from_json(tally_to_json(tally)) == tally


def test_a_provider_with_very_many_blames_keeps_a_bounded_tally_and_its_counts() -> None:
    """A large provider blamed thousands of times over the years: its tally (one table value) stays well
    under Kafka's 1 MB record limit, the oldest year's blames settled into its count."""
    old = [replace(anomaly(f"a{i:05}", f"r-{i}"), observed_at=ms(2021, 5, 1)) for i in range(1_500)]
    new = [replace(anomaly(f"b{i:05}", f"q-{i}"), observed_at=ms(2023, 5, 1)) for i in range(MAX_BLAMES)]
    tally = fold(PROVIDER, [*old, *new])
    assert len(tally.blames) == MAX_BLAMES and {b.year for b in tally.blames} == {2023}
    assert tally.trend_breaks(2021) == 1_500 and tally.trend_breaks(2023) == MAX_BLAMES
    assert len(tally_to_json(tally)) < 600_000
    assert tally_from_json(tally_to_json(tally)) == tally
    assert tally.year(2021).breaks_settled == 1_500
    # A tally stored before breaks_settled existed (years as 3 numbers) still reads.
    legacy = tally_to_json(fold(PROVIDER, [receipt(1)])).replace(b",0]]", b"]]")
    assert tally_from_json(legacy).year(2023).readings == 1


def counted(source: str, offset: int, year: int = 2023, late: bool = False) -> CountedReading:
    return CountedReading(source, offset, year, late)


def test_counted_readings_add_to_their_years_once_per_input_offset() -> None:
    r0, r1, c0 = "odometer.readings/0", "odometer.readings/1", "odometer.corrections/0"
    first = ProviderReadings(PROVIDER, T, T, (counted(r0, 4), counted(r0, 2), counted(c0, 3, 2024, True)))
    tally = count_readings(ProviderTally(PROVIDER), first)
    year_2024 = tally.year(2024)
    assert (tally.year(2023).readings, year_2024.readings, year_2024.late_submissions) == (2, 1, 1)
    assert tally.counted_to == ((c0, 3), (r0, 4))
    # The same batch sent again, and a longer one starting at the same input offset (a retry after a crash
    # cut the batch elsewhere): only offset 5 is new. Offset 4 of another partition is another reading.
    again = count_readings(tally, first)
    assert again.years == tally.years and again.counted_to == tally.counted_to
    items = (counted(r0, 2), counted(r0, 4), counted(r0, 5), counted(r1, 4))
    longer = ProviderReadings(PROVIDER, T + 1, T + 1, items)
    after = count_readings(again, longer)
    assert after.year(2023).readings == 4 and (after.as_of, after.last_reading_at) == (T + 1, T + 1)
    assert dict(after.counted_to) == {c0: 3, r0: 5, r1: 4}
    assert count_readings(ProviderTally("someone else"), first) == ProviderTally("someone else")


def test_counted_readings_give_the_tally_the_receipts_give_one_by_one() -> None:
    receipts = [receipt(1), receipt(2, ReceiptStatus.ACCEPTED_WITH_WARNINGS, "LATE_SUBMISSION"),
                receipt(3, ReceiptStatus.REJECTED, at=T + 5), receipt(4, at=ms(2024, 2, 1))]  # fmt: skip
    one_by_one = fold(PROVIDER, receipts)
    items = tuple(counted("odometer.readings/0", n, year_of(r.processed_at),
                          any(i.code == "LATE_SUBMISSION" for i in r.issues))
                  for n, r in enumerate(receipts) if counts_as_reading(r))  # fmt: skip
    batch = ProviderReadings(PROVIDER, max(r.processed_at for r in receipts), ms(2024, 2, 1), items)
    counted_tally = count_readings(ProviderTally(PROVIDER), batch)
    assert quality_view(counted_tally) == quality_view(one_by_one)
    assert replace(counted_tally, counted_to=()) == one_by_one


def test_counted_readings_and_tallies_round_trip_through_json_and_old_tallies_still_read() -> None:
    batch = ProviderReadings(PROVIDER, T, None, (counted("odometer.readings/3", 7, late=True),))
    assert readings_from_json(readings_to_json(batch)) == batch
    assert readings_to_json(batch).startswith(b"{")
    tally = count_readings(fold(PROVIDER, [registration(), receipt(1)]), batch)
    assert tally_from_json(tally_to_json(tally)) == tally
    old = json.loads(tally_to_json(tally))
    del old["counted_to"]  # stored before the field existed
    assert tally_from_json(json.dumps(old).encode()).counted_to == ()


def _provider(provider: str, readings: int, blamed: int, nace: str = "45201",
              earlier: int = 0) -> ProviderTally:  # fmt: skip
    """A garage with ``readings`` in 2023 (``earlier`` in 2022), ``blamed`` of them in trend breaks."""
    tally = replace(evolve(ProviderTally(PROVIDER), registration(nace=(nace,))), provider_id=provider)
    events: list[Any] = [replace(receipt(i, at=ms(2023, 3, 1)), provider_id=provider)
                         for i in range(readings)]  # fmt: skip
    events += [replace(receipt(1000 + i, at=ms(2022, 3, 1)), provider_id=provider) for i in range(earlier)]
    events += [replace(anomaly(f"a{i}", f"r-{i}"), blamed_provider_id=provider) for i in range(blamed)]
    for event in events:
        tally = evolve(tally, event)
    return tally


def test_the_report_lists_silent_few_and_error_prone_providers_and_the_trusted_list_the_careful() -> None:
    silent, few = _provider("0000000001", 0, 0), _provider("0000000002", 4, 0, earlier=10)
    sloppy = _provider("0000000003", 100, 3)  # 3 % of its readings blamed
    careful = _provider("0000000004", 400, 1)  # 0.25 %
    unobliged = _provider("0000000005", 0, 0, nace="47110")  # not a garage: silence is not a finding
    rows = provider_report([careful, sloppy, unobliged, few, silent], 2023, max_rate=0.01)
    assert [(r.provider_id, r.finding) for r in rows] == [
        ("0000000001", "SILENT"), ("0000000002", "FEW_READINGS"), ("0000000003", "HIGH_TREND_BREAK_RATE"),
    ]  # fmt: skip
    assert rows[2].values() == ("0000000003", "Garage Janssens", "GARAGE", True, True,
                                "HIGH_TREND_BREAK_RATE", 100, 0, 3, 0.03, 0, False)  # fmt: skip
    assert [t.provider_id for t in trusted_providers([sloppy, careful, silent], 2024)] == ["0000000004"]
    assert all(trusted_in(t, 2024) == quality_view(t).years[-1].trusted_provider_next_year
               for t in (sloppy, careful))  # fmt: skip
