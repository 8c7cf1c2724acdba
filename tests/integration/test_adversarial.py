"""The adversarial suite: the hardening issue's findings (#13), each tried again as an attacker or a careless
integrator would, black-box, against a real broker, a worker (with its API) and a gateway::

    attacker ──HTTP──► gateway ──► Kafka ◄── attacker's own producer (raw bytes, any provider id)
                                     │
                                   worker (tables, API) ◄──HTTP── attacker

Each test is one finding; the last is the control: a plain reading still gets its receipt within seconds,
and every input the suite sent (readings, plate readings, corrections, an integrator's ingest records) has
a receipt or a dead letter, counted by event id and by offset.

The worker and gateway run with short waits so that the suite stays quick: plate readings wait 3 s for a
registration, an idle HTTP connection is closed after 3 s.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import AnyRecord, key_of
from schemas.codec import decode, encode
from schemas.records import (
    DeadLetter,
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    Receipt,
    VehicleRegistration,
)
from streams.kafka.acls import ingest_topic
from tests.integration.gateway_harness import GatewayProcess, start_gateway, write_keys
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_all, read_topic, records_of
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, registration

pytestmark = pytest.mark.integration

KEYS = {
    "garage": {"role": "provider", "provider_kind": "GARAGE", "provider_id": GARAGE, "key": "adv-garage"},
    "other": {"role": "provider", "provider_kind": "GARAGE", "provider_id": OTHER_GARAGE, "key": "adv-other"},
    "dealer": {"role": "dealer", "key": "adv-dealer"},
}
ME, OTHER, DEALER = "adv-garage", "adv-other", "adv-dealer"
VINS = [f"WVWZZZ1KZAW3000{n:02d}" for n in range(10)]
PLATE = "1-ADV-001"
NOW = datetime.now(UTC)
SECURITY_HEADERS = ("X-Content-Type-Options", "Cache-Control", "Content-Security-Policy", "X-Frame-Options")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def reading(event_id: str, vin: str, value: int, days_ago: float, **changes: Any) -> OdometerReading:
    at = ms(NOW - timedelta(days=days_ago))
    record = OdometerReading(event_id=event_id, vin=vin, odometer_value=value, observed_at=at,
                             submitted_at=at, provider_id=GARAGE, provider_kind=ProviderKind.GARAGE,
                             origin=Origin.WORKSHOP, work_description="service")  # fmt: skip
    return replace(record, **changes)


@dataclass
class Suite:
    p: Pipeline
    gateway: GatewayProcess
    worker_url: str
    feeder: Feeder
    sent: int = 0
    """Submissions the suite put on the input topics (readings, plate readings, corrections, ingest)."""

    def receipt_of(self, event_id: str, timeout_s: float = 45.0) -> Receipt:
        def found(messages: list[Any]) -> bool:
            return any(r.event_id == event_id for r in records_of(messages, Receipt))

        got = read_topic(self.p.bootstrap, self.p.topics.receipts, found, timeout_s, self.p.assert_alive)
        return next(r for r in records_of(got, Receipt) if r.event_id == event_id)

    def dead_letter_at(self, topic: str, offset: int, timeout_s: float = 45.0) -> DeadLetter:
        def found(messages: list[Any]) -> bool:
            return any((d.topic, d.offset) == (topic, offset) for d in records_of(messages, DeadLetter))

        got = read_topic(self.p.bootstrap, self.p.topics.dead_letters, found, timeout_s, self.p.assert_alive)
        return next(d for d in records_of(got, DeadLetter) if (d.topic, d.offset) == (topic, offset))

    def submit(self, records: Iterable[AnyRecord]) -> None:
        """Contract records on their topics (counted in :attr:`sent` when a submission)."""
        records = list(records)
        self.sent += sum(1 for r in records if not isinstance(r, VehicleRegistration))
        self.feeder.records(records)

    def produce(self, topic: str, key: bytes, value: bytes) -> int:
        """One raw record as any Kafka producer could; its offset."""
        self.sent += 1
        offsets: list[int] = []
        self.feeder.producer.produce(topic, key=key, value=value,
                                     on_delivery=lambda err, msg: offsets.append(msg.offset()))  # fmt: skip
        assert self.feeder.producer.flush(15) == 0 and offsets
        return offsets[0]


@pytest.fixture(scope="module")
def suite(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    data_dir: Path = tmp_path_factory.mktemp("adversarial")
    keys_file = write_keys(data_dir / "keys.json", KEYS)
    access = data_dir / "access.json"
    access.write_text(json.dumps({"worker": "User:carpass-worker",
                                  "integrators": {"User:dms-acme": {"name": "acme", "providers": [GARAGE]}}}))
    settings = {"api_keys_file": keys_file, "kafka_access_file": str(access), "plate_wait_s": "3",
                "http_idle_timeout_s": "3"}  # fmt: skip
    with pipeline(kafka_bootstrap, data_dir, partitions=2, **settings) as p:
        worker = p.start(projections=True)
        feeder = Feeder(p)
        feeder.records([replace(registration(), event_id=f"reg-{vin}", vin=vin,
                                plate=PLATE if vin == VINS[0] else None) for vin in VINS])  # fmt: skip
        gateway = start_gateway(p, keys_file, http_idle_timeout_s="3")
        yield Suite(p, gateway, f"http://127.0.0.1:{p.ports[worker]}", feeder)


# --- 1. nothing lost --------------------------------------------------------------------------------------


def test_an_oversized_record_is_a_cut_dead_letter_and_its_batch_mates_are_answered(suite: Suite) -> None:
    topic = suite.p.topics.readings
    good = [reading(f"adv-big-{n}", VINS[1], 10_000 * (n + 1), 300 - 30 * n) for n in range(3)]
    suite.submit(good[:1])
    big = suite.produce(topic, VINS[1].encode(), b"\x00" * 200_000)  # over CARPASS_MAX_INPUT_BYTES (64 KiB)
    suite.submit(good[1:])
    for each in good:
        assert suite.receipt_of(each.event_id).status.value.startswith("ACCEPTED")
    letter = suite.dead_letter_at(topic, big)
    assert letter.error_type == "oversized" and letter.original_size == 200_000
    assert len(letter.original_value or b"") < 200_000 and letter.original_sha256


# --- 2. bounds on what a client controls ------------------------------------------------------------------


def test_a_flood_of_long_plate_readings_on_one_plate_does_not_stop_plate_resolution(suite: Suite) -> None:
    flood = [PlateOdometerReading(
        event_id=f"adv-flood-{n}", plate="9-NOT-999", odometer_value=1_000 + n, observed_at=ms(NOW) - n,
        submitted_at=ms(NOW), provider_id=OTHER_GARAGE, provider_kind=ProviderKind.GARAGE,
        origin=Origin.WORKSHOP, work_description="x" * 2_000,
    ) for n in range(200)]  # fmt: skip
    suite.submit(flood)
    plain = replace(flood[0], event_id="adv-plate-plain", plate=PLATE, work_description="tyres",
                    odometer_value=20_000, provider_id=GARAGE)  # fmt: skip
    suite.submit([plain])
    started = time.monotonic()
    receipt = suite.receipt_of(plain.event_id)
    assert receipt.vin == VINS[0] and time.monotonic() - started < 30


def test_one_vin_flooded_with_readings_does_not_starve_the_others(suite: Suite) -> None:
    suite.submit(reading(f"adv-vflood-{n}", VINS[2], 1_000 + n, 1_000 - n / 2) for n in range(1_500))
    other = reading("adv-after-flood", VINS[3], 12_000, 1)
    suite.submit([other])
    started = time.monotonic()
    assert suite.receipt_of(other.event_id).event_id == other.event_id
    assert time.monotonic() - started < 30


# --- 3. nobody speaks for another provider ----------------------------------------------------------------


def test_a_provider_in_no_registry_is_rejected(suite: Suite) -> None:
    stranger = reading("adv-stranger", VINS[4], 30_000, 2, provider_id="0999999999")
    suite.submit([stranger])
    receipt = suite.receipt_of(stranger.event_id)
    assert receipt.status.value == "REJECTED"
    assert "PROVIDER_NOT_REGISTERED" in {issue.code for issue in receipt.issues}


def test_a_garage_cannot_claim_to_be_an_inspection_body_or_a_connected_car(suite: Suite) -> None:
    body = {"request_id": "adv-claim", "vin": VINS[4], "odometer_value": 31_000,
            "observed_at": (NOW - timedelta(hours=2)).isoformat(), "work_description": "check"}  # fmt: skip
    for claim in ({"provider_kind": "INSPECTION_BODY"}, {"origin": "CONNECTED_VEHICLE"}):
        answer = suite.gateway.call("POST", "/observations", ME, {**body, **claim})
        assert answer.status == 403, answer


def test_an_integrator_on_kafka_cannot_speak_for_another_provider(suite: Suite) -> None:
    topic = ingest_topic(suite.p.topics, "acme", "odometer.readings")
    own = reading("adv-acme-own", VINS[5], 40_000, 3)
    theirs = reading("adv-acme-theirs", VINS[5], 41_000, 2, provider_id=OTHER_GARAGE)
    suite.produce(topic, b"any", encode(own))
    forged = suite.produce(topic, VINS[5].encode(), encode(theirs))
    assert suite.receipt_of(own.event_id).vin == VINS[5]
    assert suite.dead_letter_at(topic, forged).error_type == "not-bound"


# --- 4. HTTP done right -----------------------------------------------------------------------------------


def http(url: str, method: str = "GET", key: str | None = None, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


def test_malformed_parameters_and_bodies_are_400s_naming_the_field(suite: Suite) -> None:
    label = f"{suite.worker_url}/vehicles/{VINS[1]}/ok-label?advertised_km="
    for bad in ("%C2%B2", "123456789012"):  # "²" and a 12-digit value were 500s
        status, _, body = http(label + bad, key=DEALER)
        assert status == 400 and b"advertised_km" in body, body
    status, _, _ = http(f"{suite.worker_url}/vehicles/{VINS[1]}%0A/history", key=DEALER)  # a trailing newline
    assert status == 400
    observe = suite.gateway.url + "/observations"
    status, _, body = http(observe, "POST", ME, b"\xff\xfe not utf-8", {"Content-Type": "application/json"})
    assert status == 400 and b"body" in body
    status, _, body = http(observe, "POST", ME, b"{}", {"Content-Type": "application/json; charset=klingon"})
    assert status == 400
    newline = json.dumps({"request_id": "adv-nl\n", "vin": VINS[1], "odometer_value": 1,
                          "observed_at": NOW.isoformat()}).encode()  # fmt: skip
    status, _, body = http(observe, "POST", ME, newline, {"Content-Type": "application/json"})
    assert status == 400 and b"request_id" in body


def test_another_providers_request_reads_exactly_as_an_unknown_one(suite: Suite) -> None:
    body = {"request_id": "adv-mine", "vin": VINS[6], "odometer_value": 50_000,
            "observed_at": (NOW - timedelta(hours=1)).isoformat(), "work_description": "oil"}  # fmt: skip
    accepted = suite.gateway.call("POST", "/observations", ME, body)
    assert accepted.status == 202
    suite.sent += 1
    mine = accepted.body["request_id"]
    assert suite.gateway.call("GET", f"/observations/{mine}?wait_s=20", ME).body["status"] != "PENDING"
    unknown_id = "00000000-0000-5000-8000-000000000000"
    theirs = suite.gateway.call("GET", f"/observations/{mine}", OTHER)
    unknown = suite.gateway.call("GET", f"/observations/{unknown_id}", OTHER)
    assert (theirs.status, theirs.body) == (200, {"request_id": mine, "status": "PENDING"})
    assert (unknown.status, unknown.body) == (200, {"request_id": unknown_id, "status": "PENDING"})
    assert suite.gateway.call("POST", f"/observations/{mine}/confirm", OTHER).status == 404
    assert suite.gateway.call("POST", f"/observations/{unknown_id}/confirm", OTHER).status == 404


def test_a_refused_plate_readings_receipt_names_no_vehicle(suite: Suite) -> None:
    refused = PlateOdometerReading(event_id="adv-plate-refused", plate=PLATE, odometer_value=1,
                                   observed_at=ms(NOW - timedelta(days=20_000)), submitted_at=ms(NOW),
                                   provider_id="0999999999", provider_kind=ProviderKind.GARAGE,
                                   origin=Origin.WORKSHOP, work_description="x")  # fmt: skip
    suite.submit([refused])
    receipt = suite.receipt_of(refused.event_id)
    assert receipt.status.value == "REJECTED" and receipt.vin == ""
    assert VINS[0] not in json.dumps([issue.message for issue in receipt.issues])


def test_an_incomplete_request_is_closed_within_the_idle_timeout(suite: Suite) -> None:
    for url in (suite.gateway.url, suite.worker_url):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
            started = time.monotonic()
            assert conn.recv(1024) == b""  # closed by the server (a timeout here would raise)
            assert time.monotonic() - started < 10


def test_faust_pages_are_closed_and_every_answer_carries_the_security_headers(suite: Suite) -> None:
    for path in ("/router/", "/table/vehicles/x/"):
        status, headers, _ = http(suite.worker_url + path)
        assert status in (401, 404), path
        assert all(name in headers for name in SECURITY_HEADERS), (path, headers)
    for url in (f"{suite.worker_url}/vehicles/{VINS[1]}/history", suite.gateway.url + "/observations/x"):
        for key in (None, "wrong-key", DEALER):
            _, headers, _ = http(url, key=key)
            assert all(name in headers for name in SECURITY_HEADERS), (url, key, headers)


def test_a_forged_forward_marker_is_refused(suite: Suite) -> None:
    status, _, body = http(f"{suite.worker_url}/vehicles/{VINS[1]}/history",
                           headers={"X-Carpass-Forwarded": "operator;0;forged"})  # fmt: skip
    assert status == 403, body


def test_guessing_keys_is_throttled(suite: Suite) -> None:
    """On a gateway of its own: the throttle counts per client address, and every test here is 127.0.0.1."""
    gateway = start_gateway(suite.p, str(suite.p.data_dir / "keys.json"))
    statuses = [gateway.call("GET", "/observations/x", f"guess-{n}").status for n in range(60)]
    assert statuses[:20] == [401] * 20 and 429 in statuses[20:]
    assert gateway.call("GET", "/observations/x", ME).status == 429  # even a good key, from that address


# --- the control ------------------------------------------------------------------------------------------


def test_zz_a_plain_reading_still_gets_its_receipt_and_every_input_is_answered(suite: Suite) -> None:
    plain = reading("adv-control", VINS[9], 15_000, 1)
    started = time.monotonic()
    suite.submit([plain])
    suite.receipt_of(plain.event_id)
    assert time.monotonic() - started < 15
    topics = suite.p.topics
    inputs = [topics.readings, topics.plate_readings, topics.corrections,
              ingest_topic(topics, "acme", "odometer.readings")]  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        receipts = {r.event_id for r in records_of(read_all(suite.p.bootstrap, topics.receipts), Receipt)}
        dead = records_of(read_all(suite.p.bootstrap, topics.dead_letters), DeadLetter)
        letters = {(d.topic, d.partition, d.offset) for d in dead}
        unanswered, counted = [], 0
        for topic in inputs:
            for message in read_all(suite.p.bootstrap, topic):
                counted += 1
                if (topic, message.partition(), message.offset()) in letters:
                    continue
                try:
                    event_id = decode(message.value()).event_id  # type: ignore[union-attr]
                except Exception:
                    event_id = None
                if event_id not in receipts:
                    unanswered.append((topic, message.partition(), message.offset(), event_id))
        if not unanswered or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert unanswered == [], f"{len(unanswered)} of {counted} inputs with neither a receipt nor a dead letter"
    assert counted >= suite.sent  # what this run sent (and nothing of it was missed by the count)
    assert key_of(plain) == VINS[9]
