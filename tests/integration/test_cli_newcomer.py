"""The command line as a newcomer meets it, on the real broker: `carpass kafka up`, `carpass topics create`
and `carpass simulate --kafka` back to back, ten times with new prefixes, each as its own process; none
fails, and librdkafka's own ``%N|...`` lines (its transient warnings) never reach the terminal."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 10


def _carpass(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "streams.cli", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_topics_create_then_simulate_never_races_and_prints_no_librdkafka_noise(kafka_bootstrap: str) -> None:
    port = kafka_bootstrap.rsplit(":", 1)[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARPASS_") and k != "KAFKA_BOOTSTRAP_SERVERS"}  # fmt: skip
    env.update({"CARPASS_LOCAL_KAFKA_PORT": port, "CARPASS_LOCAL_KAFKA_CONTROLLER_PORT": str(int(port) + 1),
                "PYTHONPATH": str(ROOT)})  # fmt: skip
    prefixes = [f"newcomer-{uuid.uuid4().hex[:8]}-{i}." for i in range(ROUNDS)]
    try:
        up = _carpass(env, "kafka", "up")
        assert up.returncode == 0, up.stderr
        for prefix in prefixes:
            mine = {**env, "CARPASS_TOPIC_PREFIX": prefix}
            create = _carpass(mine, "topics", "create", "--partitions", "2")
            assert create.returncode == 0, create.stdout + create.stderr
            simulate = _carpass(mine, "simulate", "--vehicles", "5", "--seed", "1", "--kafka", "--quiet")
            assert simulate.returncode == 0, simulate.stderr
            for done in (create, simulate):
                assert "%4|" not in done.stderr and "%3|" not in done.stderr, done.stderr
                assert "Coordinator load in progress" not in done.stderr, done.stderr
    finally:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith("newcomer-")]
        if names:
            for future in admin.delete_topics(names, operation_timeout=10).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=15)
