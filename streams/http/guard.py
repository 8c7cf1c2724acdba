"""Connection limits of both HTTP services (the worker's port also answers health checks and ``/metrics``):
a cap on open connections, and a deadline for an incomplete or idle connection.

::

    accept ──open connections ≥ max_connections──► closed at once (``refused``)
           └─► aiohttp's protocol, behind a proxy protocol that holds a deadline:
                 connected / a request answered ──► a complete request head within ``idle_timeout_s``,
                                                    else closed (``timed_out``)
                 a request being handled ─────────► no deadline (a long-poll may wait 30 s)
                 reading a request's body ────────► :func:`read_body`, within ``idle_timeout_s``

A client that opens a connection and sends half a request head (or nothing) is closed after
``idle_timeout_s``; so is an idle keep-alive connection. The deadline is checked when it falls due: a
connection with a request in a handler, or with a response still being written, gets a new one.

aiohttp sees only ordinary protocol calls (``asyncio.Protocol``); the guard knows a request's head is
complete when :meth:`ConnectionGuard.middleware` runs for it (``request.transport`` names the connection).
Everything here is public asyncio and aiohttp API; installing the guard in Faust's web server is
``streams.worker.faust.patches.guard_web_connections``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from streams.http.responses import error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConnectionGuard:
    """Counts and limits the connections of one listening server."""

    def __init__(self, max_connections: int, idle_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.open = 0
        self.refused = 0
        self.timed_out = 0
        self._connections: dict[Any, _Guarded] = {}

    def protocol_factory(self, inner: Callable[[], asyncio.BaseProtocol]) -> Callable[[], asyncio.Protocol]:
        """A factory for ``loop.create_server`` wrapping ``inner`` (aiohttp's ``runner.server``)."""
        return lambda: _Guarded(self, inner)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Marks the connection busy while ``handler`` runs (its head is complete)."""
        connection = self._connections.get(request.transport)
        if connection is None:  # not accepted through the guard (a test server)
            return await handler(request)
        connection.busy += 1
        try:
            return await handler(request)
        finally:
            connection.busy -= 1
            connection.arm()


class GuardedSite(web.BaseSite):
    """An aiohttp TCP site whose connections go through ``guard`` (``web.TCPSite`` otherwise)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner)
        self.host, self.requested_port, self.guard = host, port, guard
        self.bound_port: int | None = None

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.bound_port or self.requested_port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None, "the runner is not set up"
        listening = await asyncio.get_running_loop().create_server(
            self.guard.protocol_factory(server), self.host, self.requested_port
        )
        self._server = listening
        self.bound_port = listening.sockets[0].getsockname()[1] if listening.sockets else None


async def read_body(request: web.BaseRequest, timeout_s: float | None) -> bytes:
    """The body of ``request``, read within ``timeout_s``; else a 408 :class:`web.HTTPException`, after which
    the connection is closed (a client sending a byte a second cannot hold it). ``None``: no deadline."""
    try:
        return await asyncio.wait_for(request.read(), timeout_s)
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=error(408, f"the request body did not arrive within {timeout_s:g} s").text,
            content_type="application/json", headers={"Connection": "close"},
        ) from None  # fmt: skip


class _Guarded(asyncio.Protocol):
    """Passes every call to aiohttp's protocol; closes the connection when its deadline passes idle."""

    def __init__(self, guard: ConnectionGuard, inner: Callable[[], asyncio.BaseProtocol]) -> None:
        self.guard = guard
        self.inner: Any = None
        self.factory = inner
        self.transport: asyncio.Transport | None = None
        self.busy = 0
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        guard = self.guard
        assert isinstance(transport, asyncio.Transport)
        if guard.open >= guard.max_connections > 0:
            guard.refused += 1
            transport.abort()
            return
        guard.open += 1
        self.transport = transport
        guard._connections[transport] = self
        self.inner = self.factory()
        self.inner.connection_made(transport)
        self.arm()

    def arm(self) -> None:
        """A new deadline from now (a request was answered, or the connection is new)."""
        if self.deadline is not None:
            self.deadline.cancel()
        if self.transport is not None and self.guard.idle_timeout_s > 0:
            loop = asyncio.get_running_loop()
            self.deadline = loop.call_later(self.guard.idle_timeout_s, self._expire)

    def _expire(self) -> None:
        self.deadline = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.busy or transport.get_write_buffer_size():
            self.arm()  # a request in a handler, or its response still going out: look again later
            return
        self.guard.timed_out += 1
        transport.close()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:  # refused at connection_made
            return
        if self.deadline is not None:
            self.deadline.cancel()
        self.guard.open -= 1
        self.guard._connections.pop(self.transport, None)
        self.transport = None
        self.inner.connection_lost(exc)
