"""What both HTTP services (the worker's API, the inflow gateway) answer with and read the time from."""

from __future__ import annotations

import math
import time

from aiohttp import web


def error(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status)


def too_many(wait_s: float, message: str) -> web.Response:
    """A 429 with ``Retry-After`` (whole seconds, at least 1)."""
    retry = str(max(1, math.ceil(wait_s)))
    return web.json_response({"error": f"{message}: retry after {retry} s"}, status=429,
                             headers={"Retry-After": retry})  # fmt: skip


def client_address(request: web.BaseRequest) -> str:
    """The TCP peer of ``request`` (never a header a client writes)."""
    return request.remote or "unknown"


def wall_clock_ms() -> int:
    """Now, in epoch milliseconds (a service's default clock; tests pass their own)."""
    return time.time_ns() // 1_000_000


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # receipts, histories and certificates are personal data: never cached
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
"""Set on every response of both services (the certificate page has only inline CSS and SVG)."""


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An aiohttp ``on_response_prepare`` signal handler setting :data:`SECURITY_HEADERS`."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
