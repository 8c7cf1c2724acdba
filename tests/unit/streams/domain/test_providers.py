"""A reading judged by its provider's registration (``streams.domain.providers``), not by what it says."""

from __future__ import annotations

from schemas.records import Origin, ProviderKind, ProviderRegistration, ReceiptStatus
from streams.domain.catalogue import IssueCode
from streams.domain.policy import DEFAULT_POLICY
from streams.domain.providers import MAX_REGISTRATIONS_PER_PROVIDER, ProviderBook
from streams.domain.state import VehicleState
from streams.domain.vehicle import decide, fold
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, VIN, at, reading, registration, yearly

STATION = "0400000002"


def registered(provider: str, kind: ProviderKind, since: str, active: bool = True) -> ProviderRegistration:
    event_id = f"p-{provider}-{since}"
    return ProviderRegistration(event_id, provider, "name", kind, ("45201",), active, at(since))


def book(*registrations: ProviderRegistration) -> ProviderBook:
    out = ProviderBook()
    for each in registrations:
        out.add(each)
    return out


BOOK = book(registered(GARAGE, ProviderKind.GARAGE, "2010-01-01"),
            registered(STATION, ProviderKind.INSPECTION_BODY, "2010-01-01"))  # fmt: skip


def history() -> VehicleState:
    state = fold([registration(), *yearly(5)])
    assert state is not None
    return state


def codes(decision_receipts: tuple[object, ...]) -> list[str]:
    return [issue.code for r in decision_receipts for issue in r.issues]  # type: ignore[attr-defined]


def test_the_registration_in_force_when_the_reading_was_sent() -> None:
    providers = book(
        registered(GARAGE, ProviderKind.GARAGE, "2015-01-01"),
        registered(GARAGE, ProviderKind.DEALER, "2020-01-01"),
        registered(GARAGE, ProviderKind.DEALER, "2025-01-01", active=False),
    )
    assert providers.standing(GARAGE, at("2014-12-31")) is None  # not yet registered
    first = providers.standing(GARAGE, at("2019-06-01"))
    assert first is not None and (first.kind, first.active) == (ProviderKind.GARAGE, True)
    later = providers.standing(GARAGE, at("2024-06-01"))
    assert later is not None and later.kind is ProviderKind.DEALER
    gone = providers.standing(GARAGE, at("2025-01-01"))  # in force from its instant on
    assert gone is not None and not gone.active
    assert providers.standing(OTHER_GARAGE, at("2024-06-01")) is None
    # Two at one instant: the later one read wins (as on the compacted topic).
    providers.add(registered(GARAGE, ProviderKind.BODY_SHOP, "2020-01-01"))
    same = providers.standing(GARAGE, at("2020-01-01"))
    assert same is not None and same.kind is ProviderKind.BODY_SHOP and len(providers) == 1


def test_registrations_per_provider_are_bounded_to_the_newest() -> None:
    providers = ProviderBook()
    for year in range(2000, 2000 + MAX_REGISTRATIONS_PER_PROVIDER + 6):
        providers.add(registered(GARAGE, ProviderKind.GARAGE, f"{year}-01-01"))
    assert providers.standing(GARAGE, at("2003-06-01")) is None  # the oldest went
    assert providers.standing(GARAGE, at("2069-06-01")) is not None


def test_an_unregistered_or_inactive_provider_is_rejected_and_the_reading_kept_aside() -> None:
    state = history()
    stranger = reading("r6", 90_100, "2024-03-04", provider_id="0999999999")
    refused = decide(state, stranger, DEFAULT_POLICY, 0, BOOK)
    assert refused.receipts[0].status is ReceiptStatus.REJECTED
    assert codes(refused.receipts) == [IssueCode.PROVIDER_NOT_REGISTERED]
    assert "0999999999" in refused.receipts[0].issues[0].message
    assert refused.state.readings == state.readings and [r.event_id for r in refused.state.rejected] == ["r6"]
    early = reading("r6", 90_100, "2024-03-04")
    too_soon = book(registered(GARAGE, ProviderKind.GARAGE, "2024-03-05"))  # registered the day after
    assert codes(decide(state, early, DEFAULT_POLICY, 0, too_soon).receipts) == [
        IssueCode.PROVIDER_NOT_REGISTERED
    ]
    closed = book(registered(GARAGE, ProviderKind.GARAGE, "2010-01-01"),
                  registered(GARAGE, ProviderKind.GARAGE, "2024-01-01", active=False))  # fmt: skip
    assert codes(decide(state, early, DEFAULT_POLICY, 0, closed).receipts) == [IssueCode.PROVIDER_INACTIVE]
    # Its earlier readings stay judged as they were: the registry as it stood when each was sent.
    replayed = fold([registration(), *yearly(5)])
    assert replayed is not None
    again = VehicleState(VIN)
    for event in [registration(), *yearly(5)]:
        decision = decide(again, event, DEFAULT_POLICY, 0, closed)
        assert all(r.status is ReceiptStatus.ACCEPTED for r in decision.receipts)
        again = decision.state
    assert again.readings == replayed.readings


def test_a_garage_claiming_an_inspection_bodys_weight_is_weighed_as_a_garage() -> None:
    """The kind sets the weight (an inspection body's reading weighs 3, a garage's 1): the registry's
    kind is stored, so the trend weighs it as a garage's; the receipt says why."""
    claim = reading("r6", 90_100, "2024-03-04", provider_kind=ProviderKind.INSPECTION_BODY)
    decision = decide(history(), claim, DEFAULT_POLICY, 0, BOOK)
    assert decision.receipts[0].status is ReceiptStatus.ACCEPTED_WITH_WARNINGS
    assert codes(decision.receipts) == [IssueCode.PROVIDER_KIND_CORRECTED]
    stored = decision.state.readings[-1]
    assert stored.provider_kind is ProviderKind.GARAGE
    weights = DEFAULT_POLICY.weights.by_source
    assert weights[stored.origin][stored.provider_kind] == 1.0
    assert weights[Origin.WORKSHOP][ProviderKind.INSPECTION_BODY] == 3.0  # what it claimed
    unchecked = decide(history(), claim).state.readings[-1]  # without the registry: as it says
    assert unchecked.provider_kind is ProviderKind.INSPECTION_BODY


def test_an_origin_its_kind_does_not_send_from_is_rejected() -> None:
    """A garage declaring an inspection, a connected car or a foreign history (escaping R2, or weighing 3)."""
    state = history()
    for origin in (Origin.INSPECTION, Origin.CONNECTED_VEHICLE, Origin.FOREIGN_HISTORY):
        refused = decide(state, reading("r6", 90_100, "2024-03-04", origin=origin), DEFAULT_POLICY, 0, BOOK)
        assert codes(refused.receipts) == [IssueCode.ORIGIN_NOT_ALLOWED], origin
        assert "WORKSHOP" in refused.receipts[0].issues[0].message
    inspected = reading("r6", 90_100, "2024-03-04", provider_id=STATION,
                        provider_kind=ProviderKind.INSPECTION_BODY, origin=Origin.INSPECTION)  # fmt: skip
    honest = decide(state, inspected, DEFAULT_POLICY, 0, BOOK)
    assert honest.receipts[0].status is ReceiptStatus.ACCEPTED and honest.receipts[0].issues == ()
