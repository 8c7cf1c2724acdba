"""The gateway's HTTP shell over an in-memory ``publish`` (no broker): what reaches Kafka, and what not."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from schemas.codec import Codec, decode
from schemas.records import Issue, OdometerReading, ReadingConfirmation, Receipt, ReceiptStatus, Severity
from streams.gateway.kafka import ProduceError
from streams.gateway.service import Gateway
from streams.http.auth import ApiKeys
from streams.settings import Settings

GARAGE, OTHER = "0412345678", "0498765432"
VIN = "WVWZZZ1KZAW200001"
HEADERS = {"Authorization": "Bearer mine"}
OTHER_HEADERS = {"Authorization": "Bearer theirs"}
BODY = {
    "request_id": "wo-1", "vin": VIN, "odometer_value": 960_000, "observed_at": "2026-11-23T09:30:00Z",
    "provider_kind": "GARAGE", "origin": "WORKSHOP",
}  # fmt: skip


class Broker:
    """Records what was published; ``fail`` makes the next publish raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.fail = False

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        if self.fail:
            raise ProduceError("broker down")
        self.sent.append((topic, key, value))


Test = Callable[[TestClient[Any, Any], Gateway, Broker], Awaitable[None]]


def run(test: Test, monotonic: Callable[[], float] = time.monotonic, **settings: Any) -> None:
    async def main() -> None:
        broker = Broker()
        keys = ApiKeys.from_entries([
            {"role": "provider", "provider_id": GARAGE, "provider_kind": "GARAGE", "key": "mine"},
            {"role": "provider", "provider_id": OTHER, "provider_kind": "GARAGE", "key": "theirs"},
            {"role": "provider", "provider_id": "0400000009", "key": "unkinded"},
        ])  # fmt: skip
        base = dataclasses.replace(Settings.from_env({}), topic_prefix="t.", **settings)
        gateway = Gateway(base, keys, broker.publish, Codec(), clock_ms=lambda: 1_763_890_000_000,
                          monotonic=monotonic)  # fmt: skip
        async with TestClient(TestServer(gateway.application())) as client:
            await test(client, gateway, broker)

    asyncio.run(main())


def receipt_for(event_id: str, provider: str = GARAGE) -> Receipt:
    issue = Issue("E885DC2470778", "TREND_BREAK", Severity.WARNING, "did you mean 96000?", 96_000)
    return Receipt(event_id, VIN, provider, ReceiptStatus.ACCEPTED_WITH_WARNINGS, (issue,), 1_763_890_001_000)


def test_an_observation_is_produced_once_and_a_changed_body_is_409() -> None:
    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        first = await client.post("/observations", json=BODY, headers=HEADERS)
        assert first.status == 202
        request_id = (await first.json())["request_id"]
        ((topic, key, value),) = broker.sent
        assert (topic, key) == ("t.odometer.readings", VIN)
        assert decode(value, OdometerReading).event_id == request_id
        again = await client.post("/observations", json=BODY, headers=HEADERS)
        assert again.status == 202 and (await again.json())["request_id"] == request_id
        assert len(broker.sent) == 1  # this instance knows it is on Kafka already
        changed = await client.post("/observations", json={**BODY, "odometer_value": 96_000}, headers=HEADERS)
        assert changed.status == 409 and len(broker.sent) == 1

    run(test)


def test_nothing_is_accepted_when_the_broker_does_not_acknowledge() -> None:
    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        broker.fail = True
        refused = await client.post("/observations", json=BODY, headers=HEADERS)
        assert refused.status == 503 and "retry" in (await refused.json())["error"]
        broker.fail = False
        retried = await client.post("/observations", json=BODY, headers=HEADERS)
        assert retried.status == 202 and len(broker.sent) == 1  # the retry is not mistaken for a repeat

    run(test)


def test_a_long_poll_is_woken_by_the_receipt() -> None:
    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        posted = await client.post("/observations", json=BODY, headers=HEADERS)
        request_id = (await posted.json())["request_id"]
        waiting = asyncio.create_task(client.get(f"/observations/{request_id}?wait_s=5", headers=HEADERS))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        gateway.add_receipts([receipt_for(request_id)])
        answer = await asyncio.wait_for(waiting, 2)
        body = await answer.json()
        assert body["status"] == "ACCEPTED_WITH_WARNINGS" and body["issues"][0]["suggested_value"] == 96_000
        quick = await client.get(f"/observations/{request_id}?wait_s=0.05", headers=OTHER_HEADERS)
        unknown = await client.get(f"/observations/{request_id[:-1]}0?wait_s=0.05", headers=OTHER_HEADERS)
        assert quick.status == unknown.status == 200 and VIN not in await quick.text()
        assert (await quick.json())["status"] == (await unknown.json())["status"] == "PENDING"  # one answer
        repeat = await client.post("/observations", json=BODY, headers=HEADERS)
        assert (await repeat.json())["status"] == "ACCEPTED_WITH_WARNINGS"

    run(test)


