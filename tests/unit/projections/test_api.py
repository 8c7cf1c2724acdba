"""The query API over the in-memory source: every role against every route (R15), then each route's job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from projections.api import ROUTES, CarPassApi, InMemoryViewSource, NotReadyError, qr_svg
from projections.certificates import CertificateSigner, certificate_number, issue
from projections.quality import ProviderTally, YearTally
from projections.views import certificate_view
from schemas.records import ProviderKind, RecallState
from streams.domain.state import RecallFact
from streams.http.auth import ApiKeys, Role
from streams.http.forwarding import FORWARDED_HEADER
from streams.http.limits import AuthThrottle
from streams.http.responses import SECURITY_HEADERS
from tests.unit.projections.builders import PROVIDER, VIN, clean_old_vehicle, ms, spike

NOW = ms(2024, 6, 1, 12)
OTHER_PROVIDER = "9876543210"
KEYS = {
    "operator": {"role": "operator", "key": "k-operator"},
    "dealer": {"role": "dealer", "key": "k-dealer"},
    "public": {"role": "public", "key": "k-public"},
    "provider": {"role": "provider", "key": "k-provider", "provider_id": PROVIDER},
    "other-provider": {"role": "provider", "key": "k-other", "provider_id": OTHER_PROVIDER},
    "inspection": {
        "role": "provider", "key": "k-inspection", "provider_id": "0200000001",
        "provider_kind": "INSPECTION_BODY",
    },
}
SIGNER = CertificateSigner.generate()


def make_api(forward_secret: bytes | None = None) -> tuple[CarPassApi, InMemoryViewSource, str]:
    source = InMemoryViewSource()
    recall = RecallFact("RC-1", "VW", "Airbag inflator", RecallState.OPEN, ms(2023, 1, 1))
    source.put_state(replace(clean_old_vehicle(), recalls=(recall,)), ms(2024, 3, 1))
    source.put_tally(ProviderTally(PROVIDER, as_of=NOW, years=(YearTally(2023, 1000, 12),), active=True))
    cert = issue(certificate_view(clean_old_vehicle(), ms(2024, 3, 1)), "issuance-1", NOW, SIGNER)
    source.certificates[cert.number] = cert
    keys = ApiKeys.from_entries([{"name": n, **e} for n, e in KEYS.items()])
    ids = iter(f"event-{i}" for i in range(1000))
    api = CarPassApi(source, keys, SIGNER, clock=lambda: NOW, new_event_id=lambda: next(ids),
                     forward_secret=forward_secret)  # fmt: skip
    return api, source, cert.number


def with_client(
    test: Callable[[TestClient[Any, Any], InMemoryViewSource, str], Awaitable[None]],
    forward_secret: bytes | None = None,
) -> None:
    async def main() -> None:
        api, source, number = make_api(forward_secret)
        async with TestClient(TestServer(api.application())) as client:
            await test(client, source, number)

    asyncio.run(main())


def url_of(path: str, number: str) -> str:
    url = path.replace("{vin}", VIN).replace("{id}", PROVIDER).replace("{number}", number)
    return url + ("?advertised_km=110000" if url.endswith("ok-label") else "")


ALLOWED = {
    "history": {"dealer", "operator"},
    "ok_label": {"dealer", "operator"},
    "quality": {"provider", "operator"},
    "trusted": {"operator", "dealer", "public", "provider", "other-provider", "inspection"},
    "report": {"operator"},
    "issue": {"operator", "inspection"},  # R11: at technical inspection, and the registry's staff
    "verify": {"operator", "dealer", "public", "provider", "other-provider", "inspection"},
    "document": {"operator", "dealer", "public", "provider", "other-provider", "inspection"},
    "page": {"dealer", "operator"},
    "routing": {"operator"},  # Faust's /router/ showed it to anyone
    "verify_page": {"operator", "dealer", "public", "provider", "other-provider", "inspection"},
    "keys": {"operator", "dealer", "public", "provider", "other-provider", "inspection"},
}
OPEN_TO_ANYONE = {"verify_page", "keys", "trusted"}
"""R16: anyone can check a certificate, with or without a key (a wrong one included)."""


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_role_against_every_route(route: Any) -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        url = url_of(route.path, number)
        seen: dict[str, int] = {}
        for who, entry in [("none", None), ("wrong", {"key": "nope"}), *KEYS.items()]:
            headers = {"Authorization": f"Bearer {entry['key']}"} if entry else {}
            async with client.request(route.method, url, headers=headers) as response:
                seen[who] = response.status
                body = await response.text()
                if response.status >= 400:
                    assert VIN not in body and PROVIDER not in body and "Golf" not in body
        anyone = route.name in OPEN_TO_ANYONE
        expected = {"none": 200 if anyone else 401, "wrong": 200 if anyone else 401}
        for who in KEYS:
            ok = 201 if route.method == "POST" else 200
            expected[who] = ok if who in ALLOWED[route.name] else 403
        assert seen == expected

    with_client(check)


def test_routes_and_roles_are_the_ones_documented_here() -> None:
    assert {r.name: {role.value for role in r.access.roles} for r in ROUTES} == {
        "history": {"dealer", "operator"},
        "ok_label": {"dealer", "operator"},
        "quality": {"provider", "operator"},
        "trusted": {role.value for role in Role},
        "report": {"operator"},
        "issue": {"operator", "provider"},  # a provider key registered as an inspection body
        "verify": {role.value for role in Role},
        "document": {role.value for role in Role},
        "page": {"dealer", "operator"},
        "routing": {"operator"},
        "verify_page": {role.value for role in Role},
        "keys": {role.value for role in Role},
    }
    assert {r.name for r in ROUTES if r.access.anonymous} == OPEN_TO_ANYONE


def test_x_api_key_header_works_too() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(f"/vehicles/{VIN}/history", headers={"X-API-Key": "k-dealer"}) as response:
            assert response.status == 200

    with_client(check)


DEALER = {"Authorization": "Bearer k-dealer"}
OPERATOR = {"Authorization": "Bearer k-operator"}
PUBLIC = {"Authorization": "Bearer k-public"}


def test_dealer_gets_the_label_with_reasons_at_query_time() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(f"/vehicles/{VIN}/ok-label?advertised_km=110000", headers=DEALER) as r:
            body = await r.json()
        assert body["eligible"] is True and body["denial_reasons"] == []
        assert body["query_date"] == "2024-06-01" and body["most_recent_km"] == 105_000
        async with client.get(f"/vehicles/{VIN}/ok-label?advertised_km=90000", headers=DEALER) as r:
            body = await r.json()
        assert body["denial_reasons"] == ["ADVERTISED_BELOW_REGISTRY"]
        assert body["explanations"][0].startswith("R12.2")
        source.put_state(spike(clean_old_vehicle()), ms(2024, 3, 1))
        async with client.get(f"/vehicles/{VIN}/ok-label?advertised_km=110000", headers=DEALER) as r:
            assert (await r.json())["denial_reasons"] == ["ANOMALY_IN_HISTORY"]
        unknown = "WVWZZZ1JZXW999999"
        async with client.get(f"/vehicles/{unknown}/ok-label?advertised_km=1", headers=DEALER) as r:
            assert r.status == 200 and (await r.json())["denial_reasons"] == ["VIN_NOT_REGISTERED"]
        for bad in ("", "=", "=-5", "=1e5", "=99999999"):
            query = f"?advertised_km{bad}" if bad else ""
            async with client.get(f"/vehicles/{VIN}/ok-label{query}", headers=DEALER) as r:
                assert r.status == 400

    with_client(check)


def test_malformed_keys_are_400_after_authentication_and_unknown_vins_404() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get("/vehicles/short/history", headers=DEALER) as r:
            assert r.status == 400
        async with client.get("/vehicles/short/history") as r:
            assert r.status == 401
        async with client.get("/vehicles/WVWZZZ1JZXW999999/history", headers=DEALER) as r:
            assert r.status == 404 and "WVWZZZ1JZXW999999" not in await r.text()
        async with client.get("/certificates/not-a-number", headers=PUBLIC) as r:
            assert r.status == 400

    with_client(check)


def test_history_is_the_certificate_view() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(f"/vehicles/{VIN}/history", headers=DEALER) as r:
            body = await r.json()
        assert body["type"] == "CertificateView" and body["vin"] == VIN and len(body["readings"]) == 7
        assert body["judgment"] == "LOGICAL" and body["open_recalls"][0]["campaign_id"] == "RC-1"

    with_client(check)


def test_issue_then_verify_a_certificate_and_detect_tampering() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        headers = {**OPERATOR, "Idempotency-Key": "sale-42"}
        async with client.post(f"/vehicles/{VIN}/certificates", headers=headers) as r:
            assert r.status == 201
            issued = await r.json()
            assert r.headers["Location"] == f"/certificates/{issued['number']}"
        assert issued["fee"] == {"currency": "EUR", "cents": 1050, "rule": "STANDARD"}
        assert (issued["issue_date"], issued["valid_until"]) == ("2024-06-01", "2024-07-31")
        async with client.post(f"/vehicles/{VIN}/certificates", headers=headers) as r:
            assert (await r.json())["number"] == issued["number"]  # same issuance event, same number
        async with client.get(f"/certificates/{issued['number']}", headers=PUBLIC) as r:
            verified = await r.json()
        assert verified["authentic"] is True and verified["valid_today"] is True
        assert verified["certificate"] == issued
        stored = source.certificates[issued["number"]]
        forged = json.loads(stored.content_json)
        forged["readings"][-1]["odometer_value"] = 5
        source.certificates[stored.number] = replace(stored, content_json=json.dumps(forged))
        async with client.get(f"/certificates/{issued['number']}", headers=PUBLIC) as r:
            assert (await r.json())["authentic"] is False
        async with client.get("/certificates/00000000-0000-5000-8000-000000000000", headers=PUBLIC) as r:
            assert r.status == 404

    with_client(check)


def test_a_repeated_issuance_gets_the_first_certificate_and_each_issuer_its_own() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        key = {"Idempotency-Key": "sale-42"}

        async def post(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
            async with client.post(f"/vehicles/{VIN}/certificates", headers=headers) as r:
                return r.status, await r.json()

        status, first = await post({**OPERATOR, **key})
        assert status == 201 and first["issuer"] == "operator:operator" and first["language"] == "en"
        assert [c.number for c in source.records] == [first["number"]]
        source.put_state(replace(clean_old_vehicle(), recalls=()), ms(2024, 5, 1))  # the vehicle changed
        assert await post({**OPERATOR, **key}) == (200, first)  # the first certificate, nothing recorded
        assert len(source.records) == 1
        # Two at once: both get the certificate whose record came first.
        both = await asyncio.gather(*(post({**OPERATOR, "Idempotency-Key": "sale-43"}) for _ in range(2)))
        assert sorted(s for s, _ in both) == [200, 201] and both[0][1] == both[1][1]
        # Another issuer's same key is another issuance: a number of its own.
        status, theirs = await post({"Authorization": "Bearer k-inspection", **key})
        assert status == 201 and theirs["number"] != first["number"]
        assert theirs["issuer"] == "provider:0200000001"

    with_client(check)


def test_the_issued_document_is_in_the_language_it_was_issued_in_with_a_qr_code_of_its_check() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.post(f"/vehicles/{VIN}/certificates?language=fr", headers=OPERATOR) as r:
            issued = await r.json()
        assert r.status == 201 and issued["language"] == "fr"
        async with client.post(f"/vehicles/{VIN}/certificates?language=es", headers=OPERATOR) as r:
            assert r.status == 400 and "nl, fr, de, en" in (await r.json())["error"]
        headers = {**OPERATOR, "Accept-Language": "de-DE,de;q=0.9"}  # no ?language: the header's
        async with client.post(f"/vehicles/{VIN}/certificates", headers=headers) as r:
            assert (await r.json())["language"] == "de"
        async with client.get(f"/certificates/{issued['number']}/document", headers=PUBLIC) as r:
            page = await r.text()
            assert r.status == 200 and r.headers["Content-Language"] == "fr"
        verify_url = f"http://{r.url.host}:{r.url.port}/verify/{issued['number']}"
        assert '<html lang="fr">' in page and "Certificat Car-Pass" in page and issued["number"] in page
        assert "valable jusqu'au 2024-07-31" in page and "prix EUR 10,50" in page
        assert qr_svg(verify_url) in page and verify_url in page  # the QR code of the page that checks it
        unknown = "/certificates/00000000-0000-5000-8000-000000000000/document"
        async with client.get(unknown, headers=PUBLIC) as r:
            assert r.status == 404
        headers = {**DEALER, "Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"}  # a preview: the reader's language
        async with client.get(f"/vehicles/{VIN}/certificate.html", headers=headers) as r:
            assert r.headers["Content-Language"] == "nl" and "Car-Pass-certificaat" in await r.text()
        async with client.get(f"/vehicles/{VIN}/certificate.html?lang=de", headers=headers) as r:
            assert "Car-Pass-Zertifikat" in await r.text()

    with_client(check)


def test_anyone_lists_the_trusted_providers_and_the_staff_gets_the_r14_report_as_csv() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        # PROVIDER: 1,000 readings in 2023, 12 late, no break (make_api); a silent garage; a "formula" name.
        formula = '=HYPERLINK("x")'
        silent = ProviderTally(OTHER_PROVIDER, name=formula, kind=ProviderKind.GARAGE, active=True,
                               nace_codes=("45201",))  # fmt: skip
        source.put_tally(silent)
        source.put_tally(replace(source.tallies[PROVIDER], name="Garage Janssens", kind=ProviderKind.GARAGE))
        async with client.get("/providers/trusted?year=2024") as r:  # no key
            listed = await r.json()
        assert r.status == 200 and listed["year"] == 2024
        assert listed["providers"] == [{"provider_id": PROVIDER, "name": "Garage Janssens", "kind": "GARAGE"}]
        async with client.get("/providers/trusted?year=2023") as r:
            assert (await r.json())["providers"] == []  # no reading in 2022
        async with client.get("/providers/report?year=2023&format=csv", headers=OPERATOR) as r:
            text = await r.text()
            assert r.status == 200 and r.content_type == "text/csv"
            assert r.headers["Content-Disposition"] == 'attachment; filename="carpass-providers-2023.csv"'
        lines = text.splitlines()
        assert lines[0].startswith("provider_id,name,kind,active,r14_obliged,finding,readings")
        assert lines[1].startswith(f"{OTHER_PROVIDER},\"'=HYPERLINK(\"\"x\"\")\",GARAGE,True,True,SILENT,0")
        assert len(lines) == 2  # the careful garage is not in it
        async with client.get("/providers/report?year=2023&max_rate=0", headers=OPERATOR) as r:
            body = await r.json()
        assert [p["provider_id"] for p in body["providers"]] == [OTHER_PROVIDER]  # 0 breaks is not above 0
        for bad in ("year=23", "year=2023&max_rate=2", "year=2023&max_rate=x", "format=xml"):
            async with client.get(f"/providers/report?{bad}", headers=OPERATOR) as r:
                assert r.status == 400, bad
        async with client.get("/providers/report", headers=DEALER) as r:
            assert r.status == 403

    with_client(check)


def test_certificate_numbers_cannot_be_derived_without_the_workers_secret() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        headers = {**OPERATOR, "Idempotency-Key": "sale-42"}
        async with client.post(f"/vehicles/{VIN}/certificates", headers=headers) as r:
            issued = await r.json()
        assert r.status == 201
        operator = "operator:operator"
        guessable = {certificate_number(VIN, "sale-42"), certificate_number(VIN, "sale-42", operator)}
        assert issued["number"] not in guessable
        secret = certificate_number(VIN, "sale-42", operator, b"s" * 32)
        assert issued["number"] == secret

    with_client(check, forward_secret=b"s" * 32)


def test_the_public_check_speaks_the_readers_language() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(f"/verify/{number}", headers={"Accept-Language": "fr-BE,fr;q=0.9"}) as r:
            page = await r.text()
        assert r.headers["Content-Language"] == "fr" and '<html lang="fr">' in page
        assert "<strong>Authentique</strong>" in page and "105 000 km" in page.replace("\u202f", " ")
        async with client.get(f"/verify/{number}?lang=nl") as r:
            page = await r.text()
        assert "<strong>Echt</strong>" in page and "Geldig tot" in page and "105.000 km" in page

    with_client(check)


def test_anyone_can_verify_a_certificate_by_its_number_without_a_key_within_a_rate() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(f"/verify/{number}") as r:
            page = await r.text()
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        assert 'id="verdict"><strong>Authentic</strong>' in page and VIN in page and "105,000 km" in page
        async with client.get("/keys") as r:
            published = (await r.json())["keys"]
        stored = source.certificates[number]
        assert [k["key_id"] for k in published] == [stored.key_id] and published[0]["current"] is True
        forged = json.loads(stored.content_json)
        forged["readings"][-1]["odometer_value"] = 5
        source.certificates[number] = replace(stored, content_json=json.dumps(forged))
        async with client.get(f"/verify/{number}") as r:
            assert "<strong>Not authentic</strong>" in await r.text()
        async with client.get("/verify/00000000-0000-5000-8000-000000000000") as r:
            assert r.status == 404 and VIN not in await r.text()
        async with client.get("/verify/not-a-number") as r:
            assert r.status == 400
        statuses = []
        for _ in range(40):  # 30 at once, then one a second, per client address
            async with client.get(f"/verify/{number}") as r:
                statuses.append(r.status)
        assert 429 in statuses and statuses.count(200) <= 30
        async with client.get(f"/certificates/{number}") as r:
            assert r.status == 401  # the JSON answer with the whole content still asks for a key

    with_client(check)


def test_provider_sees_its_quality_with_late_share() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        own = {"Authorization": "Bearer k-provider"}
        async with client.get(f"/providers/{PROVIDER}/quality", headers=own) as r:
            body = await r.json()
        assert body["quality"]["years"][0]["readings"] == 1000
        assert body["late_submission_share"] == {"2023": 0.012}
        async with client.get(f"/providers/{OTHER_PROVIDER}/quality", headers=OPERATOR) as r:
            assert r.status == 404

    with_client(check)


def test_certificate_page_has_the_chart_and_the_readings() -> None:
    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(f"/vehicles/{VIN}/certificate.html", headers=DEALER) as r:
            assert r.content_type == "text/html"
            page = await r.text()
        assert '<svg id="mileage-chart"' in page and page.count('class="reading"') >= 7
        assert "105,000 km" in page and "Airbag inflator" in page

    with_client(check)


class _Restoring(InMemoryViewSource):
    """A source whose worker is restoring its tables: nothing it lacks can be said not to exist."""

    async def vehicle(self, vin: str) -> Any:
        raise NotReadyError("restoring")


def test_a_source_not_ready_is_a_503_retry_never_a_not_found() -> None:
    async def main() -> None:
        api, _, _ = make_api()
        api.source = _Restoring()
        dealer = {"Authorization": f"Bearer {KEYS['dealer']['key']}"}
        async with TestClient(TestServer(api.application())) as client:
            for path in (f"/vehicles/{VIN}/history", f"/vehicles/{VIN}/ok-label?advertised_km=1",
                         f"/vehicles/{VIN}/certificate.html"):  # fmt: skip
                async with client.get(path, headers=dealer) as r:
                    body = await r.text()
                assert r.status == 503 and "retry" in body and VIN not in body, (path, r.status)

    asyncio.run(main())


def test_strings_must_match_whole_and_odd_digits_are_a_400() -> None:
    """A trailing newline passed ``re.match`` with ``$``; "²" passed ``str.isdigit`` and then broke ``int``
    (a 500)."""

    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        for km in ("%C2%B2", "%D9%A3", "123456789", "1%0A"):
            async with client.get(f"/vehicles/{VIN}/ok-label?advertised_km={km}", headers=DEALER) as r:
                assert r.status == 400, km
        async with client.get(f"/vehicles/{VIN}%0A/ok-label?advertised_km=1", headers=DEALER) as r:
            assert r.status in (400, 404) and r.status != 200
        async with client.get(f"/vehicles/{VIN}/ok-label?advertised_km=110000", headers=DEALER) as r:
            assert r.status == 200
            for name, value in SECURITY_HEADERS.items():
                assert r.headers[name] == value
        async with client.get(f"/vehicles/{VIN}/ok-label?advertised_km=1") as r:  # refused: headers too
            assert r.status == 401 and r.headers["Cache-Control"] == "no-store"

    with_client(check)


FORWARD_SECRET = b"f" * 32


def test_a_forward_is_answered_for_the_principal_it_carries_and_a_fake_one_refused() -> None:
    """Hardening item 5: the marker of a forward was "1", honoured from any client (the request was then
    answered by whichever worker got it). Now only a forward signed with the group's secret is, for the
    principal it names (the client's key stays with the first worker), and authorisation still applies."""
    from streams.http.auth import Principal, Role
    from streams.http.forwarding import FORWARDED_HEADER, sign

    history = f"/vehicles/{VIN}/history"

    def forwarded(principal: Principal, path: str = history) -> dict[str, str]:
        return {FORWARDED_HEADER: sign(FORWARD_SECRET, principal, "GET", path, b"", NOW)}

    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(history, headers=forwarded(Principal("dealer-1", Role.DEALER))) as response:
            assert response.status == 200  # no key: the forward names the principal
        async with client.get(history, headers=forwarded(Principal("anyone", Role.PUBLIC))) as response:
            assert response.status == 403  # a public key may not read histories, forwarded or not
        signed_for_another = forwarded(Principal("d", Role.DEALER), f"/vehicles/{VIN}/certificate.html")
        for headers in ({FORWARDED_HEADER: "1", **DEALER}, signed_for_another):
            async with client.get(history, headers=headers) as response:
                assert response.status == 403, headers
                assert "does not verify" in (await response.json())["error"]

    with_client(check, FORWARD_SECRET)


def test_a_worker_without_a_forward_secret_refuses_every_forward() -> None:
    from streams.http.auth import Principal, Role
    from streams.http.forwarding import FORWARDED_HEADER, sign

    history = f"/vehicles/{VIN}/history"
    marker = sign(FORWARD_SECRET, Principal("dealer-1", Role.DEALER), "GET", history, b"", NOW)

    async def check(client: TestClient[Any, Any], source: InMemoryViewSource, number: str) -> None:
        async with client.get(history, headers={FORWARDED_HEADER: marker}) as response:
            assert response.status == 403
        async with client.get(history, headers=DEALER) as response:
            assert response.status == 200

    with_client(check)


def test_failed_authentications_from_one_address_are_throttled() -> None:
    """Unknown keys and forwards that do not verify count; a known key with the wrong role does not."""
    clock = [0.0]

    async def main() -> None:
        source = InMemoryViewSource()
        keys = ApiKeys.from_entries([{"name": n, **e} for n, e in KEYS.items()])
        throttle = AuthThrottle(burst=2, per_minute=6.0)
        api = CarPassApi(source, keys, SIGNER, clock=lambda: NOW, forward_secret=b"s" * 32,
                         auth_throttle=throttle, monotonic=lambda: clock[0])  # fmt: skip
        path = f"/vehicles/{VIN}/history"
        async with TestClient(TestServer(api.application())) as client:
            dealer = {"Authorization": f"Bearer {KEYS['dealer']['key']}"}
            public = {"Authorization": f"Bearer {KEYS['public']['key']}"}
            for _ in range(3):
                assert (await client.get(path, headers=public)).status == 403  # a role: not a failure
            assert (await client.get(path, headers={"Authorization": "Bearer guess"})).status == 401
            forged = {FORWARDED_HEADER: "operator.1.0000"}
            assert (await client.get(path, headers=forged)).status == 403
            blocked = await client.get(path, headers=dealer)
            assert blocked.status == 429 and blocked.headers["Retry-After"] == "10"
            clock[0] += 10.0
            assert (await client.get(path, headers=dealer)).status == 404  # unknown VIN: served again

    asyncio.run(main())
