"""``carpass``: the command line of carpass-streams.

Each command group lives in its own module with a ``register(subparsers)`` function; the settings object is
built here, once, and handed to the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    from streams.cli import config, demo, gateway, io, judge, kafka, simulate, topics, worker

    for module in (demo, config, kafka, topics, io, judge, simulate, worker, gateway):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
