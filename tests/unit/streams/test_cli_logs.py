"""librdkafka's log lines go through the process's logging: real problems on stderr as ``kafka: …``, the
transient warnings it retries by itself (a broker's coordinator still loading) hidden."""

from __future__ import annotations

import logging

import pytest

from streams.cli import route_librdkafka_logs
from streams.kafka.clients import LIBRDKAFKA_LOG, admin_config, consumer_config, producer_config
from streams.settings import Settings


def test_every_client_config_sends_librdkafka_logs_to_the_process_logging() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9")
    for config in (producer_config(settings), consumer_config(settings, "g")):
        assert config["logger"] is LIBRDKAFKA_LOG
    assert "logger" not in admin_config(settings)  # an admin call polls nothing: librdkafka prints itself


def test_transient_warnings_are_hidden_and_real_problems_shown(capsys: pytest.CaptureFixture[str]) -> None:
    route_librdkafka_logs()
    route_librdkafka_logs()  # idempotent: one handler
    LIBRDKAFKA_LOG.log(logging.WARNING, "%s [%s] %s", "GETPID", "carpass#producer-1",
                       "Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: Broker: Coordinator "
                       "load in progress: retrying")  # fmt: skip
    refused = "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused"
    LIBRDKAFKA_LOG.log(logging.ERROR, "%s [%s] %s", "FAIL", "carpass#producer-1", refused)
    LIBRDKAFKA_LOG.log(logging.INFO, "%s [%s] %s", "BGQUEUE", "carpass#producer-1", "Purging 1 event")
    err = capsys.readouterr().err
    assert "Coordinator load in progress" not in err and "Purging" not in err
    assert err.count("kafka: FAIL [carpass#producer-1]") == 1
