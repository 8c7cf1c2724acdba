"""Small builders of per-VIN states for the projection tests (dates in, epoch ms / days out)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from schemas.records import AnomalyKind, Origin, ProviderKind, RegistrationKind, Unit
from streams.domain.calendar import MS_PER_DAY, day_of
from streams.domain.state import OpenAnomaly, RegistrationFacts, StoredReading, VehicleState

VIN = "WVWZZZ1JZXW000001"
PROVIDER = "0123456789"


def day(y: int, m: int, d: int) -> int:
    return day_of(date(y, m, d))


def ms(y: int, m: int, d: int, hour: int = 10) -> int:
    return day(y, m, d) * MS_PER_DAY + hour * 3_600_000


def reading(
    when: tuple[int, int, int],
    value: int,
    *,
    eid: str | None = None,
    unit: Unit = Unit.KM,
    replaced: bool = False,
    digits: int | None = None,
    provider: str = PROVIDER,
) -> StoredReading:
    at = ms(*when)
    return StoredReading(
        event_id=eid or f"00000000-0000-4000-8000-{at // 1000:012d}"[-36:],
        observed_at=at,
        value=value,
        unit=unit,
        provider_id=provider,
        provider_kind=ProviderKind.GARAGE,
        origin=Origin.WORKSHOP,
        submitted_at=at + 60_000,
        odometer_replaced=replaced,
        counter_digits=digits,
    )


def registration(first: tuple[int, int, int], **changes: object) -> RegistrationFacts:
    facts = RegistrationFacts(
        kind=RegistrationKind.FIRST_REGISTRATION,
        effective_at=ms(*first),
        first_registration_date=day(*first),
        imported_used=False,
        make="Volkswagen",
        model="Golf",
        vehicle_category="M1",
        plate="1-ABC-123",
        euro_norm="EURO 6d",
        co2_g_km=118,
        fuel_type="PETROL",
        electric_motor=False,
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def yearly_readings(first_year: int, last_year: int, km_per_year: int = 15_000) -> tuple[StoredReading, ...]:
    """One reading on 1 March of each year, increasing."""
    years = range(first_year, last_year + 1)
    return tuple(reading((y, 3, 1), (y - first_year + 1) * km_per_year) for y in years)


def clean_old_vehicle() -> VehicleState:
    """Registered 2018-01-10, seven yearly readings 2018..2024 (latest 2024-03-01, 105,000 km): OK label
    at 2024-06-01 for an advert of 110,000 km."""
    return VehicleState(VIN, readings=yearly_readings(2018, 2024), registration=registration((2018, 1, 10)))


def spike(state: VehicleState) -> VehicleState:
    blamed = state.readings[2].event_id
    return replace(state, anomalies=(OpenAnomaly(AnomalyKind.SPIKE, blamed),))
