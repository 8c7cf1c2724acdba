"""What both HTTP services (the worker's API, the inflow gateway) answer with and read the time from."""

from __future__ import annotations

import time

from aiohttp import web


def error(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status)


def wall_clock_ms() -> int:
    """Now, in epoch milliseconds (a service's default clock; tests pass their own)."""
    return time.time_ns() // 1_000_000
