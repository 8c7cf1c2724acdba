"""``run(settings)``: one gateway process: producer, receipt follower, HTTP server, until a signal.

::

    settings ──ApiKeys.from_file──► keys      ──EventProducer──► publish (awaits acks)
             ──ReceiptFollower(odometer.receipts, window)──► Gateway.add_receipts
             ──aiohttp TCPSite(gateway_bind, gateway_port)──► Gateway routes; SIGTERM/SIGINT stop
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web

from streams.gateway.kafka import EventProducer, ReceiptFollower
from streams.gateway.service import DEVELOPMENT_ID_SECRET, Gateway
from streams.http.auth import ApiKeys, ApiKeysError
from streams.http.guard import GuardedSite
from streams.http.secrets import load_secret
from streams.kafka.clients import build_codec
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings


def gateway_id_secret(settings: Settings) -> bytes:
    """The gateway's id secret (``settings.gateway_secret_file``); the development one, with a warning, in
    development only; :class:`~streams.http.secrets.SecretError` otherwise."""
    purpose = ("the gateway derives each request's event id from it, so that a retry to any instance is the "
               "same event and nobody else can compute a provider's event ids")  # fmt: skip
    secret = load_secret(settings.gateway_secret_file, "CARPASS_GATEWAY_SECRET_FILE", purpose,
                         settings.development, DEVELOPMENT_ID_SECRET)  # fmt: skip
    if secret is DEVELOPMENT_ID_SECRET:
        logging.getLogger(__name__).warning("CARPASS_GATEWAY_SECRET_FILE is not set: event ids are derived "
                                            "with a development secret")  # fmt: skip
    return secret


def gateway_keys(settings: Settings) -> ApiKeys:
    """The API keys of ``settings``; :class:`~streams.http.auth.ApiKeysError` for a bad file, or one with a
    provider key that does not say its ``provider_kind`` (the gateway takes a reading's kind and origin
    from its sender's key)."""
    keys = ApiKeys.from_file(settings.api_keys_file)
    unkinded = keys.providers_without_kind()
    if unkinded:
        listed = ", ".join(unkinded[:10]) + (f" and {len(unkinded) - 10} more" if len(unkinded) > 10 else "")
        raise ApiKeysError(
            f"{settings.api_keys_file}: provider keys without a provider_kind ({listed}): the gateway takes "
            "a reading's provider kind and origin from its key, never from the body; add \"provider_kind\" "
            "(and \"origins\" when not the kind's usual ones) to each"
        )
    return keys


async def run(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or until cancelled); ``ready`` is set once the port is open."""
    keys = gateway_keys(settings)
    id_secret = gateway_id_secret(settings)
    codec = build_codec(settings)
    loop = asyncio.get_running_loop()
    producer = EventProducer(settings)
    gateway = Gateway(settings, keys, producer.send, codec, id_secret=id_secret)
    follower = ReceiptFollower(
        settings, PipelineTopics(settings.topic_prefix).receipts, codec, gateway.add_receipts, loop,
        window_s=settings.gateway_receipts_window_s,
    )  # fmt: skip
    gateway.health = lambda: {"caught_up": follower.caught_up, "receipts_read": follower.received}
    runner = web.AppRunner(gateway.application(), access_log=None)
    try:
        await loop.run_in_executor(None, follower.start)
        await runner.setup()
        await GuardedSite(runner, settings.gateway_bind, settings.gateway_port, gateway.connections).start()
        print(
            f"carpass gateway: http://{settings.gateway_bind}:{settings.gateway_port} "
            f"(topic prefix {settings.topic_prefix!r}, receipts of the last "
            f"{settings.gateway_receipts_window_s:g} s)",
            file=sys.stderr, flush=True,
        )  # fmt: skip
        if ready is not None:
            ready.set()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        follower.close()
        producer.close()
