"""Failover of one worker of three, as ``tests/integration/test_failover.py`` runs it, with the
figures kept: a fleet streams in, one worker is SIGKILLed mid-stream; seconds from the kill until the
partitions are handed over, until the outputs flow again on the dead worker's partitions, and until
queries for its vehicles answer on every survivor. The run also verifies that no receipt or anomaly was
lost or changed (it fails otherwise).

    .venv/bin/python benchmarks/bench_failover.py                      # 600 vehicles, session timeout 6 s
    .venv/bin/python benchmarks/bench_failover.py --session-timeout 30 # the workers' default
    .venv/bin/python benchmarks/bench_failover.py --quick              # CI: 150 vehicles

Detection of a dead worker is the consumer group's session timeout: the figures are that plus the
hand-over. Uses ``CARPASS_KAFKA_BOOTSTRAP_SERVERS`` if set, else the local broker of the settings (leased).
Writes ``benchmarks/results/failover.json`` (``failover-session-<N>s.json`` with another session timeout;
not in ``--quick`` mode).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' harness (not installed)

from streams.kafka.clients import bootstrap_servers
from streams.local.kafka import LocalKafka
from streams.settings import Settings
from tests.integration.test_failover import failover

RESULTS = Path(__file__).resolve().parent / "results" / "failover.json"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it still runs")
    parser.add_argument("--vehicles", type=int, default=None, help="vehicles streamed (default 600)")
    parser.add_argument("--rate", type=float, default=250.0, help="readings/s streamed in")
    parser.add_argument("--session-timeout", type=float, default=6.0, help="seconds (workers' default: 30)")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    vehicles = args.vehicles or (150 if args.quick else 600)
    settings = Settings.from_env()  # the benchmark is an entry point
    with contextlib.ExitStack() as stack:
        if not settings.kafka_bootstrap_servers:
            stack.enter_context(LocalKafka(settings).lease())
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="carpass-failover-")))
        report = failover(bootstrap_servers(settings), directory, vehicles, args.rate, args.session_timeout)
    command = "python benchmarks/bench_failover.py" + (" --quick" if args.quick else "")
    if args.session_timeout != 6.0:
        command += f" --session-timeout {args.session_timeout:g}"
    result = {"benchmark": "failover", "command": command, **asdict(report),
              "python": platform.python_version()}  # fmt: skip
    print(json.dumps(result, indent=2))
    if not args.no_write and not args.quick:
        out = RESULTS if args.session_timeout == 6.0 else RESULTS.with_name(
            f"failover-session-{args.session_timeout:g}s.json")
        out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
