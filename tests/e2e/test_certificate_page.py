"""The certificate page as a buyer's browser shows it: a real worker on the real broker folds a realistic
history (with a typo that the chart must mark), and Debian's headless Chromium loads
``GET /vehicles/{vin}/certificate.html`` with a dealer's API key (sent as a header over the DevTools
protocol: auth is not weakened). The assertions read the DOM the browser built; the screenshot (PNG) and
the printed page (PDF) are kept in ``$CARPASS_ARTIFACTS_DIR`` (default ``tests/artifacts/``, gitignored).

Then an inspection body issues the vehicle's certificate in each of the four languages (R11), and the
browser loads and prints each issued document (``GET /certificates/{number}/document``): its words, number,
validity, fee, QR code, readings and maintenance book are read back from the DOM and from the text of the
A4 PDF (``pypdf``); screenshots and PDFs kept as ``certificate-<language>.png`` / ``.pdf``.

No Chromium is a failure with the reason, never a skip (``make system-deps`` installs it).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdf
import pytest

from projections.api import qr_svg
from projections.certificates import CertificateSigner
from projections.i18n import LANGUAGES, count, euros, text
from schemas.catalog import AnyRecord
from schemas.records import (
    Co2TestProcedure,
    OdometerReading,
    Origin,
    ProviderKind,
    RecallState,
    RecallStatus,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain.calendar import brussels_day, date_of, day_of
from tests.conftest import artifacts_dir
from tests.e2e.chromium import Chromium, ChromiumError, RenderedPage, find_chromium
from tests.integration.worker_harness import Feeder, pipeline, registrations_for

pytestmark = pytest.mark.integration

VIN = "VF3LBHNZ6JS123456"
DEALER_KEY = "e2e-dealer-key"
ISSUER_KEY = "e2e-inspection-key"
"""An inspection body's key: certificates are delivered at technical inspection (R11)."""
TODAY = date_of(brussels_day(int(datetime.now(UTC).timestamp() * 1000)))  # the API's query day
FIRST_REGISTRATION = TODAY - timedelta(days=round(7.4 * 365))
GARAGES = {"0412345678": "GARAGE", "0455500012": "FAST_FIT"}
INSPECTION = "0200000001"
MAKER = "0300000007"


@dataclass(frozen=True)
class Shown:
    """A reading as the page must show it: date, displayed value, and whether the chart marks it red."""

    day: date
    km: int
    anomaly: bool = False


def _ms(day: date, hour: int = 10) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000)