def test_corrections_and_confirmations_need_the_owner() -> None:
    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        fix = {"request_id": "fix-1", "error_number": "E885DC2470778", "corrected_value": 96_000}
        unknown = await client.post("/corrections", json=fix, headers=HEADERS)
        assert unknown.status == 404  # neither in the index nor a vin in the body
        gateway.add_receipts([receipt_for("0b3e2c1a-0000-5000-8000-000000000001")])
        theirs = await client.post("/corrections", json=fix, headers=OTHER_HEADERS)
        assert theirs.status == unknown.status == 404  # another's number reads as an unknown one
        assert await theirs.json() == await unknown.json()
        other_vin = {**fix, "vin": "WVWZZZ1KZAW999999"}
        wrong_vin = await client.post("/corrections", json=other_vin, headers=HEADERS)
        assert wrong_vin.status == 400
        assert not broker.sent
        accepted = await client.post("/corrections", json=fix, headers=HEADERS)
        assert accepted.status == 202 and broker.sent[-1][:2] == ("t.odometer.corrections", VIN)

        observation = "0b3e2c1a-0000-5000-8000-000000000001"
        path = f"/observations/{observation}/confirm"
        assert (await client.post(path, headers=OTHER_HEADERS)).status == 404  # as if unknown
        assert (await client.post("/observations/0b3e2c1a-0000-5000-8000-000000000009/confirm",
                                  headers=HEADERS)).status == 404  # fmt: skip
        confirmed = await client.post(path, json={"note": "new cluster"}, headers=HEADERS)
        assert confirmed.status == 202
        topic, key, value = broker.sent[-1]
        record = decode(value, ReadingConfirmation)
        assert (topic, key, record.confirmed_event_id, record.provider_id) == (
            "t.odometer.confirmations", VIN, observation, GARAGE
        )

    run(test)


def test_rate_limit_per_provider() -> None:
    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        path = "/observations/0b3e2c1a-0000-5000-8000-000000000001"
        answers = [await client.get(path, headers=HEADERS) for _ in range(4)]
        assert [a.status for a in answers] == [200, 200, 200, 429]
        assert answers[-1].headers["Retry-After"] == "10"
        assert (await client.get(path, headers=OTHER_HEADERS)).status == 200
        assert (await client.get("/health")).status == 200

    run(test, gateway_rate_per_s=0.1, gateway_burst=3)


def test_a_body_that_is_not_utf8_or_an_id_with_a_newline_is_a_400_naming_the_field() -> None:
    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        latin = json.dumps({**BODY, "work_description": "réparation"}, ensure_ascii=False).encode("latin-1")
        for content_type in ("application/json", "application/json; charset=klingon"):
            headers = {**HEADERS, "Content-Type": content_type}
            response = await client.post("/observations", data=latin, headers=headers)
            assert response.status == 400 and "body" in await response.text()
        newline = await client.post("/observations", json={**BODY, "request_id": "wo-1\n"}, headers=HEADERS)
        assert newline.status == 400 and "request_id" in await newline.text()
        assert newline.headers["X-Content-Type-Options"] == "nosniff"
        assert newline.headers["Cache-Control"] == "no-store"
        assert broker.sent == []

    run(test)


def test_a_garage_cannot_claim_another_kind_or_origin() -> None:
    """The kind and origin set the reading's weight (an inspection body's outvotes a garage's): they are the
    key's. A claim of another is a 403 and nothing reaches Kafka; leaving them out takes the key's."""

    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        for claim in ({"provider_kind": "INSPECTION_BODY"}, {"origin": "INSPECTION"},
                      {"origin": "CONNECTED_VEHICLE"}, {"origin": "FOREIGN_HISTORY"}):  # fmt: skip
            refused = await client.post("/observations", json={**BODY, **claim}, headers=HEADERS)
            assert refused.status == 403, claim
            assert next(iter(claim)) in (await refused.json())["error"]
        assert broker.sent == []
        unkinded = await client.post("/observations", json=BODY, headers={"Authorization": "Bearer unkinded"})
        assert unkinded.status == 403 and "provider_kind" in (await unkinded.json())["error"]
        plain = {k: v for k, v in BODY.items() if k not in ("provider_kind", "origin")}
        accepted = await client.post("/observations", json=plain, headers=HEADERS)
        assert accepted.status == 202
        ((_, _, value),) = broker.sent
        reading = decode(value, OdometerReading)
        assert (reading.provider_kind.value, reading.origin.value) == ("GARAGE", "WORKSHOP")

    run(test)


def test_an_address_guessing_keys_is_answered_429_whatever_key_it_tries_next() -> None:
    clock = [100.0]

    async def test(client: TestClient[Any, Any], gateway: Gateway, broker: Broker) -> None:
        for guess in range(3):
            guessed = {"Authorization": f"Bearer g{guess}"}
            wrong = await client.post("/observations", json=BODY, headers=guessed)
            assert wrong.status == 401
        right = await client.post("/observations", json=BODY, headers=HEADERS)
        assert right.status == 429 and right.headers["Retry-After"] == "10"
        assert "failed authentications" in (await right.json())["error"] and broker.sent == []
        clock[0] += 10.0
        again = await client.post("/observations", json=BODY, headers=HEADERS)
        assert again.status == 202  # a right key does not count against the address
        assert (await client.post("/observations", json=BODY, headers=HEADERS)).status == 202

    run(test, monotonic=lambda: clock[0], http_auth_failures_burst=3, http_auth_failures_per_minute=6.0)
