"""Table routing for the API: a request for a key another worker owns is forwarded to it.

::

    request for key K ──key_partition(K)──► the partition ──owner_of (Faust's changelog distribution)──►
        this worker: answered here │ another: proxied (signed FORWARDED_HEADER, no client key) │ none known
        yet: 503 "retry"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiokafka.partitioner import murmur2
from yarl import URL

from streams.http import forwarding
from streams.http.auth import Principal
from streams.http.forwarding import FORWARDED_HEADER
from streams.http.guard import read_body
from streams.http.responses import error, wall_clock_ms

FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=5)
NOT_FORWARDED = frozenset({"host", "content-length", "authorization", "x-api-key", FORWARDED_HEADER.lower()})
"""Request headers a forward leaves out: the client's key stays with the worker it was given to."""


def key_partition(key: bytes, partitions: int) -> int:
    """The partition of ``key``: murmur2, as Kafka's Java client, aiokafka (Faust) and the confluent
    producer with ``murmur2_random`` place keyed messages (``streams.kafka.clients``)."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


def owner_of(app: Any, table_name: str, key: bytes, partitions: int) -> URL | None:
    """The web URL of the worker owning ``key``'s partition of table ``table_name`` (Faust's changelog
    distribution, exchanged by the assignor at each rebalance); None while no worker is known to own it.

    Not ``app.router.key_store``: that hashes with the Faust producer's partitioner, which needs the
    producer's metadata of the changelog topic, and the producer only fetches it once it has sent to the
    topic, which it never does for a table written through the confluent sink: ``TypeError`` (a 500)."""
    partition = key_partition(key, partitions)
    for host, topics in app.router.table_metadata(table_name).items():
        if any(partition in owned for owned in topics.values()):
            return URL(host)
    return None


def owned_here(app: Any, table_name: str, key: bytes, partitions: int) -> bool:
    """Whether this worker owns ``key``'s partition of table ``table_name``, by its own routing table."""
    dest = owner_of(app, table_name, key, partitions)
    own = app.conf.canonical_url
    return dest is not None and (dest.host, dest.port) == (own.host, own.port)


def make_forward(
    app: Any, tables: dict[str, str], partitions: int, secret: bytes,
    clock: Callable[[], int] = wall_clock_ms, body_timeout_s: float | None = 10.0,
) -> Callable[[web.Request, str, str, Principal], Any]:
    """Table routing: answer here when this worker owns ``key``'s partition, else proxy the request on behalf
    of its principal, signed with the group's ``secret`` (``streams.http.forwarding``), without the client's
    key. ``partitions``: the partition count of the tables (``settings.partitions``); ``body_timeout_s``:
    the deadline of the request's body."""

    async def forward(
        request: web.Request, table: str, key: str, principal: Principal
    ) -> web.StreamResponse | None:
        dest = owner_of(app, tables[table], key.encode("utf-8"), partitions)
        if dest is None or dest.host is None:
            return error(503, "the partition's owner is not known yet (rebalance under way); retry")
        own = app.conf.canonical_url
        if (dest.host, dest.port) == (own.host, own.port):
            return None
        url = request.url.with_host(dest.host).with_port(dest.port)
        body_in = await read_body(request, body_timeout_s)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
        headers[FORWARDED_HEADER] = forwarding.sign(secret, principal, request.method, str(request.rel_url),
                                                    body_in, clock())  # fmt: skip
        try:
            async with app.http_client.request(request.method, url, headers=headers, data=body_in,
                                               timeout=FORWARD_TIMEOUT) as r:  # fmt: skip
                body = await r.read()
                extra = {"Location": r.headers["Location"]} if "Location" in r.headers else None
                return web.Response(body=body, status=r.status, content_type=r.content_type, headers=extra)
        except (aiohttp.ClientError, TimeoutError):
            # The owner died and the group has not noticed yet (up to the session timeout): retryable.
            return error(503, "the partition's owner does not answer (failover under way); retry")

    return forward


Lookup = Callable[[str, str, str, Principal], Awaitable[tuple[int, bytes] | None]]
"""``lookup(table, key, path, principal)``: the status and body of ``GET path`` at the worker owning
``key``'s partition of ``table`` (asked on behalf of ``principal``), or None when this worker owns it."""


async def local_lookup(table: str, key: str, path: str, principal: Principal) -> tuple[int, bytes] | None:
    """The lookup of a single process: every key is local."""
    return None


def make_lookup(
    app: Any, tables: dict[str, str], partitions: int, secret: bytes, clock: Callable[[], int] = wall_clock_ms
) -> Lookup:
    """A :data:`Lookup` over the group: a signed GET (``streams.http.forwarding``) to the owner; a 503 when
    the owner is not known yet or does not answer (a rebalance or failover under way)."""

    async def lookup(table: str, key: str, path: str, principal: Principal) -> tuple[int, bytes] | None:
        dest = owner_of(app, tables[table], key.encode("utf-8"), partitions)
        if dest is None or dest.host is None:
            return 503, b""
        own = app.conf.canonical_url
        if (dest.host, dest.port) == (own.host, own.port):
            return None
        url = URL.build(scheme=dest.scheme or "http", host=dest.host, port=dest.port, path=path)
        headers = {FORWARDED_HEADER: forwarding.sign(secret, principal, "GET", path, b"", clock())}
        try:
            async with app.http_client.get(url, headers=headers, timeout=FORWARD_TIMEOUT) as r:
                return r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError):
            return 503, b""

    return lookup
