"""The OpenAPI document matches the registered routes; the certificate page shows what a buyer needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from projections import openapi
from projections.api import CarPassApi, InMemoryViewSource
from projections.certificates import CertificateSigner, issue
from projections.html import mileage_chart_svg, render_certificate
from projections.views import certificate_view
from schemas.records import AnomalyKind
from streams.domain.state import OpenAnomaly, VehicleState
from streams.http.auth import ApiKeys
from tests.unit.projections.builders import VIN, clean_old_vehicle, day, reading, registration, spike

STATIC = Path(openapi.__file__).with_name("openapi.json")


def _registered() -> set[tuple[str, str]]:
    api = CarPassApi(InMemoryViewSource(), ApiKeys({}), CertificateSigner.generate())
    app = api.application()
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method != "HEAD":
            found.add((route.method, str(path)))
    return found


def test_openapi_paths_and_methods_equal_the_registered_routes() -> None:
    documented = {(m.upper(), p) for p, ops in openapi.document()["paths"].items() for m in ops}
    assert documented == _registered()
    assert len(documented) == 12


def test_static_openapi_json_is_the_generated_document() -> None:
    assert json.loads(STATIC.read_text()) == openapi.document(), "run: python -m projections.openapi"


def test_page_has_every_r11_item_and_mentions() -> None:
    state = spike(clean_old_vehicle())
    page = render_certificate(certificate_view(state, 0), None, day(2024, 6, 1))
    expected = (
        "Volkswagen Golf", VIN, "2018-01-10", "EURO 6d", "118 g/km", "PETROL", "Recalls not carried out",
        "Post-accident inspection required", "ILLOGICAL", "SPIKE", "Drawn up on 2024-06-01",
    )  # fmt: skip
    for text in expected:
        assert text in page, text
    assert page.count('class="reading anomaly"') == 1 and page.count('class="reading"') == 6
    assert page.count('<tr class="row') == 7
    assert "<script" not in page


def test_page_marks_import_five_digits_replacement_and_wrap() -> None:
    readings = (
        reading((2019, 1, 1), 90_000, digits=5),
        reading((2020, 1, 1), 5_000, digits=5),
        reading((2021, 1, 1), 2_000, replaced=True),
        reading((2022, 1, 1), 17_000),
    )
    markers = (
        OpenAnomaly(AnomalyKind.COUNTER_WRAPPED, readings[1].event_id),
        OpenAnomaly(AnomalyKind.ODOMETER_REPLACED, readings[2].event_id),
    )
    reg = registration((2018, 1, 1), imported_used=True, import_country="NL")
    view = certificate_view(VehicleState(VIN, readings=readings, registration=reg, anomalies=markers), 0)
    page = render_certificate(view, None, day(2024, 6, 1))
    assert "Imported second-hand from abroad (NL)" in page
    assert "5-digit odometer" in page and "The odometer was replaced" in page
    assert '<g class="wrap">' in page and '<g class="replacement">' in page
    assert page.count("<polyline") == 3  # a stretch before the wrap, until the replacement, after it


def test_replacement_marker_is_drawn_at_the_replacement_readings_date() -> None:
    readings = (
        reading((2019, 1, 1), 40_000),
        reading((2020, 1, 1), 55_000),
        reading((2022, 1, 1), 1_000, replaced=True),
        reading((2023, 1, 1), 16_000),
    )
    marker = (OpenAnomaly(AnomalyKind.ODOMETER_REPLACED, readings[2].event_id),)
    view = certificate_view(
        VehicleState(VIN, readings=readings, registration=registration((2018, 1, 1)), anomalies=marker), 0
    )
    svg = mileage_chart_svg(view)
    dots = re.findall(r'<circle class="reading[^"]*" cx="([0-9.]+)"', svg)
    line = re.search(r'<g class="replacement"><line x1="([0-9.]+)" y1="[0-9.]+" x2="([0-9.]+)"', svg)
    assert line is not None and line.group(1) == line.group(2)
    assert float(line.group(1)) == float(dots[2])  # on the replacement reading, not mid-way before it


def test_issued_page_shows_number_price_and_validity() -> None:
    view = certificate_view(clean_old_vehicle(), 0)
    cert = issue(view, "evt", day(2024, 6, 1) * 86_400_000 + 36_000_000, CertificateSigner.generate())
    page = render_certificate(view, cert, day(2024, 6, 1))
    assert cert.number in page and "EUR 10.50" in page and "valid until 2024-07-31" in page


def test_data_is_escaped() -> None:
    reg = registration((2018, 1, 10), model="<script>alert(1)</script>")
    view = certificate_view(VehicleState(VIN, registration=reg), 0)
    page = render_certificate(view, None, 0)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_chart_ticks_are_round_numbers_of_km() -> None:
    svg = mileage_chart_svg(certificate_view(spike(clean_old_vehicle()), 0))
    ticks = [int(t.replace(",", "")) for t in re.findall(r'text-anchor="end">([0-9,]+) km</text>', svg)]
    step = ticks[1] - ticks[0]
    assert ticks == list(range(0, ticks[-1] + 1, step)) and 4 <= len(ticks) <= 9
    assert str(step).rstrip("0") in ("1", "2", "5") and step >= 1000


def test_a_typo_is_left_off_the_line_and_labelled_with_its_value() -> None:
    view = certificate_view(spike(clean_old_vehicle()), 0)
    svg = mileage_chart_svg(view)
    red = re.findall(r'<circle class="reading anomaly" cx="([0-9.]+)" cy="([0-9.]+)"', svg)
    line = re.search(r'<polyline[^>]*points="([^"]*)"', svg)
    assert len(red) == 1 and line is not None
    assert ",".join(red[0]) not in line.group(1).split()  # the line follows the agreeing readings
    assert len(line.group(1).split()) == len(view.readings) - 1
    typo = next(r for r in view.readings if r.in_open_anomaly)
    assert 'class="anomaly-label"' in svg and f"{typo.odometer_value:,} km" in svg