def history() -> tuple[list[AnyRecord], list[Shown], list[Shown]]:
    """A Peugeot 308 of about seven years: the dealer's delivery reading, yearly services, the periodic
    inspection from year four, two readings from the car's connected feed, and one service where the
    garage typed 9,312 for 93,120 (a missing digit: a DIP that the history does not follow).

    Returns the records (registration, an open recall, the readings in submission order) and the
    readings the page must list (with the one it must mark), in date order."""
    registration = VehicleRegistration(
        event_id=f"reg-{VIN}", vin=VIN, kind=RegistrationKind.FIRST_REGISTRATION,
        effective_at=_ms(FIRST_REGISTRATION), first_registration_date=day_of(FIRST_REGISTRATION),
        imported_used=False, make="Peugeot", model="308 SW 1.2 PureTech", vehicle_category="M1",
        plate="1-GHK-308", euro_norm="EURO 6d-TEMP", co2_g_km=112, co2_test_procedure=Co2TestProcedure.WLTP,
        fuel_type="PETROL", electric_motor=False,
    )  # fmt: skip
    recall = RecallStatus(
        "recall-308", VIN, "PSA-2024-17", "Peugeot", "timing belt may wear early: replace",
        RecallState.OPEN, _ms(TODAY - timedelta(days=400)),
    )  # fmt: skip
    plan = [  # (days after the first registration, km, who, origin); the typo is marked
        (2, 12, "dealer", Origin.WORKSHOP), (330, 16_870, "0412345678", Origin.WORKSHOP),
        (700, 33_940, "0412345678", Origin.WORKSHOP), (1_060, 49_210, "0455500012", Origin.WORKSHOP),
        (1_250, 58_002, MAKER, Origin.CONNECTED_VEHICLE), (1_455, 66_480, INSPECTION, Origin.INSPECTION),
        (1_790, 80_115, "0412345678", Origin.WORKSHOP), (1_830, 82_003, INSPECTION, Origin.INSPECTION),
        (2_100, 93_120, "typo", Origin.WORKSHOP), (2_200, 97_660, INSPECTION, Origin.INSPECTION),
        (2_420, 106_940, MAKER, Origin.CONNECTED_VEHICLE), (2_560, 112_305, INSPECTION, Origin.INSPECTION),
    ]  # fmt: skip
    readings: list[AnyRecord] = []
    shown: list[Shown] = []
    for index, (days, km, who, origin) in enumerate(plan):
        day = FIRST_REGISTRATION + timedelta(days=days)
        value = 9_312 if who == "typo" else km
        provider, kind = {
            "dealer": ("0477700001", ProviderKind.DEALER), "typo": ("0412345678", ProviderKind.GARAGE),
            INSPECTION: (INSPECTION, ProviderKind.INSPECTION_BODY), MAKER: (MAKER, ProviderKind.MANUFACTURER),
        }.get(who, (who, ProviderKind(GARAGES.get(who, "GARAGE"))))  # fmt: skip
        at = _ms(day, 9 + index % 7)
        readings.append(OdometerReading(
            event_id=f"{VIN}-{index:02d}", vin=VIN, odometer_value=value, observed_at=at,
            submitted_at=at + 1_800_000, provider_id=provider, provider_kind=kind, origin=origin,
            work_description="periodic service" if origin is Origin.WORKSHOP else None,
        ))  # fmt: skip
        shown.append(Shown(day, value, anomaly=who == "typo"))
    records = [*registrations_for(readings), registration, recall, *readings]
    return records, shown, [s for s in shown if s.anomaly]


# --- the rendering ------------------------------------------------------------------------------------------


@dataclass
class Rendered:
    page: RenderedPage
    png: Path
    pdf: Path
    raw_table_status: int
    """What the worker answers to Faust's own ``/table/vehicles/{vin}/`` (no key needed there)."""
    issued: dict[str, dict[str, Any]]
    """Language -> the issued certificate (the API's JSON)."""
    documents: dict[str, RenderedPage]
    """Language -> its document as the browser rendered and printed it."""


def _issue(base: str, language: str) -> dict[str, Any]:
    issuer = {"Authorization": f"Bearer {ISSUER_KEY}"}
    request = urllib.request.Request(f"{base}/vehicles/{VIN}/certificates?language={language}", data=b"",
                                     method="POST", headers=issuer)  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        issued: dict[str, Any] = json.loads(response.read())
    return issued


async def _render(url: str, key: str | None) -> RenderedPage:
    async with Chromium() as browser:
        return await browser.render(url, {"Authorization": f"Bearer {key}"} if key else {})


