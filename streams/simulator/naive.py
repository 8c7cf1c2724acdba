"""The naive baseline most registries use: a reading lower than the previous one is flagged.

Per VIN, readings are put in ``observed_at`` order (ties: ``event_id``); every reading whose value in km is
lower than its predecessor's is flagged, blamed on itself, with no tolerance, no typo analysis, no source
weighting, and no exception for odometer replacements or 5-digit wraps. Miles are converted to km (the unit is
mandatory, as at RDW). Flags are ``AnomalyEvent``s of kind ROLLBACK ("illogical") so that
:func:`streams.simulator.score.score` can score them like the engine's outputs (kind-agnostic).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    Judgment,
    OdometerReading,
)
from streams.domain.history import to_km
from streams.domain.ids import anomaly_id
from streams.simulator.plates import resolve_plates

NAIVE_KIND = "NAIVE_LOWER_THAN_PREVIOUS"
"""The kind label hashed into the naive flags' ``anomaly_id`` (never equal to an engine anomaly's)."""


class NaiveDetector:
    """Collects readings (any order), then flags. Memory: one small tuple per reading."""

    def __init__(self) -> None:
        self._readings: dict[str, list[tuple[int, str, int, str, int]]] = {}

    def add(self, reading: OdometerReading) -> None:
        self._readings.setdefault(reading.vin, []).append(
            (
                reading.observed_at,
                reading.event_id,
                to_km(reading.odometer_value, reading.unit),
                reading.provider_id,
                reading.submitted_at,
            )
        )

    def flags(self) -> list[AnomalyEvent]:
        """One OPEN ``AnomalyEvent`` per reading lower than its predecessor, by VIN then observed time."""
        found: list[AnomalyEvent] = []
        for vin, readings in self._readings.items():
            readings.sort()
            for before, reading in itertools.pairwise(readings):
                if reading[2] < before[2]:
                    found.append(
                        AnomalyEvent(
                            anomaly_id=anomaly_id(vin, NAIVE_KIND, reading[1]),
                            vin=vin,
                            kind=AnomalyKind.ROLLBACK,
                            status=AnomalyStatus.OPEN,
                            related_event_ids=(before[1],),
                            judgment=Judgment.ILLOGICAL,
                            detected_at=reading[4],
                            blamed_event_id=reading[1],
                            blamed_provider_id=reading[3],
                            observed_at=reading[0],
                        )
                    )
        return found


def naive_flags(records: Iterable[object]) -> list[AnomalyEvent]:
    """The naive detector's flags over ``records`` (a simulation's records or VIN-keyed events; plate readings
    are resolved to VINs, other records ignored)."""
    detector = NaiveDetector()
    for record in resolve_plates(r for r in records if not isinstance(r, AnomalyEvent)):
        if isinstance(record, OdometerReading):
            detector.add(record)
    return detector.flags()
