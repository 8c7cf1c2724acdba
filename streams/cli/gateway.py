"""``carpass gateway``: the HTTP front door for dealer-management software (DMS) that does not speak Kafka.

::

    DMS ──HTTP (API key = enterprise number)──► carpass gateway ──Avro──► odometer.readings,
        odometer.plate-readings, odometer.corrections, odometer.confirmations
    DMS ◄──receipt (status, error numbers, suggested values)── gateway ◄── odometer.receipts

  POST /observations                 a reading by VIN or plate          -> 202 {"request_id": ...}
  GET  /observations/ID?wait_s=5     its receipt, or PENDING (long-poll up to wait_s)
  POST /corrections                  correct an error number once (or withdraw)
  POST /observations/ID/confirm      state that a flagged reading is right
  GET  /health                       200 once the recent receipts are read

Stateless: start as many as you like behind a load balancer (each follows the whole receipts topic);
terminate TLS at the balancer.
Keys: CARPASS_API_KEYS_FILE (provider keys carry their provider_id). Example:

  CARPASS_API_KEYS_FILE=keys.json carpass gateway
  curl -s -H 'Authorization: Bearer KEY' -d @reading.json http://127.0.0.1:8088/observations
"""

from __future__ import annotations

import argparse
import asyncio

from streams.cli import CliError
from streams.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gateway`` to the ``carpass`` parser."""
    gateway = subparsers.add_parser(
        "gateway", help="the HTTP gateway for DMS software: readings in, receipts out (port 8088)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    gateway.add_argument("--port", type=int, help="listen on this port (default: CARPASS_GATEWAY_PORT)")
    gateway.set_defaults(handler=cmd_gateway)


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from confluent_kafka import KafkaException

    from streams.gateway.server import gateway_id_secret, gateway_keys, run
    from streams.http.auth import ApiKeysError
    from streams.http.secrets import SecretError
    from streams.kafka.admin import TopicSetupError, ensure_topics

    if args.port is not None:
        settings = dataclasses.replace(settings, gateway_port=args.port)
    try:
        gateway_keys(settings)  # a bad keys file is refused before touching Kafka
        gateway_id_secret(settings)  # so is a missing secret
        ensure_topics(settings)
        asyncio.run(run(settings))
    except (TopicSetupError, ApiKeysError, SecretError, KafkaException, OSError) as exc:
        raise CliError(str(exc)) from exc
    return 0
