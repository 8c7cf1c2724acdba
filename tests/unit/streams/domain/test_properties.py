"""Properties of the vehicle aggregate (architecture: testing tiers), on generated mileage histories.

* the final judgment and open anomalies do not depend on the arrival order of the events;
* applying an event twice changes nothing (no state change, no output);
* folding the log (``evolve``, no outputs) equals the live result (``decide`` with outputs and times);
* the anomaly events are a faithful changelog: replaying them gives the state's open anomalies;
* the fast path (issue 3 item 6) gives exactly what a full re-evaluation gives.

Histories mix the error patterns of domain.md: typos (factor 10, swapped digits), rollbacks, odometer
replacements, stale zero readings, several providers and sources. Exact duplicates (same provider, day and
value under two event ids) are left out of the order property: which of the two is kept depends, by design,
on which came first.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import (
    AnomalyEvent,
    AnomalyStatus,
    OdometerReading,
    Origin,
    ProviderKind,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain.calendar import MS_PER_DAY
from streams.domain.judgment import judge_state
from streams.domain.policy import DEFAULT_POLICY, Policy
from streams.domain.state import OpenAnomaly, VehicleState
from streams.domain.vehicle import VehicleEvent, decide, fold

VIN = "WVWZZZ1KZAW123456"
DAY_2015 = 16_436
SOURCES = [
    ("0412345678", ProviderKind.GARAGE, Origin.WORKSHOP),
    ("0498765432", ProviderKind.DEALER, Origin.WORKSHOP),
    ("0200000101", ProviderKind.INSPECTION_BODY, Origin.INSPECTION),
    ("0403448140", ProviderKind.MANUFACTURER, Origin.CONNECTED_VEHICLE),
    ("0865000001", ProviderKind.RDW, Origin.FOREIGN_HISTORY),
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw: st.DrawFn) -> list[VehicleEvent]:
    """A registration and 1-12 readings of one car, with the usual error patterns mixed in."""
    events: list[VehicleEvent] = []
    first_day = DAY_2015 + draw(st.integers(0, 700))
    if draw(st.booleans()):
        events.append(
            VehicleRegistration(
                event_id="reg",
                vin=VIN,
                kind=RegistrationKind.FIRST_REGISTRATION,
                effective_at=first_day * MS_PER_DAY,
                first_registration_date=first_day,
                imported_used=draw(st.booleans()),
                make="Volkswagen",
                model="Golf",
                vehicle_category="M1",
            )
        )
    day, km, offset = first_day, draw(st.integers(0, 40_000)), 0
    km_per_day = draw(st.integers(10, 120))
    used: set[tuple[str, int]] = set()
    for index in range(draw(st.integers(1, 12))):
        gap = draw(st.integers(1, 420))
        day += gap
        km += km_per_day * gap + draw(st.integers(-150, 150))
        provider, kind, origin = draw(st.sampled_from(SOURCES))
        if (provider, day) in used:
            continue
        used.add((provider, day))
        pattern = draw(st.sampled_from(["ok"] * 8 + ["x10", "div10", "swap", "rollback", "replaced", "zero"]))
        replaced = pattern == "replaced"
        if replaced:
            offset = km - draw(st.integers(0, 500))
        if pattern == "rollback":
            offset += draw(st.integers(20_000, 120_000))
        value = max(km - offset, 0)
        if pattern == "x10":
            value *= 10
        elif pattern == "div10":
            value //= 10
        elif pattern == "swap" and value >= 100:
            text = str(value)
            value = int(text[1] + text[0] + text[2:])
        elif pattern == "zero":
            value = 0
        observed = day * MS_PER_DAY + draw(st.integers(6, 18)) * 3_600_000
        events.append(
            OdometerReading(
                event_id=f"r{index:02d}",
                vin=VIN,
                odometer_value=value,
                observed_at=observed,
                submitted_at=observed + draw(st.sampled_from([600_000, 3_600_000, 90 * MS_PER_DAY])),
                provider_id=provider,
                provider_kind=kind,
                origin=origin,
                odometer_replaced=replaced,
                work_description="service",
            )
        )
    return events


def live(
    events: Sequence[VehicleEvent], policy: Policy = DEFAULT_POLICY
) -> tuple[VehicleState, list[object]]:
    state = VehicleState(VIN)
    outputs: list[object] = []
    for position, event in enumerate(events):
        decision = decide(state, event, policy, processed_at=1_000_000 + position)
        state = decision.state
        outputs.extend(decision.receipts)
        outputs.extend(decision.anomalies)
    return state, outputs


def outcome(state: VehicleState) -> tuple[object, tuple[OpenAnomaly, ...]]:
    return judge_state(state), state.anomalies


@SETTINGS
@given(logs(), st.randoms(use_true_random=False))
def test_judgment_and_open_anomalies_do_not_depend_on_arrival_order(events: list[VehicleEvent], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert outcome(live(shuffled)[0]) == outcome(live(events)[0])


@SETTINGS
@given(logs(), st.data())
def test_applying_an_event_twice_changes_nothing(events: list[VehicleEvent], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(events) - 1))
    state = fold(events[:cut], state=VehicleState(VIN))
    assert state is not None
    once = decide(state, events[cut], DEFAULT_POLICY, 5)
    twice = decide(once.state, events[cut], DEFAULT_POLICY, 6)
    assert twice.state == once.state
    assert twice.receipts == () and twice.anomalies == ()


@SETTINGS
@given(logs())
def test_folding_the_log_equals_the_live_result(events: list[VehicleEvent]) -> None:
    state, _ = live(events)
    assert fold(events) == state
    assert fold(events, state=VehicleState(VIN)) == state


@SETTINGS
@given(logs())
def test_anomaly_events_replay_to_the_open_anomalies(events: list[VehicleEvent]) -> None:
    state, outputs = live(events)
    latest: dict[str, AnomalyEvent] = {}
    for output in outputs:
        if isinstance(output, AnomalyEvent):
            latest[output.anomaly_id] = output
    open_now = sorted(
        (a.kind.value, a.blamed_event_id or "", a.related_event_ids, a.suspected_cause, a.suggested_value)
        for a in latest.values()
        if a.status is AnomalyStatus.OPEN
    )
    assert open_now == sorted(
        (a.kind.value, a.blamed_event_id or "", a.related_event_ids, a.cause, a.suggested_value)
        for a in state.anomalies
    )


@SETTINGS
@given(logs())
def test_fast_path_equals_full_reevaluation(events: list[VehicleEvent]) -> None:
    slow = Policy(fast_path=False)
    assert live(events, slow) == live(events)


@SETTINGS
@given(logs())
def test_one_receipt_per_reading(events: list[VehicleEvent]) -> None:
    _, outputs = live(events + events)
    receipts = [o.event_id for o in outputs if not isinstance(o, AnomalyEvent)]
    readings = [e.event_id for e in events if isinstance(e, OdometerReading)]
    assert sorted(receipts) == sorted(readings)
