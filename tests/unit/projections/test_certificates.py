"""Certificates (R11, R16): fee rule, number, validity, Ed25519 signature, tampering, keys from settings."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from dataclasses import replace
from hashlib import sha256
from pathlib import Path

import pytest

from projections.certificates import (
    FEE_CENTS,
    CertificateError,
    CertificateSigner,
    FeeRule,
    IssuedCertificate,
    SigningKeyError,
    VerificationKeys,
    canonical_json,
    certificate_number,
    fee_of,
    issue,
    load_signer,
    load_verification_keys,
    verify,
)
from projections.views import certificate_view
from schemas.codec import decode, encode
from schemas.records import CertificateIssued
from streams.settings import Settings
from tests.unit.projections.builders import VIN, clean_old_vehicle, day, ms

SIGNER = CertificateSigner.generate()


@pytest.mark.parametrize(
    ("days", "free"),
    [
        ([], True),
        ([day(2024, 1, 1)], True),
        ([day(2024, 1, 1), day(2024, 2, 29), day(2024, 4, 28)], True),  # 3 readings, each < 2 months apart
        ([day(2024, 1, 1), day(2024, 3, 1)], False),  # exactly 2 months apart: not "less than"
        ([day(2020, 1, 1), day(2022, 1, 1), day(2024, 1, 1)], False),  # few, but years apart
        ([day(2024, 1, 1) + i for i in range(4)], False),  # close, but 4 readings
    ],
)
def test_r11_fee_rule(days: list[int], free: bool) -> None:
    assert fee_of(days) == ((0, FeeRule.FREE_FEW_CLOSE_READINGS) if free else (FEE_CENTS, FeeRule.STANDARD))


def _issued() -> IssuedCertificate:
    return issue(certificate_view(clean_old_vehicle(), ms(2024, 3, 2)), "evt-1", ms(2024, 12, 31, 23), SIGNER)


def test_number_is_deterministic_and_unique_per_issuance() -> None:
    cert = _issued()
    assert cert.number == certificate_number(VIN, "evt-1") == _issued().number
    assert certificate_number(VIN, "evt-2") != cert.number
    assert certificate_number("WVWZZZ1JZXW000002", "evt-1") != cert.number


def test_dates_are_brussels_days_and_validity_is_two_months() -> None:
    cert = _issued()  # 2024-12-31 23:00 UTC is 2025-01-01 in Brussels
    assert cert.issue_date == day(2025, 1, 1) and cert.valid_until == day(2025, 2, 28)
    assert cert.is_valid_on(day(2025, 2, 28)) and not cert.is_valid_on(day(2025, 3, 1))
    assert cert.fee_cents == FEE_CENTS


def test_signature_verifies_is_deterministic_and_any_change_breaks_it() -> None:
    cert = _issued()
    assert verify(cert, SIGNER) and cert.signature == _issued().signature
    content = json.loads(cert.content_json)
    content["readings"][0]["odometer_value"] += 1
    assert not verify(replace(cert, content_json=json.dumps(content)), SIGNER)
    for change in ({"valid_until": cert.valid_until + 30}, {"fee_cents": 0}, {"vin": "WVWZZZ1JZXW000002"}):
        assert not verify(replace(cert, **change), SIGNER)  # type: ignore[arg-type]
    assert not verify(replace(cert, signature="not base64!"), SIGNER)
    assert not verify(cert, CertificateSigner.generate())


def test_a_rotated_key_keeps_the_certificates_it_signed_verifiable_by_key_id(tmp_path: Path) -> None:
    old = _issued()  # signed by SIGNER
    new_signer = CertificateSigner.generate()
    assert not verify(old, new_signer)  # rotated without the old public key: every older one "not authentic"
    retired = tmp_path / "retired.pem"
    other = CertificateSigner.generate()
    retired.write_text(other.public_pem() + "\n" + SIGNER.public_pem())  # two earlier keys, any order
    settings = Settings.from_env({"CARPASS_CERTIFICATE_RETIRED_KEYS_FILE": str(retired)})
    keys = load_verification_keys(settings, new_signer)
    assert keys.key_ids == sorted({new_signer.key_id, other.key_id, SIGNER.key_id})
    assert verify(old, keys) and keys.public_pem(old.key_id) == SIGNER.public_pem()
    view = certificate_view(clean_old_vehicle(), ms(2024, 6, 1))
    fresh = issue(view, "sale-new", ms(2024, 6, 1), new_signer)
    assert verify(fresh, keys)
    assert not verify(replace(old, key_id=new_signer.key_id), keys)  # the key id names the key that signed
    assert not verify(replace(old, key_id="0" * 16), keys) and keys.public_pem("0" * 16) is None
    retired.write_text("-----BEGIN PRIVATE KEY-----\nnot this\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningKeyError, match=r"CARPASS_CERTIFICATE_RETIRED_KEYS_FILE .*no PEM public key"):
        load_verification_keys(settings, new_signer)
    assert VerificationKeys.of_signer(new_signer).key_ids == [new_signer.key_id]
    assert [k["current"] for k in keys.published()["keys"]].count(True) == 1


def test_document_round_trip_keeps_the_signature_valid() -> None:
    cert = _issued()
    again = IssuedCertificate.from_json_obj(json.loads(json.dumps(cert.to_json_obj())))
    assert again == cert and verify(again, SIGNER)


def test_the_issuance_record_round_trips_through_avro_with_its_signature_valid() -> None:
    cert = issue(certificate_view(clean_old_vehicle(), ms(2024, 3, 1)), "sale-42", ms(2024, 6, 1, 12), SIGNER,
                 issuer="provider:0200000001", language="nl")  # fmt: skip
    record = decode(encode(cert.to_record()))
    assert isinstance(record, CertificateIssued) and record.content_sha256 == sha256(
        record.content_json.encode()).hexdigest()  # fmt: skip
    again = IssuedCertificate.from_record(record)
    assert again == cert and verify(again, SIGNER)
    assert again.signed_payload()["issuer"] == "provider:0200000001"  # signed: not changeable unnoticed
    assert not verify(replace(again, issuer="operator:someone"), SIGNER)
    with pytest.raises(CertificateError, match="content_sha256"):
        IssuedCertificate.from_record(replace(record, content_json=record.content_json.replace("105", "104")))
    with pytest.raises(CertificateError, match="FeeRule"):
        IssuedCertificate.from_record(replace(record, fee_rule="CHEAP"))


def test_a_certificate_issued_before_issuers_were_recorded_still_verifies() -> None:
    old = _issued()  # no issuer, no language: its signed payload has neither
    assert old.issuer is None
    legacy = replace(old, language=None)
    signed = SIGNER.sign(canonical_json(replace(legacy, signature="").signed_payload()))
    legacy = replace(legacy, signature=base64.b64encode(signed).decode())
    document = legacy.to_json_obj()
    assert "issuer" not in document and "language" not in document
    assert verify(IssuedCertificate.from_json_obj(document), SIGNER)


def test_without_a_key_file_a_worker_refuses_to_sign_unless_in_development(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings.from_env({}), cache_dir=tmp_path)
    with pytest.raises(SigningKeyError, match="CARPASS_CERTIFICATE_SIGNING_KEY_FILE is not set"):
        load_signer(settings)
    assert not (tmp_path / "dev-certificate-signing-key.pem").exists()


def test_dev_key_is_generated_once_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = dataclasses.replace(Settings.from_env({"CARPASS_DEVELOPMENT": "1"}), cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        first = load_signer(settings)
    assert "development key" in caplog.text
    key_file = tmp_path / "dev-certificate-signing-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_signer(settings).key_id == first.key_id


def test_configured_key_is_used_and_a_bad_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(SIGNER.private_pem())
    env = {"CARPASS_CERTIFICATE_SIGNING_KEY_FILE": str(path), "CARPASS_CACHE_DIR": str(tmp_path / "c")}
    assert load_signer(Settings.from_env(env)).key_id == SIGNER.key_id
    path.write_text("not a key")
    with pytest.raises(SigningKeyError):
        load_signer(Settings.from_env(env))
