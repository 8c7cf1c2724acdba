"""``carpass verify``: a certificate checked offline with the registry's published keys, as a buyer would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projections.certificates import CertificateSigner, VerificationKeys, issue
from projections.views import certificate_view
from streams.cli import main
from tests.unit.projections.builders import clean_old_vehicle, ms


def _files(tmp_path: Path) -> tuple[Path, Path, CertificateSigner, dict[str, object]]:
    signer = CertificateSigner.generate()
    cert = issue(certificate_view(clean_old_vehicle(), ms(2024, 3, 2)), "sale-1", ms(2024, 6, 1), signer)
    document = cert.to_json_obj()
    cert_file, keys_file = tmp_path / "certificate.json", tmp_path / "keys.json"
    cert_file.write_text(json.dumps(document))
    keys_file.write_text(json.dumps(VerificationKeys.of_signer(signer).published()))
    return cert_file, keys_file, signer, document


def test_an_authentic_certificate_verifies_with_the_published_keys_or_a_pem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_file, keys_file, signer, _ = _files(tmp_path)
    assert main(["verify", str(cert_file), "--keys", str(keys_file)]) == 0
    out = capsys.readouterr().out
    assert "AUTHENTIC" in out and "NOT" not in out and "valid until 2024-07-31" in out
    pem = tmp_path / "keys.pem"
    pem.write_text(CertificateSigner.generate().public_pem() + signer.public_pem())
    assert main(["verify", str(cert_file), "--keys", str(pem)]) == 0


def test_a_changed_or_foreign_certificate_is_not_authentic_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_file, keys_file, _, document = _files(tmp_path)
    forged = json.loads(json.dumps(document))
    forged["certificate"]["readings"][-1]["odometer_value"] = 5
    cert_file.write_text(json.dumps(forged))
    assert main(["verify", str(cert_file), "--keys", str(keys_file)]) == 1
    assert "something it certifies was changed" in capsys.readouterr().out
    cert_file.write_text(json.dumps({"authentic": True, "certificate": {**document, "key_id": "0" * 16}}))
    assert main(["verify", str(cert_file), "--keys", str(keys_file)]) == 1
    assert f"names key {'0' * 16}, which is not in" in capsys.readouterr().out


def test_unreadable_inputs_are_errors_with_the_file_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_file, keys_file, _, _ = _files(tmp_path)
    (tmp_path / "bad.json").write_text('{"number": 1}')
    assert main(["verify", str(tmp_path / "bad.json"), "--keys", str(keys_file)]) == 2
    assert "not a certificate document" in capsys.readouterr().err
    assert main(["verify", str(cert_file), "--keys", str(tmp_path / "missing")]) == 2
    assert "cannot read the key set" in capsys.readouterr().err
    (tmp_path / "nokeys.pem").write_text("hello")
    assert main(["verify", str(cert_file), "--keys", str(tmp_path / "nokeys.pem")]) == 2
    assert "no PEM public key" in capsys.readouterr().err
