"""Plate readings on the real broker: resolved to the VIN holding the plate on the day, also when the plate
moved to another car or its registration arrives late; an unknown plate gets PLATE_NOT_RESOLVED."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.records import (
    Origin,
    PlateOdometerReading,
    ProviderKind,
    Receipt,
    ReceiptStatus,
    RegistrationKind,
)
from tests.integration.worker_harness import Feeder, pipeline, read_topic, records_of
from tests.unit.streams.domain.builders import at, registration

pytestmark = pytest.mark.integration

FIRST_CAR, SECOND_CAR, LATE_CAR = "WVWZZZ1KZAW100001", "WVWZZZ1KZAW100002", "WVWZZZ1KZAW100003"
MOVING, LATE, UNKNOWN = "1-MOV-001", "1-LAT-002", "9-UNK-999"


def plate_reading(event_id: str, plate: str, observed: str, value: int) -> PlateOdometerReading:
    observed_at = at(observed)
    return PlateOdometerReading(
        event_id=event_id, plate=plate, odometer_value=value, observed_at=observed_at,
        submitted_at=observed_at + 600_000, provider_id="0412345678", provider_kind=ProviderKind.GARAGE,
        origin=Origin.WORKSHOP, work_description="tyres",
    )  # fmt: skip


def test_plates_resolve_to_the_holder_on_the_day_and_unknown_ones_are_answered(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with pipeline(kafka_bootstrap, tmp_path, plate_wait_s="3") as p:
        feed = Feeder(p)
        worker = p.start()
        feed.records([
            registration("2016-01-04", vin=FIRST_CAR, event_id="reg-1", plate=MOVING),
            # In 2021 the first car gets a new plate and its old one goes to the second car.
            registration("2021-06-01", vin=FIRST_CAR, event_id="reg-1b", plate="2-NEW-001",
                         kind=RegistrationKind.PLATE_CHANGE),
            registration("2021-06-02", vin=SECOND_CAR, event_id="reg-2", plate=MOVING),
        ])  # fmt: skip
        p.wait_metric(worker, 'carpass_events_in_total{origin="",topic="vehicle.registrations"}', 3)
        feed.records([
            plate_reading("before-move", MOVING, "2020-03-02", 61_000),
            plate_reading("after-move", MOVING, "2022-03-07", 12_000),
            plate_reading("late", LATE, "2023-05-08", 30_000),
            plate_reading("unknown", UNKNOWN, "2023-05-08", 45_000),
        ])  # fmt: skip
        # The registration of LATE arrives after its reading, within the wait.
        feed.records([registration("2019-01-07", vin=LATE_CAR, event_id="reg-3", plate=LATE)])

        messages = read_topic(kafka_bootstrap, p.topics.receipts, lambda m: len(m) >= 4, timeout_s=60,
                              check=p.assert_alive)  # fmt: skip
        receipts = {r.event_id: r for r in records_of(messages, Receipt)}
        assert receipts["before-move"].vin == FIRST_CAR
        assert receipts["after-move"].vin == SECOND_CAR
        assert receipts["late"].vin == LATE_CAR
        assert receipts["before-move"].status is not ReceiptStatus.REJECTED
        unknown = receipts["unknown"]
        assert (unknown.vin, unknown.status) == ("", ReceiptStatus.REJECTED)
        assert [issue.code for issue in unknown.issues] == ["PLATE_NOT_RESOLVED"]
        assert UNKNOWN in unknown.issues[0].message
        key = next(m.key() for m in messages if records_of([m], Receipt)[0].event_id == "unknown")
        assert key == UNKNOWN.encode()
        # The resolved readings went through the vehicle agent, on the internal VIN-keyed topic.
        resolved = read_topic(kafka_bootstrap, p.topics.resolved_readings, lambda m: len(m) >= 3)
        assert {m.key() for m in resolved} == {FIRST_CAR.encode(), SECOND_CAR.encode(), LATE_CAR.encode()}
        assert p.metrics(worker)["carpass_plate_readings_pending"] == 0
