"""Secrets read from files named by settings (the workers' forward secret, the gateway's id secret).

A secret is the file's bytes, surrounding white space stripped, 32 bytes or more (``openssl rand -hex 32``).
No file: refused with what to do, unless in development, where a well-known secret serves (with a warning
by the caller): never in production, where every instance must share one real secret.
"""

from __future__ import annotations

from pathlib import Path

MIN_SECRET_BYTES = 32


class SecretError(ValueError):
    """A secret file that is missing, unreadable or too short, said with the setting that names it."""


def check_secret(secret: bytes, where: str = "the secret") -> bytes:
    """``secret`` if it is long enough to key an HMAC (32 bytes or more), else :class:`SecretError`."""
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"{where} has {len(secret)} bytes, fewer than {MIN_SECRET_BYTES}")
    return secret


def load_secret(path: str, setting: str, purpose: str, development: bool, development_secret: bytes) -> bytes:
    """The secret in file ``path`` (named by setting ``setting``); without a file, ``development_secret`` in
    development, else :class:`SecretError` saying what the secret is for (``purpose``) and how to make one."""
    if path:
        file = Path(path).expanduser()
        try:
            return check_secret(file.read_bytes().strip(), f"{setting} {file}")
        except OSError as exc:
            raise SecretError(f"cannot read {setting}: {exc}") from exc
    if not development:
        raise SecretError(
            f"{setting} is not set: {purpose} (the same file on every instance: `openssl rand -hex 32 > F`), "
            "or set CARPASS_DEVELOPMENT=1 on a developer's machine"
        )
    return development_secret
