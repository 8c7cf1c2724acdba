"""The query API of a real worker (projections installed) on the real broker: every route doing its job,
every role against every route (R15), the compacted view topics, and a replay from offset 0 by a second
worker with a new app id and an empty disk that rebuilds the same views byte for byte.

One worker serves the whole module (module-scoped fixture); the replay test, last, adds a second one.
Dates are relative to today: the API evaluates the OK label at the wall-clock day.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from projections.api import ROUTES, Route
from projections.certificates import CertificateSigner, IssuedCertificate
from schemas.catalog import AnyRecord
from schemas.codec import decode
from schemas.records import (
    CertificateIssued,
    OdometerReading,
    Origin,
    ProviderKind,
    RegistrationKind,
    VehicleRegistration,
)
from schemas.views import CertificateView, OkLabelView
from streams.domain.calendar import brussels_day, date_of, day_of
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_topic

pytestmark = pytest.mark.integration

GARAGE = "0412345678"
OTHER_GARAGE = "0498765432"
CLEAN = "WVWZZZ1KZAW100001"  # registered 6 years ago, a reading a year: the OK label
IMPORTED = "WVWZZZ1KZAW100002"  # the same history, imported second-hand: R12.7
ROLLED = "ZFA31200000100003"  # 60,000 km then 21,000 km: a rollback, R12.1
REPLACED = "VF1RFB00000100004"  # odometer replaced: the page marks it at the replacement reading
UNKNOWN = "WVWZZZ1KZAW999999"  # never seen
VINS = (CLEAN, IMPORTED, ROLLED, REPLACED)
KEYS = {
    "provider": {"role": "provider", "key": "it-provider-key", "provider_id": GARAGE},
    "dealer": {"role": "dealer", "key": "it-dealer-key"},
    "operator": {"role": "operator", "key": "it-operator-key"},
    "public": {"role": "public", "key": "it-public-key"},
}
ALLOWED = {
    "history": {"dealer", "operator"},
    "ok_label": {"dealer", "operator"},
    "quality": {"provider", "operator"},
    "trusted": {"provider", "dealer", "operator", "public", "none", "unknown-key"},  # anyone (R10)
    "report": {"operator"},
    "issue": {"operator"},
    "verify": {"provider", "dealer", "operator", "public"},
    "document": {"provider", "dealer", "operator", "public"},
    "page": {"dealer", "operator"},
    "routing": {"operator"},
    "verify_page": {"provider", "dealer", "operator", "public", "none", "unknown-key"},  # anyone (R16)
    "keys": {"provider", "dealer", "operator", "public", "none", "unknown-key"},
}
TODAY = date_of(brussels_day(int(datetime.now(UTC).timestamp() * 1000)))  # the API's query day
FIRST_REGISTRATION = TODAY - timedelta(days=6 * 365)


def ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC).timestamp() * 1000)


def reg(vin: str, **changes: Any) -> VehicleRegistration:
    fields: dict[str, Any] = {
        "event_id": f"reg-{vin}", "vin": vin, "kind": RegistrationKind.FIRST_REGISTRATION,
        "effective_at": ms(FIRST_REGISTRATION), "first_registration_date": day_of(FIRST_REGISTRATION),
        "imported_used": False, "make": "Volkswagen", "model": "Golf", "vehicle_category": "M1",
        "euro_norm": "EURO 6d", "co2_g_km": 118, "fuel_type": "PETROL", "electric_motor": False,
    }  # fmt: skip
    fields.update(changes)
    return VehicleRegistration(**fields)


def read(vin: str, index: int, km: int, day: date, provider: str = GARAGE, **changes: Any) -> OdometerReading:
    at = ms(day)
    return OdometerReading(
        event_id=f"{vin}-{index}", vin=vin, odometer_value=km, observed_at=at, submitted_at=at + 600_000,
        provider_id=provider, provider_kind=ProviderKind.GARAGE, origin=Origin.WORKSHOP,
        work_description="periodic service", **changes,
    )  # fmt: skip


def yearly_day(year: int) -> date:
    """The reading of year ``year`` after the first registration (the last one ~5 months ago)."""
    return FIRST_REGISTRATION + timedelta(days=200 + 365 * year)


def registrations() -> list[AnyRecord]:
    return [reg(CLEAN), reg(IMPORTED, imported_used=True, import_country="DE"), reg(ROLLED), reg(REPLACED)]


def readings() -> list[AnyRecord]:
    out: list[AnyRecord] = []
    for year in range(6):
        out.append(read(CLEAN, year, 14_000 * (year + 1), yearly_day(year)))
        out.append(read(IMPORTED, year, 15_000 * (year + 1), yearly_day(year), provider=OTHER_GARAGE))
    for year, km in enumerate((20_000, 40_000, 60_000, 21_000, 36_000, 51_000)):
        out.append(read(ROLLED, year, km, yearly_day(year)))
    for year, km in enumerate((20_000, 40_000, 60_000)):
        out.append(read(REPLACED, year, km, yearly_day(year)))
    out.append(read(REPLACED, 3, 500, yearly_day(3), odometer_replaced=True))
    out += [read(REPLACED, 4, 15_500, yearly_day(4)), read(REPLACED, 5, 30_500, yearly_day(5))]
    return out


# --- HTTP -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def call(port: int, method: str, path: str, who: str | None = None, raw_key: str | None = None,
         headers: dict[str, str] | None = None) -> Answer:  # fmt: skip
    headers = dict(headers or {})
    key = raw_key or (KEYS[who]["key"] if who else None)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers=headers,
                                     data=b"" if method == "POST" else None)  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.headers.get_content_type(), response.read().decode())
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, refused.headers.get_content_type(), refused.read().decode())


def poll(port: int, method: str, path: str, who: str, want: int = 200, timeout_s: float = 30.0) -> Answer:
    """Ask until the answer has status ``want`` (views and tables fill asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = call(port, method, path, who)
        if answer.status == want or time.monotonic() > deadline:
            return answer
        time.sleep(0.25)


# --- the worker -----------------------------------------------------------------------------------------


@dataclass
class World:
    p: Pipeline
    port: int
    data: Path
    certificate_number: str = ""
    certificate_document: dict[str, Any] | None = None


def latest_by_key(messages: list[Any]) -> dict[str, bytes]:
    return {m.key().decode(): m.value() for m in messages}


def views_complete(messages: list[Any]) -> bool:
    """Every vehicle's OK-label view counts all its readings."""
    latest = latest_by_key(messages)
    return all(k in latest and decode(latest[k], OkLabelView).reading_count == 6 for k in VINS)


IDLE_S = 3.0
"""The workers' ``CARPASS_HTTP_IDLE_TIMEOUT_S`` here (10 s by default)."""


@pytest.fixture(scope="module")
def world(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("api")
    keys_file, key_file = data / "api-keys.json", data / "signing-key.pem"
    keys_file.write_text(json.dumps({"keys": [{"name": n, **e} for n, e in KEYS.items()]}))
    key_file.write_bytes(CertificateSigner.generate().private_pem())
    # Every route is tried with a wrong key (test_every_role_against_every_route): more failed
    # authentications from one address than the throttle's default burst lets through (20).
    with pipeline(kafka_bootstrap, data, api_keys_file=str(keys_file),
                  certificate_signing_key_file=str(key_file),
                  http_idle_timeout_s=str(IDLE_S), http_auth_failures_burst="200") as p:  # fmt: skip
        feed = Feeder(p)
        worker = p.start("api", projections=True)
        feed.records(registrations())
        p.wait_metric(worker, 'carpass_events_in_total{origin="",topic="vehicle.registrations"}', 4)
        feed.records(readings())
        read_topic(kafka_bootstrap, p.topics.name("carpass.ok-labels"), views_complete, check=p.assert_alive)
        yield World(p, p.ports[worker], data)


def path_of(route: Route, vin: str = CLEAN, provider: str = GARAGE, number: str = "") -> str:
    path = route.path.replace("{vin}", vin).replace("{id}", provider).replace("{number}", number)
    return path + ("?advertised_km=90000" if route.name == "ok_label" else "")


# --- each route's job -----------------------------------------------------------------------------------


def test_history_lists_the_readings_and_the_judgment(world: World) -> None:
    answer = call(world.port, "GET", f"/vehicles/{CLEAN}/history", "dealer")
    assert answer.status == 200, answer.text
    body = answer.json()
    assert body["vin"] == CLEAN and body["judgment"] == "LOGICAL"
    assert [r["odometer_value"] for r in body["readings"]] == [14_000 * n for n in range(1, 7)]
    rolled = call(world.port, "GET", f"/vehicles/{ROLLED}/history", "operator").json()
    assert rolled["judgment"] != "LOGICAL" and any(a["kind"] == "ROLLBACK" for a in rolled["open_anomalies"])
    missing = call(world.port, "GET", f"/vehicles/{UNKNOWN}/history", "dealer")
    assert missing.status == 404 and UNKNOWN not in missing.text


def label(world: World, vin: str, km: int) -> dict[str, Any]:
    answer = call(world.port, "GET", f"/vehicles/{vin}/ok-label?advertised_km={km}", "dealer")
    assert answer.status == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["vin"] == vin and body["query_date"] == TODAY.isoformat()
    return body


def test_ok_label_applies_r12_at_query_time(world: World) -> None:
    clean = label(world, CLEAN, 85_000)
    assert clean["eligible"] is True and clean["denial_reasons"] == [], clean
    assert clean["most_recent_km"] == 84_000 and clean["reading_count"] == 6
    below = label(world, CLEAN, 80_000)
    assert below["eligible"] is False and below["denial_reasons"] == ["ADVERTISED_BELOW_REGISTRY"]
    assert label(world, IMPORTED, 95_000)["denial_reasons"] == ["IMPORTED_USED"]
    assert label(world, ROLLED, 60_000)["denial_reasons"] == ["ANOMALY_IN_HISTORY"]
    assert label(world, UNKNOWN, 1)["denial_reasons"] == ["VIN_NOT_REGISTERED"]
    bad = call(world.port, "GET", f"/vehicles/{CLEAN}/ok-label?advertised_km=lots", "dealer")
    assert bad.status == 400 and CLEAN not in bad.text


def test_provider_sees_its_own_quality_only(world: World) -> None:
    own = poll(world.port, "GET", f"/providers/{GARAGE}/quality", "provider")
    assert own.status == 200, own.text
    deadline = time.monotonic() + 20
    while sum(y["readings"] for y in own.json()["quality"]["years"]) < 18 and time.monotonic() < deadline:
        time.sleep(0.25)  # the quality agent folds the receipts on its own time
        own = call(world.port, "GET", f"/providers/{GARAGE}/quality", "provider")
    quality = own.json()["quality"]
    assert quality["provider_id"] == GARAGE
    assert sum(y["readings"] for y in quality["years"]) == 18  # CLEAN, ROLLED and REPLACED: 6 each
    assert all(y["trend_breaks"] == 0 for y in quality["years"])  # a rollback is not the garage's fault
    other = call(world.port, "GET", f"/providers/{OTHER_GARAGE}/quality", "provider")
    assert other.status == 403 and OTHER_GARAGE not in other.text and GARAGE not in other.text
    operator = poll(world.port, "GET", f"/providers/{OTHER_GARAGE}/quality", "operator")
    assert operator.status == 200 and operator.json()["quality"]["provider_id"] == OTHER_GARAGE


def test_the_provider_lists_read_every_providers_tally(world: World) -> None:
    """R10's list for anyone and R14's report for the staff, from every provider's tally (the quality
    table's changelog, whichever worker owns each provider)."""
    this_year = date_of(brussels_day(int(time.time() * 1000))).year
    trusted = call(world.port, "GET", f"/providers/trusted?year={this_year + 1}")  # no key
    assert trusted.status == 200, trusted.text
    assert GARAGE in [p["provider_id"] for p in trusted.json()["providers"]]  # 18 readings, no break
    report = call(world.port, "GET", f"/providers/report?year={this_year}", "operator")
    assert report.status == 200, report.text
    rows = {p["provider_id"]: p for p in report.json()["providers"]}
    assert GARAGE not in rows and rows and all(p["finding"] for p in rows.values())
    assert {p["finding"] for p in rows.values()} <= {"SILENT", "FEW_READINGS", "HIGH_TREND_BREAK_RATE"}
    as_csv = call(world.port, "GET", f"/providers/report?year={this_year}&format=csv", "operator")
    assert as_csv.status == 200 and as_csv.content_type == "text/csv"
    assert len(as_csv.text.splitlines()) == len(rows) + 1 and as_csv.text.startswith("provider_id,name,")


def test_an_issued_certificate_verifies(world: World, kafka_bootstrap: str) -> None:
    issued = call(world.port, "POST", f"/vehicles/{CLEAN}/certificates", "operator")
    assert issued.status == 201, issued.text
    cert = issued.json()
    number = cert["number"]
    assert cert["vin"] == CLEAN and cert["signature"] and cert["issuer"] == "operator:operator"
    # Recorded on its contract topic, kept forever: the record holds the document.
    topic = world.p.topics.certificates_issued
    records = {m.key().decode(): decode(m.value(), CertificateIssued)
               for m in read_topic(kafka_bootstrap, topic, lambda m: len(m) >= 1, 20)}  # fmt: skip
    assert IssuedCertificate.from_record(records[number]).to_json_obj() == cert
    world.certificate_document = cert
    checked = poll(world.port, "GET", f"/certificates/{number}", "public")
    assert checked.status == 200, checked.text
    body = checked.json()
    assert body["authentic"] is True and body["valid_today"] is True
    assert body["certificate"] == cert and "BEGIN PUBLIC KEY" in body["public_key"]
    world.certificate_number = number
    unknown = call(world.port, "GET", "/certificates/00000000-0000-5000-8000-000000000000", "public")
    assert unknown.status == 404
    page = call(world.port, "GET", f"/verify/{number}")  # anyone, no key (R16)
    assert page.status == 200 and "<strong>Authentic</strong>" in page.text and CLEAN in page.text
    keys = call(world.port, "GET", "/keys").json()["keys"]
    assert [k["key_id"] for k in keys if k["current"]] == [cert["key_id"]]


def test_a_repeated_issuance_gets_the_first_certificate(world: World) -> None:
    path, key = f"/vehicles/{REPLACED}/certificates", {"Idempotency-Key": "sale-2026-12-03"}
    first = call(world.port, "POST", path, "operator", headers=key)
    assert first.status == 201, first.text
    again = call(world.port, "POST", path, "operator", headers=key)
    assert again.status == 200 and again.json() == first.json()


def test_certificate_page_is_html_with_the_chart(world: World) -> None:
    answer = call(world.port, "GET", f"/vehicles/{REPLACED}/certificate.html", "dealer")
    assert answer.status == 200 and answer.content_type == "text/html"
    page = answer.text
    assert REPLACED in page and "<svg" in page and '<table id="readings">' in page
    assert page.count('<tr class="row') == 6 and "The odometer was replaced" in page
    dots = re.findall(r'<circle class="reading[^"]*" cx="([0-9.]+)"', page)
    marker = re.search(r'<g class="replacement"><line x1="([0-9.]+)"', page)
    assert marker is not None and float(marker.group(1)) == float(dots[3])  # at the replacement reading
    (world.data / "certificate-replaced.html").write_text(page)


# --- access control (R15) -------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_role_against_every_route(world: World, route: Route) -> None:
    number = world.certificate_number or "00000000-0000-5000-8000-000000000000"
    path = path_of(route, number=number)
    seen: dict[str, int] = {}
    for who in ("none", "unknown-key", *KEYS):
        if who == "none":
            answer = call(world.port, route.method, path)
        elif who == "unknown-key":
            answer = call(world.port, route.method, path, raw_key="not-a-key")
        else:
            answer = call(world.port, route.method, path, who)
        seen[who] = answer.status
        if answer.status >= 400:
            assert answer.content_type == "application/json" and "error" in answer.json()
            for secret in (*VINS, GARAGE, OTHER_GARAGE):
                assert secret not in answer.text, (who, answer.text)
    allowed = ALLOWED[route.name]
    expected = {who: 401 for who in ("none", "unknown-key") if who not in allowed}
    expected |= {who: 403 for who in KEYS if who not in allowed}
    assert {who: status for who, status in seen.items() if who in expected} == expected
    assert all(seen[who] in (200, 201) for who in allowed), seen  # the number exists once issued
    if route.name == "quality":  # a provider key is bound to its own provider id
        other = call(world.port, "GET", path_of(route, provider=OTHER_GARAGE), "provider")
        assert other.status == 403 and OTHER_GARAGE not in other.text


def test_the_workers_port_closes_a_half_sent_request_and_keeps_serving(world: World) -> None:
    """Slowloris: a client that sends part of a request head and waits is closed after the idle deadline;
    health and the API are served meanwhile (the same port)."""
    with socket.create_connection(("127.0.0.1", world.port), timeout=30) as slow:
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: worker\r\nX-Slow: ")
        started = time.monotonic()
        assert call(world.port, "GET", f"/vehicles/{CLEAN}/history", "dealer").status == 200
        assert slow.recv(65536) == b""  # closed by the worker, not by the timeout of this socket
        assert IDLE_S - 0.5 <= time.monotonic() - started < 20


def test_refusals_do_not_reveal_whether_a_vehicle_exists(world: World) -> None:
    for vin in (CLEAN, UNKNOWN):
        answers = [call(world.port, "GET", f"/vehicles/{vin}/history", who) for who in ("public", "provider")]
        answers.append(call(world.port, "GET", f"/vehicles/{vin}/history"))
        assert [a.status for a in answers] == [403, 403, 401]
        assert all(vin not in a.text for a in answers)


# --- the compacted view topics --------------------------------------------------------------------------


def test_view_topics_hold_each_vehicles_views(world: World, kafka_bootstrap: str) -> None:
    topics = world.p.topics
    certificates = latest_by_key(read_topic(
        kafka_bootstrap, topics.name("carpass.certificates"),
        lambda m: set(latest_by_key(m)) >= set(VINS), timeout_s=20,
    ))  # fmt: skip
    labels = latest_by_key(read_topic(kafka_bootstrap, topics.name("carpass.ok-labels"), views_complete, 20))
    for vin in VINS:
        cert = decode(certificates[vin], CertificateView)
        assert cert.vin == vin and len(cert.readings) == 6
    assert decode(labels[CLEAN], OkLabelView).eligible is True
    assert decode(labels[IMPORTED], OkLabelView).denial_reasons[0].value == "IMPORTED_USED"
    assert decode(labels[ROLLED], OkLabelView).denial_reasons[0].value == "ANOMALY_IN_HISTORY"
    assert UNKNOWN not in certificates and UNKNOWN not in labels


# --- replay from offset 0 -------------------------------------------------------------------------------


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends"})
    try:
        return {i: consumer.get_watermark_offsets(TopicPartition(topic, i), timeout=10)[1]
                for i in range(partitions)}  # fmt: skip
    finally:
        consumer.close()


def read_after(
    bootstrap: str, topic: str, starts: dict[int, int], done: Callable[[dict[str, bytes]], bool],
    timeout_s: float,
) -> dict[str, bytes]:  # fmt: skip
    """The latest value per key among the messages of ``topic`` at or after ``starts``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "replay-check",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 50})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    latest: dict[str, bytes] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while not done(latest) and time.monotonic() < deadline:
            for m in consumer.consume(500, 0.2):
                if m.error() is None:
                    latest[m.key().decode()] = m.value()
    finally:
        consumer.close()
    return latest


def test_a_replay_from_offset_0_rebuilds_the_same_views(world: World, kafka_bootstrap: str) -> None:
    p, topics = world.p, world.p.topics
    names = [topics.name("carpass.certificates"), topics.name("carpass.ok-labels")]
    live = {t: latest_by_key(read_topic(kafka_bootstrap, t, lambda m: set(latest_by_key(m)) >= set(VINS), 20))
            for t in names}  # fmt: skip
    ends = {t: end_offsets(kafka_bootstrap, t, p.partitions) for t in names}
    paths = [f"/vehicles/{v}/{route}" for v in VINS for route in ("history", "ok-label?advertised_km=70000")]
    before = {path: call(world.port, "GET", path, "operator").text for path in paths}

    data = world.data / "replay"
    data.mkdir()
    replay = Pipeline(p.bootstrap, data, partitions=p.partitions, run_id=p.run_id,
                      extra={**p.extra, "CARPASS_APP_ID": f"{p.app_id}-replay"})  # fmt: skip
    try:
        index = replay.start("replay", projections=True)
        port = replay.ports[index]
        for topic in names:
            want = {vin: live[topic][vin] for vin in VINS}

            def rebuilt(seen: dict[str, bytes], want: dict[str, bytes] = want) -> bool:
                return all(seen.get(vin) == value for vin, value in want.items())

            got = read_after(kafka_bootstrap, topic, ends[topic], rebuilt, 60)
            replay.assert_alive()
            for vin in VINS:
                assert vin in got, f"the replay published no {topic} record for {vin}"
                assert got[vin] == want[vin], (vin, decode(got[vin]), decode(want[vin]))
        for path in paths:
            again = poll(port, "GET", path, "operator")
            assert again.status == 200 and again.text == before[path], path
        number = world.certificate_number
        if number:  # certificates.issued is read again too: the same certificate, byte for byte
            checked = poll(port, "GET", f"/certificates/{number}", "public")
            assert checked.status == 200 and checked.json()["authentic"] is True
            assert checked.json()["certificate"] == world.certificate_document
    finally:
        replay.stop_all()
