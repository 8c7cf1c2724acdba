"""TLS and SASL for every Kafka client from the settings, built in one place (streams.kafka.clients), and
the password kept out of repr, ``carpass config``, ``--help`` and error messages."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import ssl
from pathlib import Path

import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from streams.cli import build_parser, main
from streams.kafka.clients import (
    admin_config,
    aiokafka_security,
    consumer_config,
    kafka_security,
    producer_config,
    security_config,
)
from streams.settings import Settings, SettingsError
from streams.worker.faust.app import faust_credentials

SECRET = "s3cr3t-Pa55-do-not-show"
SASL = {
    "CARPASS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "CARPASS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "CARPASS_KAFKA_SASL_USERNAME": "carpass-worker",
    "CARPASS_KAFKA_SASL_PASSWORD": SECRET,
}


@pytest.fixture
def cleared_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("CARPASS_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    return monkeypatch


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (usable as CA and as client certificate) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "carpass-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = directory / "ca.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def test_plaintext_by_default_adds_nothing_but_the_protocol() -> None:
    settings = Settings.from_env({})
    assert security_config(settings) == {"security.protocol": "PLAINTEXT"}
    assert aiokafka_security(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None
    assert not any(key.startswith(("sasl.", "ssl.")) for key in producer_config(settings))


def test_sasl_reaches_every_confluent_client_and_faust() -> None:
    settings = Settings.from_env(SASL)
    expected = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "carpass-worker", "sasl.password": SECRET}  # fmt: skip
    for config in (producer_config(settings), consumer_config(settings, "g"), admin_config(settings)):
        assert expected.items() <= config.items()
    assert aiokafka_security(settings) == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "carpass-worker", "sasl_plain_password": SECRET,
    }  # fmt: skip
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("carpass-worker", SECRET)
    assert SECRET not in repr(credentials)


def test_mechanism_and_protocol_are_case_insensitive() -> None:
    settings = Settings.from_env({**SASL, "CARPASS_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
                                  "CARPASS_KAFKA_SASL_MECHANISM": "plain"})  # fmt: skip
    assert security_config(settings)["sasl.mechanism"] == "PLAIN"
    assert security_config(settings)["security.protocol"] == "SASL_PLAINTEXT"


def test_sasl_over_tls_with_a_ca_file(tmp_path: Path) -> None:
    ca, _ = self_signed(tmp_path)
    settings = Settings.from_env({**SASL, "CARPASS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                  "CARPASS_KAFKA_SSL_CA_FILE": str(ca)})  # fmt: skip
    config = security_config(settings)
    assert config["security.protocol"] == "SASL_SSL" and config["ssl.ca.location"] == str(ca)
    assert "ssl.certificate.location" not in config
    kwargs = aiokafka_security(settings)
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED and kwargs["ssl_context"].check_hostname
    credentials = faust_credentials(settings)
    assert credentials.protocol.value == "SASL_SSL" and isinstance(credentials.ssl_context, ssl.SSLContext)


def test_mutual_tls(tmp_path: Path) -> None:
    ca, key = self_signed(tmp_path)
    settings = Settings.from_env({
        "CARPASS_KAFKA_SECURITY_PROTOCOL": "SSL", "CARPASS_KAFKA_SSL_CA_FILE": str(ca),
        "CARPASS_KAFKA_SSL_CERT_FILE": str(ca), "CARPASS_KAFKA_SSL_KEY_FILE": str(key),
    })  # fmt: skip
    assert security_config(settings) == {
        "security.protocol": "SSL", "ssl.ca.location": str(ca), "ssl.certificate.location": str(ca),
        "ssl.key.location": str(key),
    }  # fmt: skip
    assert "sasl_mechanism" not in aiokafka_security(settings)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials) and credentials.protocol.value == "SSL"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CARPASS_KAFKA_SECURITY_PROTOCOL": "SASL"}, "not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({**SASL, "CARPASS_KAFKA_SASL_MECHANISM": "GSSAPI"}, "not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA"),
        ({**SASL, "CARPASS_KAFKA_SASL_USERNAME": ""}, "needs CARPASS_KAFKA_SASL_USERNAME"),
        ({**SASL, "CARPASS_KAFKA_SASL_PASSWORD": ""}, "needs CARPASS_KAFKA_SASL_PASSWORD"),
        ({"CARPASS_KAFKA_SSL_CERT_FILE": "c.pem"}, "SSL_CERT_FILE and CARPASS_KAFKA_SSL_KEY_FILE go"),
        ({"CARPASS_STANDBY_REPLICAS": "-1"}, "CARPASS_STANDBY_REPLICAS=-1"),
    ],
)
def test_inconsistent_security_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env({**env, "CARPASS_KAFKA_SSL_KEY_PASSWORD": SECRET})
    assert SECRET not in str(caught.value)


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    settings = Settings.from_env({**SASL, "CARPASS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                  "CARPASS_KAFKA_SSL_CA_FILE": str(tmp_path / "nope.pem")})  # fmt: skip
    with pytest.raises(SettingsError, match=r"CARPASS_KAFKA_SSL_CA_FILE='.*nope.pem': no such") as caught:
        producer_config(settings)
    assert SECRET not in str(caught.value)


def test_secrets_are_not_in_reprs() -> None:
    settings = Settings.from_env({**SASL, "CARPASS_KAFKA_SSL_KEY_PASSWORD": SECRET + "-key"})
    assert "carpass-worker" in repr(settings) and SECRET not in repr(settings)
    assert SECRET not in repr(kafka_security(settings))
    assert SECRET not in repr(dataclasses.replace(settings, partitions=8))


def test_carpass_config_masks_the_passwords(
    cleared_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**SASL, "CARPASS_KAFKA_SSL_KEY_PASSWORD": SECRET + "-key"}.items():
        cleared_env.setenv(name, value)
    assert main(["config"]) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert "CARPASS_KAFKA_SASL_PASSWORD=****  [env]" in out
    assert "CARPASS_KAFKA_SASL_USERNAME=carpass-worker  [env]" in out


def _commands(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
    """Every command line of the parser tree: [], [config], [topics], [topics, create], ..."""
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, [*prefix, name])
    return found


def test_no_help_shows_the_password(
    cleared_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SASL.items():
        cleared_env.setenv(name, value)
    commands = _commands(build_parser(), [])
    assert ["topics", "create"] in commands and len(commands) > 10
    for command in commands:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        out, err = capsys.readouterr()
        assert out and SECRET not in out + err, command


def test_a_cli_error_about_security_settings_does_not_show_the_password(
    cleared_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**SASL, "CARPASS_KAFKA_SASL_MECHANISM": "MD5"}.items():
        cleared_env.setenv(name, value)
    assert main(["topics", "list"]) == 2
    _, err = capsys.readouterr()
    assert "CARPASS_KAFKA_SASL_MECHANISM='MD5' is not one of" in err and SECRET not in err
