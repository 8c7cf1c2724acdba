"""Forwards between the workers of a group: signed with the shared secret, for one method, path, query
and body, for a short time; anything else is the 403 ``NOT_AUTHENTIC``."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.http.auth import AuthError, Principal, Role
from streams.http.forwarding import MAX_AGE_MS, sign, verify
from streams.http.secrets import SecretError, check_secret, load_secret

SECRET = b"s" * 32
DEALER = Principal("dealer-1", Role.DEALER)
GARAGE = Principal("garage-7", Role.PROVIDER, "0412345678")
PATH = "/vehicles/WVWZZZ1KZAW123456/ok-label?advertised_km=12000"
NOW = 1_764_000_000_000


@pytest.mark.parametrize("principal", [DEALER, GARAGE])
def test_a_forward_verifies_as_the_principal_it_was_made_for(principal: Principal) -> None:
    marker = sign(SECRET, principal, "GET", PATH, b"", NOW)
    assert verify(SECRET, marker, "GET", PATH, b"", NOW + MAX_AGE_MS) == principal
    assert verify(SECRET, marker, "get", PATH, b"", NOW - MAX_AGE_MS) == principal


@pytest.mark.parametrize(
    ("secret", "method", "path", "body", "now"),
    [
        (b"t" * 32, "GET", PATH, b"", NOW),  # another group's secret
        (SECRET, "POST", PATH, b"", NOW),  # another method
        (SECRET, "GET", PATH.replace("12000", "99999"), b"", NOW),  # another query
        (SECRET, "GET", "/vehicles/VF1AB000000000001/ok-label?advertised_km=12000", b"", NOW),  # another VIN
        (SECRET, "GET", PATH, b"{}", NOW),  # another body
        (SECRET, "GET", PATH, b"", NOW + MAX_AGE_MS + 1),  # too old
        (SECRET, "GET", PATH, b"", NOW - MAX_AGE_MS - 1),  # from the future
    ],
)
def test_a_forward_used_for_anything_else_does_not_verify(
    secret: bytes, method: str, path: str, body: bytes, now: int
) -> None:
    marker = sign(SECRET, DEALER, "GET", PATH, b"", NOW)
    with pytest.raises(AuthError) as refused:
        verify(secret, marker, method, path, body, now)
    assert refused.value.status == 403


def test_claims_cannot_be_changed_and_garbage_is_a_403_not_a_crash() -> None:
    marker = sign(SECRET, DEALER, "GET", PATH, b"", NOW)
    claims, mac = marker.split(".")
    operator = sign(SECRET, Principal("x", Role.OPERATOR), "GET", PATH, b"", NOW).split(".")[0]
    for bad in ("1", "", ".", f"{operator}.{mac}", f"{claims}.", f"{claims}.{mac[:-1]}0", "é.é", f"{claims}"):
        with pytest.raises(AuthError):
            verify(SECRET, bad, "GET", PATH, b"", NOW)


def test_a_secret_shorter_than_32_bytes_is_refused() -> None:
    assert check_secret(SECRET) == SECRET
    with pytest.raises(SecretError, match="31 bytes"):
        check_secret(b"s" * 31)


def test_a_secret_comes_from_its_file_or_in_development_only_from_nowhere(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text("  " + "a" * 64 + "\n")
    assert load_secret(str(file), "CARPASS_X_FILE", "x", False, b"dev") == b"a" * 64
    assert load_secret("", "CARPASS_X_FILE", "x", True, b"dev") == b"dev"
    with pytest.raises(SecretError, match="CARPASS_X_FILE is not set: signs things"):
        load_secret("", "CARPASS_X_FILE", "signs things", False, b"dev")
    with pytest.raises(SecretError, match="cannot read CARPASS_X_FILE"):
        load_secret(str(tmp_path / "missing"), "CARPASS_X_FILE", "x", True, b"dev")
    file.write_text("short")
    with pytest.raises(SecretError, match="5 bytes"):
        load_secret(str(file), "CARPASS_X_FILE", "x", True, b"dev")
