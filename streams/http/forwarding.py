"""API requests forwarded between the workers of one group, authenticated with a secret they share.

::

    client ──Bearer key──► worker A: authenticates the key ──► Principal
       A does not own the key's partition ──► worker B, without the client's key, with
           X-Carpass-Forwarded: <claims>.<HMAC-SHA256(secret, claims, method, path + query, body's SHA-256)>
       B: the marker verifies (the secret, within MAX_AGE_MS) ──► the principal of the claims, answered here
          no marker ──► an ordinary request (its own key, its own routing)
          a marker that does not verify ──► 403, whatever else the request carries

So a client cannot pass for a forward (the marker used to be "1", honoured from anyone: a request marked
forwarded was answered by whichever worker received it, with no routing), and the client's key never
travels to whatever URL a group member advertises. The claims are the principal (name, role, provider id)
and the time of the forward; a captured forward can be replayed to the same path for ``MAX_AGE_MS`` at most.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from streams.http.auth import AuthError, Principal, Role

FORWARDED_HEADER = "X-Carpass-Forwarded"
MAX_AGE_MS = 30_000
"""How old (or how far in the future: clocks differ) a forward may be when it arrives."""
NOT_AUTHENTIC = AuthError(403, "a forwarded request that does not verify")


def _mac(secret: bytes, claims: str, method: str, path_qs: str, body: bytes) -> str:
    message = "\n".join((claims, method.upper(), path_qs, hashlib.sha256(body).hexdigest()))
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(secret: bytes, principal: Principal, method: str, path_qs: str, body: bytes, now_ms: int) -> str:
    """The marker of a forward of ``method path_qs`` with ``body`` on behalf of ``principal``."""
    fields = {"n": principal.name, "r": principal.role.value, "p": principal.provider_id, "t": now_ms}
    raw = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")
    claims = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return f"{claims}.{_mac(secret, claims, method, path_qs, body)}"


def verify(secret: bytes, marker: str, method: str, path_qs: str, body: bytes, now_ms: int) -> Principal:
    """The principal a forward with ``marker`` was made for; :data:`NOT_AUTHENTIC` (a 403 ``AuthError``)
    when it was not signed with ``secret`` for this method, path, query and body, or is too old."""
    claims, _, mac = marker.partition(".")
    expected = _mac(secret, claims, method, path_qs, body).encode("ascii")
    if not claims or not hmac.compare_digest(mac.encode("ascii", "replace"), expected):
        raise NOT_AUTHENTIC
    try:
        fields = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        principal = Principal(str(fields["n"]), Role(fields["r"]), fields["p"])
        sent_ms = int(fields["t"])
    except (ValueError, KeyError, TypeError) as exc:  # signed by us, so never: but never a 500 either
        raise NOT_AUTHENTIC from exc
    if abs(now_ms - sent_ms) > MAX_AGE_MS:
        raise NOT_AUTHENTIC
    return principal
