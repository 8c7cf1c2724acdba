from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings, SettingsError


def test_defaults_with_an_empty_environment() -> None:
    s = Settings.from_env({})
    assert s.kafka_bootstrap_servers == ""
    assert s.partitions == 4


def test_values_are_read_and_converted() -> None:
    s = Settings.from_env({"CARPASS_PARTITIONS": "12", "CARPASS_DATA_DIR": "/tmp/x", "HOME_OTHER": "1"})
    assert s.partitions == 12
    assert s.data_dir == Path("/tmp/x")


def test_unknown_setting_is_an_error_naming_it() -> None:
    with pytest.raises(SettingsError, match="CARPASS_PARTITON"):
        Settings.from_env({"CARPASS_PARTITON": "3"})


def test_a_retired_setting_is_ignored_with_a_warning_that_says_why(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({"CARPASS_BATCH_WITHIN_S": "0.05", "CARPASS_BATCH_MAX_EVENTS": "500"})
    assert settings.batch_max_events == 500 and not hasattr(settings, "batch_within_s")
    assert "CARPASS_BATCH_WITHIN_S is no longer used" in caplog.text and "each fetch" in caplog.text


def test_bad_integer_is_an_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="CARPASS_PARTITIONS='many'"):
        Settings.from_env({"CARPASS_PARTITIONS": "many"})


def test_standard_kafka_variable_is_honoured() -> None:
    assert Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "h:9"}).kafka_bootstrap_servers == "h:9"
    env = {"KAFKA_BOOTSTRAP_SERVERS": "h:9", "CARPASS_KAFKA_BOOTSTRAP_SERVERS": "c:1"}
    assert Settings.from_env(env).kafka_bootstrap_servers == "c:1"


def test_an_environment_is_isolated_by_its_prefix_group_and_state_included() -> None:
    """Hardening item 5: a worker with its own topic prefix but the default app id restored another
    environment's state (changelogs are named by app id only)."""
    assert Settings.from_env({}).group_id() == "carpass-streams"
    assert Settings.from_env({"CARPASS_TOPIC_PREFIX": "staging."}).group_id() == "staging.carpass-streams"
    both = {"CARPASS_TOPIC_PREFIX": "staging.", "CARPASS_APP_ID": "staging.registry"}
    assert Settings.from_env(both).group_id() == "staging.registry"
    shared = Settings.from_env({"CARPASS_TOPIC_PREFIX": "staging.", "CARPASS_APP_ID": "registry"})
    with pytest.raises(SettingsError, match=r"CARPASS_APP_ID=staging\.registry"):
        shared.group_id()


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:6066"),
        ({"CARPASS_WEB_BIND": "10.0.0.5", "CARPASS_WEB_PORT": "7000"}, "http://10.0.0.5:7000"),
        ({"CARPASS_WEB_BIND": "::1"}, "http://[::1]:6066"),
        ({"CARPASS_WEB_BIND": "0.0.0.0", "CARPASS_WEB_ADVERTISED_URL": "http://worker-1:6066/"},
         "http://worker-1:6066"),
    ],
)  # fmt: skip
def test_a_worker_advertises_a_url_that_names_a_host(env: dict[str, str], url: str) -> None:
    assert Settings.from_env(env).advertised_url() == url


@pytest.mark.parametrize(
    "env",
    [
        {"CARPASS_WEB_BIND": "0.0.0.0"},
        {"CARPASS_WEB_BIND": "::"},
        {"CARPASS_WEB_ADVERTISED_URL": "http://0.0.0.0:6066"},
        {"CARPASS_WEB_ADVERTISED_URL": "worker-1:6066"},
        {"CARPASS_WEB_ADVERTISED_URL": "ftp://worker-1:6066"},
        {"CARPASS_WEB_ADVERTISED_URL": "http://worker-1:6066/api"},
    ],
)
def test_an_advertised_url_naming_no_host_is_refused_with_what_to_set(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="CARPASS_WEB_"):
        Settings.from_env(env).advertised_url()
