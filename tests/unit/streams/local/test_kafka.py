"""The local broker's pure pieces and failure paths, with fake ``java`` and ``mvn`` (no JVM, no Maven)."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from streams.cli import CliError, build_parser
from streams.cli.kafka import cmd_up
from streams.local.kafka import (
    BrokerStartError,
    JarFetchError,
    LocalKafka,
    PortInUseError,
    PrerequisiteMissingError,
    new_cluster_id,
    port_in_use,
    render_pom,
    render_server_properties,
    require_executable,
    tail,
)
from streams.settings import Settings


def _props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    port = _free_port()
    return dataclasses.replace(
        Settings.from_env({}),
        cache_dir=tmp_path / "cache",
        local_kafka_port=port,
        local_kafka_controller_port=_free_port(),
    )


def _fake_program(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _pretend_jars_cached(broker: LocalKafka) -> None:
    broker.libs_dir.mkdir(parents=True)
    (broker.home / "libs.complete").write_text("0 jars\n")


# ------------------------------------------------------------------ pure pieces


def test_server_properties_describe_a_single_node_kraft_broker_on_loopback(tmp_path: Path) -> None:
    props = _props(
        render_server_properties(port=19192, controller_port=19193, log_dir=tmp_path / "logs", partitions=4)
    )
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19193"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19192,CONTROLLER://127.0.0.1:19193"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19192"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "logs")
    assert props["num.partitions"] == "4"
    assert props["auto.create.topics.enable"] == "true"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "default.replication.factor",
    ):
        assert props[key] == "1", key


def test_pom_asks_for_the_broker_and_a_log4j2_binding_with_slf4j_2() -> None:
    pom = render_pom("4.3.1")
    assert "<artifactId>kafka_2.13</artifactId><version>4.3.1</version>" in pom
    assert "<artifactId>log4j-core</artifactId>" in pom
    assert "<artifactId>log4j-slf4j2-impl</artifactId>" in pom
    assert "<artifactId>slf4j-api</artifactId><version>2." in pom


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") and "=" not in i for i in ids)


def test_tail_returns_the_last_lines_or_nothing(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert tail(log) == ""
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 3) == "line 97\nline 98\nline 99"


def test_broker_paths_live_in_the_cache_dir_not_the_repository(settings: Settings) -> None:
    broker = LocalKafka(settings)
    assert broker.libs_dir == settings.cache_dir / "kafka" / settings.kafka_version / "libs"
    assert broker.data_dir == settings.cache_dir / "kafka-data" / str(settings.local_kafka_port)
    assert broker.bootstrap == f"127.0.0.1:{settings.local_kafka_port}"


# ------------------------------------------------------------------ the CLI


def test_cli_parses_kafka_actions_and_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["kafka", "up", "--fresh", "--timeout", "5"])
    assert (args.kafka_command, args.fresh, args.timeout) == ("up", True, 5.0)
    assert parser.parse_args(["kafka", "status", "--json"]).json is True
    assert parser.parse_args(["kafka", "down"]).timeout == 30.0
    for argv in (["kafka"], ["kafka", "sideways"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)


def test_kafka_help_names_the_actions_and_requirements(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["kafka", "--help"])
    out = capsys.readouterr().out
    assert all(word in out for word in ("up", "down", "status", "Java 17", "Maven"))


def test_status_of_a_broker_that_never_ran_is_down(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["kafka", "status"])
    assert args.handler(args, settings) == 1
    out = capsys.readouterr().out
    assert "state:     down" in out
    assert str(settings.cache_dir / "kafka-data") in out


# ------------------------------------------------------------------ prerequisites and ports


def test_missing_java_is_an_error_saying_what_to_install(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(PrerequisiteMissingError, match=r"`java` was not found on PATH.*Java 17"):
        LocalKafka(settings, path=str(tmp_path / "empty")).start()


def test_missing_java_reaches_the_user_as_a_cli_error(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    args = build_parser().parse_args(["kafka", "up"])
    with pytest.raises(CliError, match="openjdk"):
        cmd_up(args, settings)


def test_missing_maven_is_an_error_only_when_jars_must_be_fetched(tmp_path: Path, settings: Settings) -> None:
    broker = LocalKafka(settings, path=str(tmp_path / "empty"))
    with pytest.raises(PrerequisiteMissingError, match=r"`mvn` was not found.*Maven"):
        broker.ensure_jars()
    _pretend_jars_cached(broker)
    assert broker.ensure_jars() is False  # warm: Maven is not needed, hence not called


_FAKE_MVN = """\
echo run >> '{calls}'
for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${{arg#-DoutputDirectory=}}" ;; esac; done
mkdir -p "$out" && touch "$out/kafka_2.13-{version}.jar" "$out/kafka-clients-{version}.jar"
"""


def test_jars_are_fetched_once_then_reused_without_maven(tmp_path: Path, settings: Settings) -> None:
    calls = tmp_path / "mvn-calls"
    _fake_program(tmp_path / "bin", "mvn", _FAKE_MVN.format(calls=calls, version=settings.kafka_version))
    broker = LocalKafka(settings, path=str(tmp_path / "bin"), progress=lambda _: None)
    assert broker.ensure_jars() is True
    assert broker.ensure_jars() is False
    assert calls.read_text().count("run") == 1
    assert sorted(p.name for p in broker.libs_dir.iterdir())[0].startswith("kafka-clients")
    assert (broker.home / "pom.xml").read_text() == render_pom(settings.kafka_version)


def test_a_version_maven_cannot_resolve_is_reported_without_colour_codes(
    tmp_path: Path, settings: Settings
) -> None:
    script = (
        "printf '\\033[0m[ERROR] Failed to execute goal: Could not find artifact "
        "org.apache.kafka:kafka_2.13:jar:9.9.9\\n[ERROR] \\n[ERROR] Re-run Maven using the -X switch\\n'\n"
        "exit 1\n"
    )
    _fake_program(tmp_path / "bin", "mvn", script)
    broker = LocalKafka(settings, path=str(tmp_path / "bin"), progress=lambda _: None)
    with pytest.raises(JarFetchError) as caught:
        broker.ensure_jars()
    message = str(caught.value)
    assert "CARPASS_KAFKA_VERSION" in message
    assert message.splitlines()[1:] == [
        "[ERROR] Failed to execute goal: Could not find artifact org.apache.kafka:kafka_2.13:jar:9.9.9"
    ]
    assert not broker.jars_present()


def test_require_executable_returns_an_absolute_path(tmp_path: Path) -> None:
    fake = _fake_program(tmp_path / "bin", "java", "exit 0\n")
    assert require_executable("java", str(tmp_path / "bin")) == str(fake)


def test_port_held_by_another_process_is_detected_and_refused(tmp_path: Path, settings: Settings) -> None:
    _fake_program(tmp_path / "bin", "java", "exit 0\n")
    broker = LocalKafka(settings, path=str(tmp_path / "bin"), progress=lambda _: None)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.local_kafka_port))
        holder.listen()
        assert port_in_use(settings.local_kafka_port)
        with pytest.raises(PortInUseError, match=f"port {settings.local_kafka_port} .* in use by another"):
            broker.start()
    assert not port_in_use(settings.local_kafka_port)


def test_a_pid_file_naming_another_process_is_never_signalled(settings: Settings) -> None:
    broker = LocalKafka(settings, progress=lambda _: None)
    broker.data_dir.mkdir(parents=True)
    broker.pid_file.write_text(f'{{"pid": {os.getpid()}, "version": "4.3.1"}}')  # this pytest process
    assert broker.status().running is False
    assert broker.stop() is False  # and we are still alive to assert it


def test_a_pid_file_naming_a_dead_process_is_removed(settings: Settings) -> None:
    broker = LocalKafka(settings, progress=lambda _: None)
    broker.data_dir.mkdir(parents=True)
    finished = subprocess.Popen(["true"])
    finished.wait()
    broker.pid_file.write_text(f'{{"pid": {finished.pid}, "version": "4.3.1"}}')
    assert broker.status().running is False
    assert not broker.pid_file.exists()


# ------------------------------------------------------------------ start-up failures (fake JVM)

# The fake `java` formats storage like StorageTool does and, as `kafka.Kafka`, misbehaves as asked.
_FAKE_JAVA = """\
FAKE_LOG_DIR='{log_dir}'
case "$*" in
  *StorageTool*) mkdir -p "$FAKE_LOG_DIR" && touch "$FAKE_LOG_DIR/meta.properties"; exit 0 ;;
esac
echo "fake broker starting"
{behaviour}
"""


def _broker_with_fake_java(tmp_path: Path, settings: Settings, behaviour: str) -> LocalKafka:
    bin_dir = tmp_path / "bin"
    broker = LocalKafka(settings, path=str(bin_dir), progress=lambda _: None)
    _fake_program(bin_dir, "java", _FAKE_JAVA.format(log_dir=broker.log_dir, behaviour=behaviour))
    _pretend_jars_cached(broker)
    return broker


def test_a_broker_that_dies_at_start_reports_its_log_tail(tmp_path: Path, settings: Settings) -> None:
    broker = _broker_with_fake_java(tmp_path, settings, 'echo "ERROR Exiting Kafka: boom"; exit 1')
    with pytest.raises(BrokerStartError, match=r"exited during start-up(.|\n)*Exiting Kafka: boom"):
        broker.start(timeout_s=10)
    assert not broker.pid_file.exists()
    assert (broker.log_dir / "meta.properties").exists()  # storage was formatted first


def test_a_broker_that_never_answers_is_killed_with_its_process_group(
    tmp_path: Path, settings: Settings
) -> None:
    # A shell that keeps a child: both must be gone afterwards (no orphan left behind).
    broker = _broker_with_fake_java(tmp_path, settings, 'sleep 60 &\necho $! > "$FAKE_LOG_DIR/child"\nwait')
    with pytest.raises(BrokerStartError, match=r"did not answer on 127\.0\.0\.1:\d+ in time(.|\n)*starting"):
        broker.start(timeout_s=1.5)
    child = int((broker.log_dir / "child").read_text())
    assert not _alive(child)
    assert not broker.pid_file.exists()
    assert broker.status().running is False


def _alive(pid: int) -> bool:
    done = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False)
    state = done.stdout.strip()
    return bool(state) and not state.startswith("Z")
