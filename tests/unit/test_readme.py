"""The README's configuration table is the one ``carpass config --markdown`` prints from the settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from streams.cli import main
from streams.cli.config import field_docs, markdown_table
from streams.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_table() -> str:
    text = README.read_text()
    start = text.index("\n", text.index("<!-- settings-table")) + 1
    end = text.index("<!-- end settings-table -->")
    return text[start:end].strip()


def test_readme_table_equals_the_generated_one() -> None:
    assert _readme_table() == markdown_table(), "run: carpass config --markdown, and paste it into the README"


def test_every_setting_has_a_docstring() -> None:
    docs = field_docs()
    missing = [f.name for f in dataclasses.fields(Settings) if not docs.get(f.name)]
    assert not missing


def test_the_judge_report_shown_is_what_carpass_judge_prints(capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text()
    start = text.index("```text\n", text.index("<!-- judge-report -->")) + len("```text\n")
    shown = text[start : text.index("```\n<!-- end judge-report -->")]
    assert main(["judge", str(README.parent / "examples" / "rollback.jsonl")]) == 0
    assert capsys.readouterr().out == shown
