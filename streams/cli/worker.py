"""``carpass worker``: run one stream worker (Faust) until interrupted.

::

    settings ──ensure_topics──► every input, internal and output topic exists (co-partitioned)
             ──build_app──────► Faust app: agents vehicles, registration-plates, plates; /metrics
             ──faust.Worker───► joins consumer group <app_id>; SIGTERM/SIGINT stop it cleanly

Start as many as you like with the same settings (and distinct ``CARPASS_DATA_DIR`` / ``CARPASS_WEB_PORT``
on one machine): the partitions are shared among them.

A worker serving the API needs the group's certificate signing key and forward secret
(``CARPASS_CERTIFICATE_SIGNING_KEY_FILE``, ``CARPASS_CLUSTER_SECRET_FILE``; ``make secrets`` writes both),
or ``CARPASS_DEVELOPMENT=1`` on a developer's machine::

    CARPASS_DEVELOPMENT=1 carpass worker                  # a generated key and a well-known secret
    CARPASS_WEB_BIND=0.0.0.0 CARPASS_WEB_ADVERTISED_URL=http://worker-1:6066 carpass worker
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys

from streams.cli import CliError
from streams.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``worker`` to the ``carpass`` parser."""
    worker = subparsers.add_parser(
        "worker", help="run a stream worker (receipts, anomalies, plate resolution)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    worker.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"),
        help="log level (default: %(default)s)",
    )  # fmt: skip
    worker.add_argument(
        "--without-projections", action="store_true",
        help="do not install projections.wiring (views, provider quality, API): the pipeline alone",
    )  # fmt: skip
    worker.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from projections.certificates import SigningKeyError
    from projections.wiring import install as projections
    from streams.http.secrets import SecretError
    from streams.kafka.admin import TopicSetupError, ensure_topics
    from streams.settings import SettingsError
    from streams.worker.faust.app import build_app, run_worker

    try:
        partitions = ensure_topics(settings)
    except TopicSetupError as exc:
        raise CliError(str(exc)) from exc
    settings = dataclasses.replace(settings, partitions=partitions)
    try:
        app = build_app(settings, extensions=() if args.without_projections else (projections,))
    except (SigningKeyError, SecretError, SettingsError) as exc:
        raise CliError(str(exc)) from exc
    print(
        f"carpass worker: group {settings.group_id()}, {partitions} partitions, topic prefix "
        f"{settings.topic_prefix!r}, metrics on http://{settings.web_bind}:{settings.web_port}/metrics",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    # The hot loop allocates many short-lived objects (records, states, events): collect cycles every
    # 100,000 allocations rather than 700, and leave the start-up heap out of every collection. Measured on
    # the batch step: about 10 % fewer µs per event.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    return run_worker(app, args.log_level)
