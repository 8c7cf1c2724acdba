"""Fixed vehicle states and the golden files of their stored bytes (``streams.state.codec``).

``golden/<name>.v<version>.hex`` holds the stored form of ``GOLDEN[<name>]`` as written by the codec whose
version byte is ``<version>``. Files of a version the codec no longer writes are never regenerated: they are
the proof that a state stored by an older worker still reads. The states are built here field by field (not
by the judgment core), so that a change of the rules cannot change them.

Regenerate the files of the version written today (after an intended change of the layout, with a new
version byte) with ``python -m tests.unit.streams.state.golden_states``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from schemas.records import (
    AccidentInspectionState,
    AnomalyKind,
    Co2TestProcedure,
    Origin,
    ProviderKind,
    RecallState,
    RegistrationKind,
    SuspectedCause,
    Unit,
)
from streams.domain.state import (
    AccidentFact,
    ConfirmedReading,
    OpenAnomaly,
    RecallFact,
    RegistrationFacts,
    StoredReading,
    VehicleState,
)

GOLDEN_DIR = Path(__file__).with_name("golden")
VIN = "WVWZZZ1KZAW123456"
T0 = 1_420_110_000_000  # 2015-01-01T11:00:00Z
DAY = 86_400_000
GARAGE, INSPECTION = "0412345678", "0200000101"


def _reading(index: int, **changes: object) -> StoredReading:
    """Reading ``index`` of a car read about every 200 days, by a garage (or, every third, an inspection)."""
    inspection = index % 3 == 2
    fields: dict[str, object] = dict(
        event_id=f"5f0c6a1b-9e11-4c2b-9d7e-2f0c6a1b{index:04x}",
        observed_at=T0 + index * 200 * DAY + 3_600_000 * index + 417 * index,
        value=40 + 6_100 * index + 13 * index * index,
        unit=Unit.KM,
        provider_id=INSPECTION if inspection else GARAGE,
        provider_kind=ProviderKind.INSPECTION_BODY if inspection else ProviderKind.GARAGE,
        origin=Origin.INSPECTION if inspection else Origin.WORKSHOP,
        submitted_at=T0 + index * 200 * DAY + 3_600_000 * index + 240_000 + 7_123 * index,
    )
    fields.update(changes)
    return StoredReading(**fields)  # type: ignore[arg-type]


_REGISTRATION = RegistrationFacts(
    kind=RegistrationKind.FIRST_REGISTRATION, effective_at=T0 - 30 * DAY, first_registration_date=16_400,
    imported_used=True, make="Volkswagen", model="Golf", vehicle_category="M1", plate="1-ABC-123",
    first_registration_be_date=16_401, import_country="DE", euro_norm="Euro 6", co2_g_km=118,
    co2_test_procedure=Co2TestProcedure.WLTP, fuel_type="DIESEL", electric_motor=False,
    electric_range_km=0, counter_digits=6,
)  # fmt: skip

_TYPICAL = VehicleState(VIN, readings=tuple(_reading(i) for i in range(6)), registration=_REGISTRATION)

_ODD_READINGS = (
    _reading(0, event_id="legacy-0001", observed_at=T0, submitted_at=T0 + 60_000, value=-(2**62)),
    _reading(1, event_id="5F0C6A1B-9E11-4C2B-9D7E-2F0C6A1B0001", observed_at=T0 + 200 * DAY,
             submitted_at=T0 + 200 * DAY + 3_600_000, value=2**62, unit=Unit.MILES, provider_id="GARAGE-7",
             provider_kind=ProviderKind.DEALER, origin=Origin.MANUAL, odometer_replaced=True),
    _reading(2, observed_at=T0 + 400 * DAY, submitted_at=T0 + 399 * DAY, value=5, counter_digits=5,
             error_numbers=("E0123456789AB", "5f0c6a1b-9e11-4c2b-9d7e-2f0c6a1bffff", "form-17")),
)  # fmt: skip

_EVERY_SECTION = VehicleState(
    VIN,
    readings=_ODD_READINGS,
    rejected=(
        _reading(7, value=9_999_999, error_numbers=("E00000000002A",)),
        _reading(5, observed_at=T0 + 5, submitted_at=T0 - 5, provider_id=""),
    ),
    done_ids=("0a0b0c0d-0e0f-4011-8213-141516171819", "E00000000002B", "dup-é"),
    electronic_closed=("E00000000002A",),
    registration=RegistrationFacts(
        kind=RegistrationKind.DEREGISTRATION, effective_at=T0 + 700 * DAY + 1, first_registration_date=-3,
        imported_used=False, make="", model="Kuga", vehicle_category="N1",
    ),
    recalls=(
        RecallFact("WF0-813", "Ford", "Ford: brake hose inspection", RecallState.OPEN, T0 + 10 * DAY),
        RecallFact("WF0-546", "Ford", "", RecallState.WITHDRAWN, T0 + 11 * DAY + 999),
    ),
    accident=AccidentFact(AccidentInspectionState.REQUIRED, T0 + 12 * DAY),
    anomalies=(
        OpenAnomaly(AnomalyKind.SPIKE, _ODD_READINGS[1].event_id,
                    (_ODD_READINGS[0].event_id, "not-a-reading"), SuspectedCause.EXTRA_DIGIT, 2**40),
        OpenAnomaly(AnomalyKind.STALE_HISTORY, None),
        OpenAnomaly(AnomalyKind.ROLLBACK, "5f0c6a1b-9e11-4c2b-9d7e-2f0c6a1b0999", (), None, -12),
        OpenAnomaly(AnomalyKind.ODOMETER_REPLACED, _ODD_READINGS[1].event_id),
    ),
)  # fmt: skip

_CONFIRMED = VehicleState(
    VIN,
    readings=_TYPICAL.readings,
    registration=_REGISTRATION,
    anomalies=(
        OpenAnomaly(AnomalyKind.DIP, _TYPICAL.readings[4].event_id, (_TYPICAL.readings[3].event_id,)),
    ),
    confirmations=(
        ConfirmedReading(_TYPICAL.readings[4].event_id, T0 + 900 * DAY),
        ConfirmedReading("5f0c6a1b-9e11-4c2b-9d7e-2f0c6a1b0999", T0 + 901 * DAY + 1),
    ),
)  # fmt: skip

_WORKS = ("periodic service", None, "brake pads, oil and filter", "periodic service", "pneus été → hiver")
_MAINTAINED = VehicleState(
    VIN,
    readings=tuple(replace(r, work_description=w) for r, w in zip(_TYPICAL.readings, _WORKS, strict=False)),
    registration=_REGISTRATION,
)

GOLDEN: dict[str, VehicleState] = {
    "empty": VehicleState(VIN),
    "typical": _TYPICAL,
    "every_section": _EVERY_SECTION,
    "confirmed": _CONFIRMED,
    "maintained": _MAINTAINED,
}
"""Named states: ``typical`` is a clean six-reading history; ``every_section`` fills every section with
the unusual cases (ids that are not UUIDs, whole-second times, miles, an absurd jump of the value, …);
``confirmed`` has confirmations; ``maintained`` work descriptions (R1's maintenance book: some readings
without, a text repeated, one not ASCII)."""


def golden_path(name: str, version: int) -> Path:
    return GOLDEN_DIR / f"{name}.v{version}.hex"


def golden_bytes(name: str, version: int) -> bytes:
    return bytes.fromhex(golden_path(name, version).read_text().strip())


def write_golden_files() -> None:
    """Write the stored bytes of every :data:`GOLDEN` state as the codec writes them today (files of older
    versions are left alone)."""
    from streams.state.codec import encode_state

    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, state in GOLDEN.items():
        stored = encode_state(state)
        golden_path(name, stored[0]).write_text(stored.hex() + "\n")


if __name__ == "__main__":
    write_golden_files()