def _wait_for_rows(url: str, rows: int, check: Callable[[], None], timeout_s: float = 90.0) -> None:
    """Until the worker's page lists ``rows`` readings (the worker folds the records on its own time)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {DEALER_KEY}"})
    deadline, seen = time.monotonic() + timeout_s, "nothing"
    while time.monotonic() < deadline:
        check()
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                page = response.read().decode()
            listed = page.count('<tr class="row')
            if listed == rows:
                return
            seen = f"{listed} rows"
        except urllib.error.HTTPError as refused:
            seen = f"HTTP {refused.code}"
        except OSError as down:
            seen = str(down)
        time.sleep(0.3)
    raise AssertionError(f"the page did not list {rows} readings within {timeout_s} s (last: {seen})")


@pytest.fixture(scope="module")
def rendered(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    try:
        find_chromium()
    except ChromiumError as missing:
        pytest.fail(str(missing), pytrace=False)
    data = tmp_path_factory.mktemp("page")
    keys_file, key_file = data / "api-keys.json", data / "signing-key.pem"
    station = {"name": "station", "role": "provider", "key": ISSUER_KEY, "provider_id": INSPECTION,
               "provider_kind": "INSPECTION_BODY"}  # fmt: skip
    dealer = {"name": "dealer", "role": "dealer", "key": DEALER_KEY}
    keys_file.write_text(json.dumps({"keys": [dealer, station]}))
    key_file.write_bytes(CertificateSigner.generate().private_pem())
    records, shown, _ = history()
    with pipeline(kafka_bootstrap, data, api_keys_file=str(keys_file),
                  certificate_signing_key_file=str(key_file)) as p:  # fmt: skip
        worker = p.start("page", projections=True)
        Feeder(p).records(records)
        url = f"http://127.0.0.1:{p.ports[worker]}/vehicles/{VIN}/certificate.html"
        _wait_for_rows(url, len(shown), p.assert_alive)
        page = asyncio.run(_render(url, DEALER_KEY))
        refused = asyncio.run(_render(url, None))
        assert refused.status == 401 and VIN not in refused.dom  # the browser without a key gets nothing
        raw_table = asyncio.run(_render(url.replace(f"/vehicles/{VIN}/certificate.html",
                                                    f"/table/vehicles/{VIN}/"), None))  # fmt: skip
        base = f"http://127.0.0.1:{p.ports[worker]}"
        issued = {lang: _issue(base, lang) for lang in LANGUAGES}
        documents = {lang: asyncio.run(_render(f"{base}/certificates/{cert['number']}/document", DEALER_KEY))
                     for lang, cert in issued.items()}  # fmt: skip
    out = artifacts_dir()
    for lang, document in documents.items():
        (out / f"certificate-{lang}.png").write_bytes(document.png)
        (out / f"certificate-{lang}.pdf").write_bytes(document.pdf)
    png, pdf = out / "certificate-page.png", out / "certificate-page.pdf"
    png.write_bytes(page.png)
    pdf.write_bytes(page.pdf)
    print(f"\ncertificate page screenshot: {png}\nprinted (A4 PDF): {pdf}")
    yield Rendered(page, png, pdf, raw_table.status, issued, documents)


def test_the_page_loads_with_the_key_and_needs_nothing_else(rendered: Rendered) -> None:
    page = rendered.page
    assert page.status == 200, page.dom[:500]
    assert page.requested == (page.requested[0],) and page.requested[0].endswith("/certificate.html")
    assert f"<title>Car-Pass certificate {VIN}</title>" in page.dom


def test_the_chart_has_a_point_per_reading_and_marks_the_typo(rendered: Rendered) -> None:
    _, shown, marked = history()
    dom = rendered.page.dom
    svg = re.search(r'<svg id="mileage-chart".*?</svg>', dom, re.S)
    assert svg is not None, "no chart on the page"
    points = re.findall(r'<circle class="(reading[^"]*)" cx="([0-9.]+)" cy="([0-9.]+)"[^>]*>'
                        r"<title>([^<]*)</title>", svg.group(0))  # fmt: skip
    assert len(points) == len(shown)
    titles = [t for *_, t in points]
    assert titles == [f"{s.day.isoformat()}: {s.km:,} km" for s in shown]
    red = [t for css, _, _, t in points if "anomaly" in css]
    assert red == [f"{m.day.isoformat()}: {m.km:,} km" for m in marked]
    xs = [float(x) for _, x, _, _ in points]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # dated left to right
    typo = next(i for i, s in enumerate(shown) if s.anomaly)
    ys = [float(y) for _, _, y, _ in points]
    assert ys[typo] > ys[typo - 1] and ys[typo] > ys[typo + 1]  # below its neighbours (SVG y grows down)
    line = re.search(r'<polyline[^>]*points="([^"]*)"', svg.group(0))
    assert line is not None and len(line.group(1).split()) == len(shown) - 1  # the line skips the typo


def test_every_reading_is_listed_with_its_date_and_value(rendered: Rendered) -> None:
    _, shown, marked = history()
    dom = rendered.page.dom
    rows = re.findall(r'<tr class="(row[^"]*)"><td>([0-9-]+)</td><td[^>]*>([0-9,]+) km</td>', dom)
    assert [(d, v) for _, d, v in rows] == [(s.day.isoformat(), f"{s.km:,}") for s in shown]
    assert [d for css, d, _ in rows if "anomaly" in css] == [m.day.isoformat() for m in marked]
    assert "DIP" in dom and "MISSING_DIGIT" in dom  # the open anomaly and its likely cause
    assert "PSA-2024-17" in dom  # the recall not carried out


def test_the_screenshot_and_the_print_are_kept(rendered: Rendered) -> None:
    png, pdf = rendered.png.read_bytes(), rendered.pdf.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and pdf[:5] == b"%PDF-"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == rendered.page.size and height > 900
    assert len(png) > 30_000  # a rendered page, not a blank one
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert 1 <= pages <= 3, pages  # prints on a few A4 pages


def test_the_worker_serves_no_raw_table_to_a_browser_without_a_key(rendered: Rendered) -> None:
    assert rendered.raw_table_status == 404  # Faust's table browser is off: it bypassed the API keys


def _pdf_text(pdf: bytes) -> tuple[str, list[tuple[float, float]]]:
    """The printed text of every page, and each page's size in points."""
    reader = pypdf.PdfReader(BytesIO(pdf))
    sizes = [(float(page.mediabox.width), float(page.mediabox.height)) for page in reader.pages]
    return "\n".join(page.extract_text() or "" for page in reader.pages), sizes


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_issued_certificate_reads_and_prints_in_its_language(rendered: Rendered, lang: str) -> None:
    _, shown, _ = history()
    cert, document = rendered.issued[lang], rendered.documents[lang]
    dom, number = document.dom, cert["number"]
    assert document.status == 200 and cert["language"] == lang and cert["issuer"] == f"provider:{INSPECTION}"
    assert f'<html lang="{lang}">' in dom and document.requested == (document.requested[0],)  # nothing else
    valid_until = text(lang, "valid_until", date=cert["valid_until"])
    price = text(lang, "price", price=euros(lang, cert["fee"]["cents"]))
    for words in (text(lang, "certificate"), text(lang, "recorded_readings"), text(lang, "recalls_not_done"),
                  valid_until, price, number):  # fmt: skip
        assert words in dom, (lang, words)
    verify_url = re.search(r'<span id="verify-url">([^<]+)</span>', dom)
    assert verify_url is not None and verify_url.group(1).endswith(f"/verify/{number}")
    qr = re.search(r'<div class="qr" id="qr">(<svg.*?</svg>)', dom, re.S)
    assert qr is not None and qr.group(1).count("<path") >= 1
    assert qr_svg(verify_url.group(1)).split(">", 1)[1][:400] in dom  # the QR code of that very URL
    rows = re.findall(r'<tr class="row[^"]*"><td>([0-9-]+)</td><td[^>]*>([^<]+)</td>', dom)
    assert rows == [(s.day.isoformat(), f"{count(lang, s.km)} km") for s in shown]
    workshop = sum(1 for r in history()[0] if isinstance(r, OdometerReading) and r.origin is Origin.WORKSHOP)
    assert dom.count('<td class="work">periodic service</td>') == workshop > 0  # the maintenance book (R1)
    assert text(lang, "work") in dom
    printed, sizes = _pdf_text(document.pdf)
    assert sizes and all(abs(w - 595) < 2 and abs(h - 842) < 2 for w, h in sizes), sizes  # A4 portrait
    assert 1 <= len(sizes) <= 3, len(sizes)
    flat = unicodedata.normalize("NFKC", " ".join(printed.split()))  # the print's ligatures (ﬁ) as letters
    heading = text(lang, "recorded_readings")
    for words in (number, VIN, text(lang, "certificate"), heading, cert["valid_until"]):
        assert " ".join(words.split()) in flat, (lang, words)
