"""The certificate in four languages: every text in each, numbers written as each writes them, the language
a client asks for, and a page with no English left in it."""

from __future__ import annotations

import re

import pytest

from projections.certificates import CertificateSigner, issue
from projections.html import render_certificate
from projections.i18n import LANGUAGES, MESSAGES, count, euros, language_of, placeholders, text
from projections.views import certificate_view
from tests.unit.projections.builders import clean_old_vehicle, day, ms, spike


def test_every_text_is_in_every_language_with_the_same_placeholders() -> None:
    for key, words in MESSAGES.items():
        assert set(words) == set(LANGUAGES), key
        assert all(words[lang].strip() for lang in LANGUAGES), key
        assert len({frozenset(placeholders(words[lang])) for lang in LANGUAGES}) == 1, key


def test_numbers_and_amounts_are_written_as_each_language_writes_them() -> None:
    assert [count(lang, 105_000) for lang in LANGUAGES] == ["105.000", "105\u202f000", "105.000", "105,000"]
    assert [euros(lang, 1_050) for lang in LANGUAGES] == ["10,50", "10,50", "10,50", "10.50"]
    assert text("fr", "valid_until", date="2024-07-31") == "valable jusqu'au 2024-07-31"


@pytest.mark.parametrize(
    ("query", "header", "chosen"),
    [
        (None, None, "en"),
        ("nl", "fr", "nl"),  # the query wins
        ("NL", None, "nl"),
        ("es", "de-DE,de;q=0.9", "de"),  # not one of ours: the header decides
        (None, "nl-BE,nl;q=0.9,fr-BE;q=0.8,en;q=0.5", "nl"),
        (None, "en;q=0.5, fr;q=0.9", "fr"),
        (None, "es-ES, it", "en"),
        (None, "fr;q=abc, de;q=2, ;;, " + "x" * 600, "en"),  # malformed: ignored, never a failure
    ],
)
def test_the_language_asked_for(query: str | None, header: str | None, chosen: str) -> None:
    assert language_of(query, header) == chosen


ENGLISH_ONLY = ("Recorded readings", "Mileage history", "Make and model", "Judgment of the history",
                "Drawn up on", "valid until", "Recalls not carried out", "A reading far above")  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_certificate_in_each_language_has_its_words_and_no_english_left(lang: str) -> None:
    view = certificate_view(spike(clean_old_vehicle()), ms(2024, 3, 1))
    cert = issue(view, "sale-42", ms(2024, 6, 1, 12), CertificateSigner.generate(), issuer="operator:desk",
                 language=lang)  # fmt: skip
    page = render_certificate(view, cert, day(2024, 6, 1), lang, verify_url="https://x.example/verify/n",
                              qr_svg="<svg id='q'></svg>")  # fmt: skip
    assert f'<html lang="{lang}">' in page
    for key in ("certificate", "recorded_readings", "mileage_history", "make_model", "SPIKE", "footer",
                "open_anomalies", "vehicle"):  # fmt: skip
        assert text(lang, key) in page, (lang, key)
    assert text(lang, "valid_until", date="2024-07-31") in page
    assert text(lang, "price", price=euros(lang, 1_050)) in page and cert.number in page
    assert "https://x.example/verify/n" in page and "<svg id='q'>" in page and "operator:desk" in page
    readings = re.findall(r'<td class="num">([^<]+)</td>', page)
    assert readings and all(value.endswith(" km") for value in readings)
    assert count(lang, 105_000) + " km" in page  # the latest reading, written the language's way
    if lang != "en":
        leftovers = [words for words in ENGLISH_ONLY if words in page]
        assert not leftovers, (lang, leftovers)
