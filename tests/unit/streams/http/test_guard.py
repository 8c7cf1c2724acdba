"""The connection guard on a real aiohttp server on loopback: half-sent requests and idle connections are
closed, a long request is not, the connection cap holds, and a trickled body is cut."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from streams.http.guard import ConnectionGuard, GuardedSite, read_body

IDLE_S = 0.5


@asynccontextmanager
async def served(max_connections: int = 10) -> AsyncIterator[tuple[int, ConnectionGuard]]:
    guard = ConnectionGuard(max_connections, IDLE_S)

    async def quick(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(4 * IDLE_S)  # a long-poll: longer than the idle deadline
        return web.Response(text="late")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await read_body(request, IDLE_S))

    app = web.Application(middlewares=[guard.middleware])
    app.add_routes([web.get("/quick", quick), web.get("/slow", slow), web.post("/echo", echo)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, guard)
    await site.start()
    assert site.bound_port
    try:
        yield site.bound_port, guard
    finally:
        await runner.cleanup()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Seconds until the server closes the connection (reads and drops what it sends)."""
    started = time.monotonic()
    while await asyncio.wait_for(reader.read(65536), seconds):
        pass
    return time.monotonic() - started


async def request(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    return answer


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def test_a_half_sent_request_and_an_idle_connection_are_closed() -> None:
    async def test() -> None:
        async with served() as (port, guard):
            half = await asyncio.open_connection("127.0.0.1", port)
            half[1].write(b"GET /quick HTTP/1.1\r\nHost: a\r\n")  # no end of head, ever
            silent = await asyncio.open_connection("127.0.0.1", port)
            assert await closed_within(half[0], 10) < 5
            assert await closed_within(silent[0], 10) < 5
            assert guard.timed_out == 2 and guard.open == 0
            for _, writer in (half, silent):
                writer.close()

    run(test)


def test_keep_alive_requests_and_a_long_request_are_served() -> None:
    async def test() -> None:
        async with served() as (port, guard):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(2):
                writer.write(b"GET /quick HTTP/1.1\r\nHost: a\r\n\r\n")
                assert b"200 OK" in await asyncio.wait_for(reader.read(65536), 10)
            writer.write(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(65536), 10)
            assert b"200 OK" in answer and b"late" in answer  # busy in its handler: no deadline
            assert await closed_within(reader, 10) < 5  # then idle: closed
            assert guard.timed_out == 1
            writer.close()

    run(test)


def test_the_connection_cap_refuses_the_next_connection_and_frees_on_close() -> None:
    async def test() -> None:
        async with served(max_connections=2) as (port, guard):
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            await asyncio.sleep(0.05)
            extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
            with contextlib.suppress(ConnectionResetError):  # aborted: a reset is the other way to see it
                assert await closed_within(extra_reader, 2) < 1
            assert guard.refused == 1 and guard.open == 2
            for _, writer in held:
                writer.close()
            extra_writer.close()
            await asyncio.sleep(0.1)
            assert guard.open == 0
            assert b"200 OK" in await request(port, b"GET /quick HTTP/1.1\r\nHost: a\r\n\r\n")

    run(test)


def test_a_trickled_body_is_cut_with_a_408() -> None:
    async def test() -> None:
        async with served() as (port, _):
            whole = await request(port, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
            assert b"200 OK" in whole and whole.endswith(b"hello")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly ten b")
            answer = await asyncio.wait_for(reader.read(65536), 10)
            assert b" 408 " in answer.split(b"\r\n")[0] and b"did not arrive within" in answer
            assert await closed_within(reader, 10) < 5
            writer.close()

    run(test)
