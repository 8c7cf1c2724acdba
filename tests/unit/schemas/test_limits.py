"""The contract's bounds on strings: said in every input schema's docs, and what ``too_long`` finds."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from schemas.catalog import SCHEMA_DIR
from schemas.limits import MAX_ITEMS, max_chars, too_long
from schemas.records import INPUT_TOPICS
from tests.unit.schemas.golden_records import GOLDEN


@pytest.mark.parametrize("record_type", list(INPUT_TOPICS), ids=lambda t: t.__name__)
def test_every_string_of_an_input_says_its_bound_in_the_contract(record_type: type) -> None:
    schema = json.loads((SCHEMA_DIR / f"{record_type.__name__}.avsc").read_text())
    for field in schema["fields"]:
        kinds = field["type"] if isinstance(field["type"], list) else [field["type"]]
        if "string" in kinds:
            said = re.search(r"At most ([\d,]+) characters", field.get("doc", ""))
            assert said, f"{record_type.__name__}.{field['name']}: its doc says no bound"
            assert int(said.group(1).replace(",", "")) == max_chars(field["name"])


def test_too_long_names_the_field_and_passes_what_fits() -> None:
    reading = GOLDEN["OdometerReading"]
    assert too_long(reading) is None
    assert too_long(replace(reading, work_description="x" * max_chars("work_description"))) is None
    problem = too_long(replace(reading, work_description="x" * 2_001))
    assert problem == "field 'work_description' has 2,001 characters, more than 2,000"
    assert "'provider_id'" in (too_long(replace(reading, provider_id="9" * 101)) or "")
    provider = GOLDEN["ProviderRegistration"]
    assert "items" in (too_long(replace(provider, nace_codes=("45201",) * (MAX_ITEMS + 1))) or "")
    assert "an item of field 'nace_codes'" in (too_long(replace(provider, nace_codes=("4" * 101,))) or "")
