"""R1's digital maintenance book: each reading's work description kept (bounded) with the reading, on the
certificate view, the page and the history a dealer reads; escaped like every value from a client."""

from __future__ import annotations

from dataclasses import replace

from projections.html import render_certificate
from projections.views import certificate_view
from schemas.jsonl import to_json_obj
from streams.domain.state import WORK_KEPT_BYTES, VehicleState, kept_work
from streams.domain.vehicle import decide
from streams.state.codec import decode_state, encode_state
from tests.unit.streams.domain.builders import VIN, at, reading, registration


def _history(*works: str | None) -> VehicleState:
    state = decide(VehicleState(VIN), registration()).state
    for index, work in enumerate(works):
        read = reading(f"r{index}", 10_000 * (index + 1), f"{2019 + index}-03-04")
        event = replace(read, work_description=work)
        state = decide(state, event, processed_at=at(f"{2019 + index}-03-05")).state
    return state


def test_each_readings_work_description_is_kept_bounded_and_round_trips_through_the_state() -> None:
    long = "Distribution, pompe à eau et " + "courroie accessoires " * 200  # 2,000+ characters submitted
    state = _history("  periodic   service ", None, long, "periodic service")
    works = [r.work_description for r in state.readings]
    assert works[:2] == ["periodic service", None] and works[3] == "periodic service"
    cut = works[2]
    assert cut is not None and cut.startswith("Distribution, pompe à eau") and cut.endswith("…")
    assert len(cut.encode()) <= WORK_KEPT_BYTES and kept_work("   ") is None
    assert decode_state(VIN, encode_state(state)) == state


def test_the_certificate_and_the_history_show_the_maintenance_book_escaped() -> None:
    state = _history("oil and filter", '<script>alert("x")</script> brakes')
    view = certificate_view(state, at("2024-01-01"))
    hostile = '<script>alert("x")</script> brakes'
    assert [r.work_description for r in view.readings] == ["oil and filter", hostile]
    history = to_json_obj(view)  # what GET /vehicles/{vin}/history answers
    assert history["readings"][0]["work_description"] == "oil and filter"
    for lang in ("en", "nl"):
        page = render_certificate(view, None, 19_800, lang)
        assert '<td class="work">oil and filter</td>' in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; brakes" in page and "<script>" not in page
