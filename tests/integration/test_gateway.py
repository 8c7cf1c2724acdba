"""The inflow gateway against the real broker and a real worker (with projections): a garage's DMS posts
readings over HTTP and reads its receipts; typos come back with error numbers and suggested values and are
corrected once; another garage sees nothing of it; plates resolve; repeats are one event; bad input is a
400 naming each field; a provider over its rate gets 429 with Retry-After.

Two gateway instances serve the module, to show that any instance answers for any other (stateless).
Dates are relative to now: the gateway stamps ``submitted_at`` with the wall clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import AnyRecord
from schemas.records import (
    OdometerReading,
    Origin,
    ProviderKind,
    Receipt,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain.calendar import day_of
from tests.integration.gateway_harness import GatewayProcess, start_gateway, write_keys
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_all, read_topic, records_of

pytestmark = pytest.mark.integration

GARAGE = "0412345678"
OTHER_GARAGE = "0498765432"
BUSY_GARAGE = "0400000003"
GARAGE_KIND = {"role": "provider", "provider_kind": "GARAGE"}
KEYS = {
    "garage": {**GARAGE_KIND, "provider_id": GARAGE, "key": "gw-garage-key"},
    "other": {**GARAGE_KIND, "provider_id": OTHER_GARAGE, "key": "gw-other-key"},
    "busy": {**GARAGE_KIND, "provider_id": BUSY_GARAGE, "key": "gw-busy-key"},
    "operator": {"role": "operator", "key": "gw-operator-key"},
    "dealer": {"role": "dealer", "key": "gw-dealer-key"},
}
ME, OTHER, BUSY = (KEYS[n]["key"] for n in ("garage", "other", "busy"))
CLEAN = "WVWZZZ1KZAW200001"
TYPO = "WVWZZZ1KZAW200002"
DIPPED = "WVWZZZ1KZAW200003"
PLATED = "WVWZZZ1KZAW200004"
PLATE = "1-GWY-004"
NOW = datetime.now(UTC)
FIRST_REGISTRATION = NOW.date() - timedelta(days=6 * 365)


def ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC).timestamp() * 1000)


def reg(vin: str, plate: str | None = None) -> VehicleRegistration:
    return VehicleRegistration(
        event_id=f"reg-{vin}", vin=vin, kind=RegistrationKind.FIRST_REGISTRATION, plate=plate,
        effective_at=ms(FIRST_REGISTRATION), first_registration_date=day_of(FIRST_REGISTRATION),
        imported_used=False, make="Volkswagen", model="Golf", vehicle_category="M1",
    )  # fmt: skip


def history(vin: str) -> list[OdometerReading]:
    """Six yearly readings of 15,000 km by the garage, the last about five months ago (90,000 km)."""
    out = []
    for year in range(6):
        at = ms(FIRST_REGISTRATION + timedelta(days=200 + 365 * year))
        out.append(OdometerReading(
            event_id=f"{vin}-h{year}", vin=vin, odometer_value=15_000 * (year + 1), observed_at=at,
            submitted_at=at + 600_000, provider_id=GARAGE, provider_kind=ProviderKind.GARAGE,
            origin=Origin.WORKSHOP, work_description="periodic service",
        ))  # fmt: skip
    return out


def observation(request_id: str, value: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": request_id, "vin": CLEAN, "odometer_value": value,
        "observed_at": (NOW - timedelta(hours=1)).isoformat(), "provider_kind": "GARAGE",
        "origin": "WORKSHOP", "work_description": "brake pads, oil change",
    }  # fmt: skip
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@dataclass
class Setup:
    p: Pipeline
    gateway: GatewayProcess
    second: GatewayProcess

    def post(self, body: dict[str, Any], key: str = ME) -> str:
        answer = self.gateway.call("POST", "/observations", key, body)
        assert answer.status == 202, answer
        request_id: str = answer.body["request_id"]
        assert answer.headers["Location"] == f"/observations/{request_id}"
        return request_id

    def receipt(self, path: str, key: str = ME, via: GatewayProcess | None = None) -> dict[str, Any]:
        answer = (via or self.gateway).call("GET", f"{path}?wait_s=25", key)
        assert answer.status == 200, answer
        assert answer.body["status"] != "PENDING", f"no receipt for {path} in 25 s"
        body: dict[str, Any] = answer.body
        return body


@pytest.fixture(scope="module")
def setup(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    data_dir: Path = tmp_path_factory.mktemp("gateway")
    keys_file = write_keys(data_dir / "keys.json", KEYS)
    with pipeline(kafka_bootstrap, data_dir, api_keys_file=keys_file) as p:
        p.start(projections=True)
        past: list[AnyRecord] = [reg(CLEAN), reg(TYPO), reg(DIPPED), reg(PLATED, PLATE)]
        Feeder(p).records(past)
        time.sleep(1.0)  # registrations first: the history below is then judged against them
        readings = [*history(CLEAN), *history(TYPO), *history(DIPPED)]
        Feeder(p).records(readings)
        judged = lambda m: len(m) >= len(readings)  # noqa: E731
        read_topic(kafka_bootstrap, p.topics.receipts, judged, 90.0, p.assert_alive)
        settings = {"gateway_rate_per_s": "5", "gateway_burst": "100"}
        gateway = start_gateway(p, keys_file, **settings)
        second = start_gateway(p, keys_file, **settings)
        yield Setup(p, gateway, second)


def test_a_garage_posts_a_reading_and_reads_its_receipt(setup: Setup) -> None:
    request_id = setup.post(observation("dms-clean-1", 95_000))
    receipt = setup.receipt(f"/observations/{request_id}")
    assert receipt["request_id"] == request_id and receipt["vin"] == CLEAN
    assert receipt["status"] == "ACCEPTED" and receipt["issues"] == []
    assert receipt["provider_id"] == GARAGE
    # any instance answers: the second follows the same receipts
    assert setup.receipt(f"/observations/{request_id}", via=setup.second) == receipt


def test_a_typo_is_corrected_once_and_a_second_correction_is_refused(setup: Setup) -> None:
    typo_id = setup.post(observation("dms-typo-1", 960_000, vin=TYPO))
    receipt = setup.receipt(f"/observations/{typo_id}")
    assert receipt["status"] == "ACCEPTED_WITH_WARNINGS"
    (issue,) = [i for i in receipt["issues"] if i["code"] == "TREND_BREAK"]
    assert issue["suggested_value"] == 96_000 and issue["error_number"].startswith("E")

    # another garage can neither read it (it reads as not known yet), nor correct it, nor confirm it
    theirs = setup.gateway.call("GET", f"/observations/{typo_id}", OTHER)
    assert theirs.status == 200 and theirs.body["status"] == "PENDING" and TYPO not in str(theirs.body)
    fix = {"request_id": "fix-1", "error_number": issue["error_number"], "corrected_value": 96_000}
    refused = setup.gateway.call("POST", "/corrections", OTHER, fix)
    assert refused.status == 404 and TYPO not in str(refused.body)  # as an unknown number: names nobody
    assert setup.gateway.call("POST", f"/observations/{typo_id}/confirm", OTHER, {}).status == 404

    first = setup.gateway.call("POST", "/corrections", ME, fix)
    assert first.status == 202, first
    corrected = setup.receipt(first.body["receipt_url"])
    assert corrected["status"] == "ACCEPTED" and corrected["vin"] == TYPO
    assert setup.gateway.call("GET", first.body["receipt_url"], OTHER).body["status"] == "PENDING"

    again = {**fix, "request_id": "fix-2", "corrected_value": 96_100}
    second = setup.second.call("POST", "/corrections", ME, again)
    assert second.status == 202, second
    refused_receipt = setup.receipt(second.body["receipt_url"], via=setup.second)
    assert refused_receipt["status"] == "REJECTED"
    assert [i["code"] for i in refused_receipt["issues"]] == ["CORRECTION_ALREADY_USED"]


def test_a_flagged_reading_confirmed_by_its_provider_shows_in_the_history(setup: Setup) -> None:
    dip_id = setup.post(observation("dms-dip-1", 40_000, vin=DIPPED))
    assert setup.receipt(f"/observations/{dip_id}")["status"] == "ACCEPTED_WITH_WARNINGS"
    answer = setup.gateway.call("POST", f"/observations/{dip_id}/confirm", ME, {"note": "new cluster fitted"})
    assert answer.status == 202 and answer.body["confirmed_request_id"] == dip_id
    port = setup.p.ports[0]  # the worker's query API
    deadline = time.monotonic() + 60
    reading: dict[str, Any] = {}
    while time.monotonic() < deadline and not reading.get("confirmed_by_provider_at"):
        view = GatewayProcess(f"http://127.0.0.1:{port}", 0).call(
            "GET", f"/vehicles/{DIPPED}/history", KEYS["operator"]["key"]
        )
        if view.status == 200:
            reading = next((r for r in view.body["readings"] if r["event_id"] == dip_id), {})
        time.sleep(0.3)
    assert reading.get("confirmed_by_provider_at"), (view.status, view.body)


def test_a_plate_only_observation_resolves_to_its_vehicle(setup: Setup) -> None:
    request_id = setup.post(observation("dms-plate-1", 12_000, vin=None, plate=PLATE))
    receipt = setup.receipt(f"/observations/{request_id}")
    assert receipt["vin"] == PLATED and receipt["status"] != "REJECTED"


def test_a_repeat_is_one_event_and_a_different_body_is_refused(setup: Setup) -> None:
    body = observation("dms-repeat-1", 96_000)
    first = setup.post(body)
    assert setup.post(body) == first
    assert setup.gateway.call("POST", "/observations", ME, {**body, "odometer_value": 97_000}).status == 409
    # the other instance does not remember the first body, but produces the same event id (kept once)
    assert setup.second.call("POST", "/observations", ME, body).body["request_id"] == first
    assert setup.receipt(f"/observations/{first}")["status"] == "ACCEPTED"
    # another provider's identical request id is another event
    other = setup.gateway.call("POST", "/observations", OTHER, body)
    assert other.status == 202 and other.body["request_id"] != first
    setup.receipt(f"/observations/{other.body['request_id']}", key=OTHER)
    receipts = records_of(read_all(setup.p.bootstrap, setup.p.topics.receipts), Receipt)
    assert [r.event_id for r in receipts].count(first) == 1


def test_bad_input_is_400_naming_every_field(setup: Setup) -> None:
    body = {
        "request_id": "has spaces", "vin": CLEAN, "odometer_value": "12a",
        "observed_at": "2026-11-23T10:00:00", "origin": "GARAGE", "colour": "red",
    }  # fmt: skip
    answer = setup.gateway.call("POST", "/observations", ME, body)
    assert answer.status == 400
    fields = {e["field"]: e["rule"] for e in answer.body["errors"]}
    assert set(fields) == {"request_id", "odometer_value", "observed_at", "origin", "colour"}
    assert "time zone" in fields["observed_at"] and "WORKSHOP" in fields["origin"]
    not_json = setup.gateway.call("POST", "/observations", ME, raw=b"{not json")
    assert not_json.status == 400 and not_json.body["errors"][0]["field"] == "body"
    both = setup.gateway.call("POST", "/observations", ME, observation("dms-both", 1, plate=PLATE))
    assert both.status == 400
    assert both.body["errors"] == [{"field": "plate", "rule": "give vin or plate, not both"}]
    wait = setup.gateway.call("GET", f"/observations/{uuid.uuid4()}?wait_s=-1", ME)
    assert wait.status == 400 and wait.body["errors"][0]["field"] == "wait_s"
    assert setup.gateway.call("GET", "/observations/not-an-id", ME).status == 400
    withdraw = {"request_id": "w", "error_number": "E0123456789AB", "withdraw": True, "corrected_value": 1}
    assert setup.gateway.call("POST", "/corrections", ME, withdraw).body["errors"][0]["field"] == "withdraw"
    assert setup.gateway.call("POST", "/observations", None, body).status == 401
    assert setup.gateway.call("POST", "/observations", KEYS["dealer"]["key"], body).status == 403
    spoof = observation("dms-spoof", 1, provider_id=OTHER_GARAGE)
    assert setup.gateway.call("POST", "/observations", ME, spoof).status == 403
    for claim in ({"provider_kind": "INSPECTION_BODY"}, {"origin": "CONNECTED_VEHICLE"}):  # a garage's key
        outvote = setup.gateway.call("POST", "/observations", ME, {**observation("dms-outvote", 1), **claim})
        assert outvote.status == 403 and next(iter(claim)) in outvote.body["error"]
    pending = setup.gateway.call("GET", f"/observations/{uuid.uuid4()}", ME)
    assert pending.status == 200 and pending.body["status"] == "PENDING"


def test_a_provider_over_its_rate_gets_429_with_retry_after(setup: Setup) -> None:
    statuses = [setup.gateway.call("GET", f"/observations/{uuid.uuid4()}", BUSY) for _ in range(160)]
    limited = [a for a in statuses if a.status == 429]
    assert limited and statuses[0].status == 200
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert setup.gateway.call("GET", f"/observations/{uuid.uuid4()}", ME).status == 200  # per provider
