"""The README's configuration table lists exactly the settings, with their real defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from streams.settings import ENV_PREFIX, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _table_rows() -> dict[str, str]:
    text = README.read_text()
    start = text.index("<!-- settings-table")
    end = text.index("<!-- end settings-table -->")
    rows = {}
    for line in text[start:end].splitlines():
        match = re.match(r"\|\s*`(CARPASS_[A-Z0-9_]+)`\s*\|\s*(.*?)\s*\|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip("` ")
    return rows


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(_table_rows())
    actual = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}
    assert documented == actual, (
        f"missing: {sorted(actual - documented)}; stale: {sorted(documented - actual)}"
    )


def test_documented_defaults_are_the_real_ones() -> None:
    defaults = Settings.from_env({})
    rows = _table_rows()
    for field in dataclasses.fields(Settings):
        value = getattr(defaults, field.name)
        shown = rows[ENV_PREFIX + field.name.upper()]
        if isinstance(value, Path) and field.name == "cache_dir":
            assert shown == "~/.cache/carpass"
        else:
            assert shown == ("(empty)" if value == "" else str(value)), field.name
