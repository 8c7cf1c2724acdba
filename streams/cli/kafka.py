"""``carpass kafka up|down|status``: the local single-node Apache Kafka broker (see ``streams.local.kafka``).

``up`` prints the bootstrap string on stdout (progress goes to stderr), so a shell can do
``export KAFKA_BOOTSTRAP_SERVERS=$(carpass kafka up)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from streams.cli import CliError
from streams.local.kafka import LocalKafka, LocalKafkaError
from streams.settings import Settings

_DESCRIPTION = """\
A real Apache Kafka broker (KRaft, single node) for development, the demo and the tests, run from the
jars on Maven Central: needs Java 17+ and Maven. Jars are cached in $CARPASS_CACHE_DIR/kafka/<version>/,
data and the broker log in $CARPASS_CACHE_DIR/kafka-data/<port>/ (CARPASS_CACHE_DIR defaults to
~/.cache/carpass). Version, ports and heap come from CARPASS_KAFKA_VERSION, CARPASS_LOCAL_KAFKA_PORT,
CARPASS_LOCAL_KAFKA_CONTROLLER_PORT and CARPASS_KAFKA_HEAP_MB. The tests use ports 19192/19193.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``kafka`` and its sub-commands to the ``carpass`` parser."""
    kafka = subparsers.add_parser(
        "kafka",
        help="run a local Apache Kafka broker (up, down, status)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = kafka.add_subparsers(dest="kafka_command", metavar="ACTION", required=True)

    up = commands.add_parser(
        "up",
        help="start the broker (idempotent) and print its bootstrap servers",
        description=(
            "Start the local broker and wait until it answers; print host:port on stdout. Fetches the jars "
            "with Maven on first use. If the broker already runs, just report it."
        ),
    )
    up.add_argument("--fresh", action="store_true", help="stop the broker if running and wipe its data first")
    up.add_argument(
        "--timeout", type=float, default=90.0, metavar="SECONDS",
        help="how long to wait for the broker to answer (default: %(default)s)",
    )  # fmt: skip
    up.set_defaults(handler=cmd_up)

    down = commands.add_parser(
        "down",
        help="stop the broker",
        description=(
            "Stop the local broker: SIGTERM to its process group, SIGKILL after --timeout. Data is kept."
        ),
    )
    down.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS",
        help="grace period before SIGKILL (default: %(default)s)",
    )  # fmt: skip
    down.set_defaults(handler=cmd_down)

    status = commands.add_parser(
        "status",
        help="show whether the broker runs, its pid, bootstrap servers, version and data dir",
        description="Show the local broker's state. Exit code 0 when it is up, 1 when it is down.",
    )
    status.add_argument("--json", action="store_true", help="print the status as one JSON object")
    status.set_defaults(handler=cmd_status)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = LocalKafka(settings).start(fresh=args.fresh, timeout_s=args.timeout)
    except LocalKafkaError as exc:
        raise CliError(str(exc)) from exc
    if result.already_running:
        print(f"kafka: already running (pid {result.pid}) on {result.bootstrap}", file=sys.stderr)
    if settings.kafka_bootstrap_servers and settings.kafka_bootstrap_servers != result.bootstrap:
        print(
            f"kafka: note: KAFKA_BOOTSTRAP_SERVERS / CARPASS_KAFKA_BOOTSTRAP_SERVERS is set to "
            f"{settings.kafka_bootstrap_servers}; other carpass commands will use that, not this broker",
            file=sys.stderr,
        )
    print(result.bootstrap)
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    try:
        stopped = LocalKafka(settings).stop(timeout_s=args.timeout)
    except LocalKafkaError as exc:
        raise CliError(str(exc)) from exc
    print("kafka: stopped" if stopped else "kafka: not running", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    state = LocalKafka(settings).status()
    fields: dict[str, Any] = {
        "state": "up" if state.running else "down",
        "answering": state.answering,
        "pid": state.pid,
        "bootstrap": state.bootstrap,
        "version": state.version,
        "data_dir": str(state.data_dir),
        "log": str(state.log_file),
    }
    if state.port_taken_by_other:
        fields["note"] = f"port {settings.local_kafka_port} is in use by a process that is not this broker"
    if args.json:
        print(json.dumps(fields))
    else:
        for key, value in fields.items():
            print(f"{key + ':':<11}{'-' if value is None else value}")
    return 0 if state.running else 1
