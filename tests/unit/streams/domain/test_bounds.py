"""The bounds of one VIN's state (``VehicleBounds``): each cap holds, with its pruning policy, and the
trend engine reads a long history in windows (one change costs O(window²), a short history is judged
whole as before)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from schemas.records import (
    AnomalyKind,
    CorrectionChannel,
    Origin,
    ProviderKind,
    RecallState,
    RecallStatus,
    Unit,
)
from streams.domain import evaluation
from streams.domain.catalogue import IssueCode
from streams.domain.evaluation import trend_windows, with_error_numbers
from streams.domain.ids import error_number
from streams.domain.policy import DEFAULT_POLICY, Policy, VehicleBounds
from streams.domain.state import StoredReading, VehicleState
from streams.domain.vehicle import VehicleEvent, decide, fold
from tests.unit.streams.domain.builders import VIN, at, correction, reading, registration


def bounded(**bounds: int) -> Policy:
    return replace(DEFAULT_POLICY, bounds=VehicleBounds(**bounds))


def weekly(
    count: int, start: str = "2012-01-02", km_per_week: int = 300, **changes: Any
) -> list[VehicleEvent]:
    """A connected car reporting every week: ``count`` readings r0000, r0001, … growing steadily."""
    first = date.fromisoformat(start)
    return [
        reading(
            f"r{i:04d}",
            1_000 + i * km_per_week,
            (first + timedelta(weeks=i)).isoformat(),
            provider_kind=ProviderKind.MANUFACTURER,
            origin=Origin.CONNECTED_VEHICLE,
            **changes,
        )
        for i in range(count)
    ]


def run(
    events: list[VehicleEvent], policy: Policy, state: VehicleState | None = None
) -> tuple[VehicleState, list[Any]]:
    """Decide ``events`` in order from ``state`` (default: an empty one); the state and the receipts."""
    state = state if state is not None else VehicleState(VIN)
    receipts: list[Any] = []
    for event in events:
        decision = decide(state, event, policy, processed_at=1)
        state = decision.state
        receipts.extend(decision.receipts)
    return state, receipts


# --- readings, rejected readings, remembered ids, error numbers, recalls --------------------------------


def test_a_reading_beyond_the_histories_cap_is_rejected_history_full_and_kept_aside() -> None:
    policy = bounded(readings=5)
    events: list[VehicleEvent] = [registration(first="2011-06-01"), *weekly(7)]
    state, receipts = run(events, policy)
    assert [r.event_id for r in state.readings] == ["r0000", "r0001", "r0002", "r0003", "r0004"]
    assert [r.event_id for r in state.rejected] == ["r0005", "r0006"]
    full = [issue for r in receipts[5:] for issue in r.issues]
    assert [issue.code for issue in full] == [IssueCode.HISTORY_FULL] * 2
    assert "holds 5 readings" in full[0].message and full[0].error_number == error_number(
        "r0005", "HISTORY_FULL"
    )
    again = decide(state, events[-1], policy, processed_at=2)  # a redelivery: one receipt per event id
    assert again.state == state and again.receipts == ()


def test_only_the_newest_rejected_readings_are_kept_aside_and_the_oldest_can_no_longer_be_corrected() -> None:
    policy = bounded(rejected=3)
    bad = [reading(f"x{i}", -5, "2024-03-04") for i in range(5)]  # VALUE_OUT_OF_RANGE: rejected
    state, receipts = run(list(bad), policy)
    assert [r.event_id for r in state.rejected] == ["x2", "x3", "x4"]
    assert all(r.issues[0].code == "VALUE_OUT_OF_RANGE" for r in receipts)
    late = decide(state, correction("c0", "x0", "VALUE_OUT_OF_RANGE", corrected_value=45_000), policy, 3)
    assert [i.code for i in late.receipts[0].issues] == [IssueCode.CORRECTION_UNKNOWN_ERROR_NUMBER]
    kept = decide(state, correction("c4", "x4", "VALUE_OUT_OF_RANGE", corrected_value=45_000), policy, 3)
    assert kept.receipts[0].issues == () and [r.event_id for r in kept.state.readings] == ["x4"]


def test_remembered_ids_keep_the_newest_in_the_order_received() -> None:
    policy = bounded(done_ids=4)
    state, _ = run([reading("r1", 40_000, "2024-03-04")], policy)
    refused = [correction(f"c{i}", "nowhere", "TREND_BREAK", corrected_value=1) for i in range(6)]
    state, receipts = run(list(refused), policy, state)
    assert state.done_ids == ("c2", "c3", "c4", "c5")
    assert len(receipts) == 6  # each refused once (CORRECTION_UNKNOWN_ERROR_NUMBER)
    assert decide(state, refused[-1], policy, 9).receipts == ()  # a redelivery of a remembered one


def test_a_reading_keeps_its_newest_error_numbers_only() -> None:
    from streams.domain.catalogue import make_issue

    stored = StoredReading(
        "r1",
        at("2024-03-04"),
        40_000,
        Unit.KM,
        "0412345678",
        ProviderKind.GARAGE,
        Origin.WORKSHOP,
        at("2024-03-04"),
        error_numbers=("E000000000001",),
    )
    issues = [
        make_issue(f"c{i}", IssueCode.TREND_BREAK, value=1, unit="KM", kind="SPIKE", cause="X", suggestion="")
        for i in range(4)
    ]
    numbers = with_error_numbers(stored, issues, 3).error_numbers
    assert numbers == tuple(issue.error_number for issue in issues[1:])


def test_a_form_correction_repeated_on_one_reading_keeps_the_reading_and_its_closed_numbers_bounded() -> None:
    """A correction by form may raise warnings of its own (the corrected value still breaks the trend),
    numbered and added to the reading: repeated, they are kept to the newest ``error_numbers``."""
    policy = bounded(error_numbers=4)
    history = [
        reading("a", 10_000, "2024-01-04"),
        reading("b", 11_000, "2024-02-04"),
        reading("c", 12_000, "2024-03-04"),
        reading("d", 90_000, "2024-04-04"),
    ]
    state, _ = run(history, policy)
    for i in range(10):  # the same mistaken value, corrected again and again by staff
        form = correction(
            f"f{i}", "d", "TREND_BREAK", channel=CorrectionChannel.FORM, corrected_value=80_000 + i
        )
        form = replace(form, error_number=state.readings[-1].error_numbers[-1])
        state = decide(state, form, policy, 5).state
    assert len(state.readings[-1].error_numbers) <= 4
    named = {n for r in state.readings for n in r.error_numbers}
    assert set(state.electronic_closed) <= named


def recall(event_id: str, campaign: str, status: RecallState, day: str) -> RecallStatus:
    return RecallStatus(event_id, VIN, campaign, "VW", "airbag", status, at(day))


def test_recalls_beyond_the_cap_drop_the_oldest_closed_campaign_first() -> None:
    policy = bounded(recalls=3)
    events: list[VehicleEvent] = [
        recall("1", "A", RecallState.OPEN, "2020-01-01"),
        recall("2", "B", RecallState.COMPLETED, "2021-01-01"),
        recall("3", "C", RecallState.OPEN, "2022-01-01"),
        recall("4", "D", RecallState.WITHDRAWN, "2023-01-01"),
        recall("5", "E", RecallState.OPEN, "2024-01-01"),
    ]
    state, _ = run(events, policy)
    assert [r.campaign_id for r in state.recalls] == ["A", "C", "E"]  # open ones stay, however old


# --- the trend window -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 7, 8, 9, 31, 32, 33, 100, 1_000])
@pytest.mark.parametrize("window", [8, 12, 32, 128])
def test_trend_windows_tile_the_segment_and_read_at_most_a_window(count: int, window: int) -> None:
    windows = trend_windows(count, window)
    judged = [i for _, _, low, high in reversed(windows) for i in range(low, high)]
    assert judged == list(range(count))  # each reading judged by exactly one window
    for start, end, low, high in windows:
        assert 0 <= start <= low <= high <= end <= count and end - start <= window
    assert windows[0][1] == count and windows[0][1] - windows[0][0] == min(window, count)


def test_a_history_no_longer_than_the_window_is_judged_whole_as_before() -> None:
    history: list[VehicleEvent] = [*weekly(30), reading("drop", 1_000, "2012-08-06")]
    whole, windowed = fold(history, bounded(trend_window=10_000)), fold(history, bounded(trend_window=31))
    assert whole is not None and windowed is not None
    assert windowed.anomalies == whole.anomalies and windowed.anomalies


def test_a_rollback_at_the_end_of_a_long_history_is_found_reading_a_window_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: list[int] = []
    real = evaluation.find_breaks

    def counting(points: Any, policy: Any) -> Any:
        read.append(len(points))
        return real(points, policy)

    monkeypatch.setattr(evaluation, "find_breaks", counting)
    policy = bounded(trend_window=32, readings=10_000)
    history = weekly(600)
    state = fold(history, policy)
    assert state is not None and state.anomalies == ()
    later = [
        reading(
            f"s{i}",
            60_000 + i * 300,
            f"2023-{m:02d}-10",
            provider_kind=ProviderKind.MANUFACTURER,
            origin=Origin.CONNECTED_VEHICLE,
        )
        for i, m in enumerate(range(7, 13))
    ]
    read.clear()
    state, _ = run(list(later), policy, state)
    assert [(a.kind, a.blamed_event_id) for a in state.anomalies] == [(AnomalyKind.ROLLBACK, "s0")]
    assert read and max(read) <= 32  # never the 606 readings at once
    # A reading far back in the history is judged in its own window; the rollback stays open.
    back = reading(
        "back",
        1_000 + 100 * 300 + 150,
        "2013-12-05",
        provider_kind=ProviderKind.MANUFACTURER,
        origin=Origin.CONNECTED_VEHICLE,
    )
    read.clear()
    state = decide(state, back, policy, 7).state
    assert max(read) <= 32 and (AnomalyKind.ROLLBACK, "s0") in [
        (a.kind, a.blamed_event_id) for a in state.anomalies
    ]


def test_the_largest_state_the_bounds_allow_fits_a_kafka_record() -> None:
    """Every collection at its cap and every string at its contract's longest (``schemas/limits.py``):
    the changelog record stays under the producer's default limit (1,000,000 bytes), so no sender can make
    a VIN's state unwritable (which would stop every worker in turn)."""
    from schemas.limits import DEFAULT_MAX_CHARS, max_chars
    from schemas.records import (
        AccidentInspectionState,
        RegistrationKind,
        SuspectedCause,
    )
    from streams.domain.state import (
        WORK_KEPT_BYTES,
        AccidentFact,
        ConfirmedReading,
        OpenAnomaly,
        RecallFact,
        RegistrationFacts,
        kept_work,
    )
    from streams.state.codec import encode_state

    most = VehicleBounds()
    longest = DEFAULT_MAX_CHARS

    def long_id(i: int, tag: str) -> str:
        return f"{tag}{i:06d}".ljust(longest, "x")

    def stored(i: int, tag: str) -> StoredReading:
        numbers = tuple(error_number(f"{tag}{i}-{k}", "TREND_BREAK") for k in range(most.error_numbers))
        return StoredReading(
            long_id(i, tag),
            at("2020-01-01") + i * 86_400_000,
            1_999_999 - i,
            Unit.MILES,
            long_id(i, "p"),
            ProviderKind.GARAGE,
            Origin.WORKSHOP,
            at("2020-01-01") + i,
            True,
            5,
            numbers,
            kept_work(f"{tag}{i:05d} " + "🔧" * 100),  # each different, at the bound (4-byte characters)
        )

    readings = tuple(stored(i, "r") for i in range(most.readings))
    assert all(WORK_KEPT_BYTES - 4 < len((r.work_description or "").encode()) <= WORK_KEPT_BYTES
               for r in readings)  # fmt: skip
    ids = [r.event_id for r in readings]
    state = VehicleState(
        "W" * 17,
        readings=readings,
        rejected=tuple(stored(i, "j") for i in range(most.rejected)),
        done_ids=tuple(long_id(i, "d") for i in range(most.done_ids)),
        electronic_closed=tuple(n for r in readings for n in r.error_numbers),
        registration=RegistrationFacts(
            RegistrationKind.FIRST_REGISTRATION,
            1,
            1,
            True,
            "m" * longest,
            "M" * longest,
            "c" * longest,
            "p" * longest,
            2,
            "x" * longest,
        ),
        recalls=tuple(
            RecallFact(long_id(i, "c"), "m" * longest, "d" * max_chars("description"), RecallState.OPEN, i)
            for i in range(most.recalls)
        ),
        accident=AccidentFact(AccidentInspectionState.REQUIRED, 1),
        anomalies=tuple(
            OpenAnomaly(
                AnomalyKind.SPIKE,
                eid,
                (ids[i - 1], ids[(i + 1) % len(ids)]),
                SuspectedCause.UNKNOWN,
                1_999_999,
            )
            for i, eid in enumerate(ids)
        ),
        confirmations=tuple(ConfirmedReading(eid, 5) for eid in ids),
    )
    size = len(encode_state(state))
    assert size < 1_000_000, size
