"""A provider confirms its own reading: shown in the history, never part of the judgment."""

from __future__ import annotations

import itertools

from projections.views import certificate_view
from schemas.records import ReadingConfirmation
from streams.domain.confirmations import confirmed_at
from streams.domain.state import ConfirmedReading, VehicleState
from streams.domain.vehicle import decide, fold
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, VIN, at, reading, registration, yearly


def confirmation(target: str, provider: str = GARAGE, when: str = "2025-01-06T10:00") -> ReadingConfirmation:
    return ReadingConfirmation(
        event_id=f"confirm-{target}-{provider}-{when}", vin=VIN, confirmed_event_id=target,
        provider_id=provider, submitted_at=at(when), note="the invoice shows it",
    )  # fmt: skip


def spiked() -> VehicleState:
    history = [registration(), *yearly(3), reading("spike", 450_210, "2021-09-06"), *yearly(5)[3:]]
    state = fold(history)
    assert state is not None and any(a.blamed_event_id == "spike" for a in state.anomalies)
    return state


def test_a_provider_confirms_its_flagged_reading_without_changing_the_judgment() -> None:
    state = spiked()
    decision = decide(state, confirmation("spike"))
    assert decision.receipts == () and decision.anomalies == ()
    assert decision.state.confirmations == (ConfirmedReading("spike", at("2025-01-06T10:00")),)
    assert decision.state.anomalies == state.anomalies and decision.state.readings == state.readings
    view = certificate_view(decision.state, at("2025-01-07"))
    by_id = {r.event_id: r for r in view.readings}
    assert by_id["spike"].confirmed_by_provider_at == at("2025-01-06T10:00")
    assert by_id["spike"].in_open_anomaly
    assert by_id["r1"].confirmed_by_provider_at is None
    assert view.judgment == certificate_view(state, at("2025-01-07")).judgment


def test_another_provider_or_an_unknown_reading_changes_nothing() -> None:
    state = spiked()
    assert decide(state, confirmation("spike", OTHER_GARAGE)).state is state
    assert decide(state, confirmation("no-such-reading")).state is state


def test_repeats_in_any_order_keep_the_earliest_confirmation() -> None:
    state = spiked()
    events = [
        confirmation("spike", when="2025-01-06T10:00"), confirmation("spike", when="2025-01-02T08:00"),
        confirmation("r2", when="2025-01-03T08:00"), confirmation("spike", when="2025-01-06T10:00"),
    ]  # fmt: skip
    results = set()
    for order in itertools.permutations(events):
        folded = fold(order, state=state)
        assert folded is not None
        results.add(folded.confirmations)
    assert results == {(ConfirmedReading("r2", at("2025-01-03T08:00")),
                        ConfirmedReading("spike", at("2025-01-02T08:00")))}  # fmt: skip
    final = fold(events, state=state)
    assert final is not None and confirmed_at(final, "spike") == at("2025-01-02T08:00")
    assert confirmed_at(final, "r1") is None
