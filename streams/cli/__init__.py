"""``carpass``: the command line of carpass-streams.

Each command group lives in its own module with a ``register(subparsers)`` function; the settings object is
built here, once, and handed to the command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from streams.settings import Settings, SettingsError


class CliError(Exception):
    """An error meant for the user: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carpass",
        description=(
            "carpass-streams: odometer readings in, trend breaks, receipts and certificates out, "
            "on Apache Kafka. Configuration comes from CARPASS_* environment variables (see README)."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The command modules import CliError from here: imported once it exists. In --help order.
    from streams.cli import (
        access,
        config,
        demo,
        diff,
        gateway,
        io,
        judge,
        kafka,
        replay,
        simulate,
        status,
        topics,
        verify,
        worker,
    )

    for module in (demo, config, kafka, topics, access, io, judge, verify, simulate, worker, gateway, status,
                   replay, diff):
        module.register(sub)
    return parser


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a line is logged."""

    carpass = True

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def route_librdkafka_logs() -> None:
    """librdkafka's log lines (``streams.kafka.clients.LIBRDKAFKA_LOG``) on stderr as ``kafka: …``, warnings
    and errors only, the transient ones it retries by itself left out. Idempotent."""
    from streams.kafka.clients import LIBRDKAFKA_LOG

    if any(getattr(h, "carpass", False) for h in LIBRDKAFKA_LOG.handlers):
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("kafka: %(message)s"))
    LIBRDKAFKA_LOG.addHandler(handler)
    LIBRDKAFKA_LOG.setLevel(logging.WARNING)
    LIBRDKAFKA_LOG.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    route_librdkafka_logs()
    try:
        settings = Settings.from_env()
        result = args.handler(args, settings)
    except (CliError, SettingsError) as exc:
        print(f"carpass: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `carpass tail … | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
