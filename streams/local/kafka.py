"""A real single-node Apache Kafka broker (KRaft) run from the jars on Maven Central.

Used by ``carpass kafka up|down|status``, the demo and the test fixture when no other broker is at hand::

    Maven Central ──mvn──► <cache_dir>/kafka/<version>/libs/*.jar        (fetched once, under a lock)
    settings ─────────────► <cache_dir>/kafka-data/<port>/server.properties, log4j2.properties
    StorageTool format ───► <cache_dir>/kafka-data/<port>/kraft-logs/     (once per data dir)
    java kafka.Kafka ─────► broker.pid (JSON), broker.log; answers on 127.0.0.1:<port>

The JVM runs in its own session (process group), so it outlives ``carpass kafka up`` and ``stop`` can end
the whole group. Only a process whose command line names *our* ``server.properties`` is ever signalled: a
stale pid file never leads to killing someone else's process.

Errors (all ``LocalKafkaError``)::

    LocalKafkaError
    ├── PrerequisiteMissingError   java or mvn not on PATH
    ├── JarFetchError              Maven could not resolve the Kafka artifacts
    ├── PortInUseError             the listener or controller port is held by another process
    └── BrokerStartError           the broker did not answer in time (message carries its log tail)
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.settings import Settings

HOST = "127.0.0.1"
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.17"  # Kafka's pom pins slf4j-api 1.7.36, which ignores the slf4j2 binding.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
LOG_TAIL_LINES = 30

Progress = Callable[[str], None]


class LocalKafkaError(Exception):
    """Root of the local broker's errors; every message is meant for the user."""


class PrerequisiteMissingError(LocalKafkaError):
    """A program the local broker needs (java, mvn) is not installed."""


class JarFetchError(LocalKafkaError):
    """Maven could not fetch Apache Kafka's jars."""


class PortInUseError(LocalKafkaError):
    """A port of the local broker is held by a process that is not our broker."""


class BrokerStartError(LocalKafkaError):
    """The broker process failed or did not answer before the deadline."""


_INSTALL_HINTS = {
    "java": "install a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)",
    "mvn": "install Apache Maven 3.6+ (e.g. `apt-get install maven`)",
}


def require_executable(name: str, path: str | None = None) -> str:
    """Absolute path of program ``name`` on ``path`` (default ``$PATH``), or ``PrerequisiteMissingError``."""
    found = shutil.which(name, path=path)
    if found is None:
        hint = _INSTALL_HINTS.get(name, f"install {name}")
        raise PrerequisiteMissingError(
            f"`{name}` was not found on PATH; the local Kafka broker needs it: {hint}"
        )
    return found


def render_pom(version: str) -> str:
    """A throw-away pom whose runtime dependencies are the broker, its storage tool and a log4j2 binding."""
    deps = [
        ("org.apache.kafka", "kafka_2.13", version),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    body = "\n".join(
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{pinned}</version></dependency>"
        for group, artifact, pinned in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>carpass.local</groupId><artifactId>kafka-libs</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>\n"
        f"  <dependencies>\n{body}\n  </dependencies>\n</project>\n"
    )


def render_server_properties(
    *, port: int, controller_port: int, log_dir: Path, partitions: int = 1, node_id: int = 1,
    extra: Mapping[str, object] | None = None,
) -> str:  # fmt: skip
    """``server.properties`` of a single-node KRaft broker+controller listening on loopback only;
    ``extra`` properties are set over the defaults (for example a SASL listener, in tests)."""
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": f"{node_id}@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": partitions,
        "default.replication.factor": 1,
        "auto.create.topics.enable": "true",
        # One node: every internal topic must make do with one replica.
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 8,  # default 50; fewer makes the first group join faster
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # Tests and the demo join groups all the time; the 3 s default delay is pure waiting.
        "group.initial.rebalance.delay.ms": 0,
    }
    props.update(extra or {})
    lines = ["# Written by carpass (streams/local/kafka.py); regenerated at every start."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def render_log4j2() -> str:
    """log4j2 configuration: INFO to stdout (redirected to ``broker.log``), noisy request logs quieted."""
    return (
        "status = warn\n"
        "appender.out.type = Console\n"
        "appender.out.name = OUT\n"
        "appender.out.layout.type = PatternLayout\n"
        "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.out.ref = OUT\n"
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
    )


def new_cluster_id() -> str:
    """A random cluster id in Kafka's format (base64url of 16 bytes, no padding, not starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when ``host:port`` cannot be bound because another socket listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no owner
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def accepts_connections(port: int, host: str = HOST, timeout_s: float = 0.3) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stderr_progress(message: str) -> None:
    print(f"kafka: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What ``status`` reports. ``running`` means our JVM is alive; ``answering`` that its port accepts."""

    running: bool
    answering: bool
    pid: int | None
    bootstrap: str
    version: str
    data_dir: Path
    log_file: Path
    port_taken_by_other: bool = False


@dataclass(frozen=True, slots=True)
class StartResult:
    """Outcome of ``start``; ``phases_s`` holds the seconds spent per phase (download, format, start)."""

    bootstrap: str
    pid: int
    already_running: bool
    elapsed_s: float
    phases_s: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing), held for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LocalKafka:
    """The local broker of one ``Settings`` (one port = one data dir = one broker).

    ``path`` overrides ``$PATH`` when looking for java and mvn (tests use it to simulate a missing tool).
    ``extra_properties`` go into its ``server.properties`` (a test adds a SASL listener this way).
    """

    def __init__(
        self, settings: Settings, *, progress: Progress | None = None, path: str | None = None,
        extra_properties: Mapping[str, object] | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.extra_properties = dict(extra_properties or {})
        self.version = settings.kafka_version
        self.port = settings.local_kafka_port
        self.controller_port = settings.local_kafka_controller_port
        self._progress = progress or stderr_progress
        self._path = path
        self.home = settings.cache_dir / "kafka" / self.version
        self.libs_dir = self.home / "libs"
        self.data_dir = settings.cache_dir / "kafka-data" / str(self.port)
        self.log_dir = self.data_dir / "kraft-logs"
        self.config_file = self.data_dir / "server.properties"
        self.log4j_file = self.data_dir / "log4j2.properties"
        self.log_file = self.data_dir / "broker.log"
        self.pid_file = self.data_dir / "broker.pid"
        self._data_lock = settings.cache_dir / "kafka-data" / f"{self.port}.lock"
        self._leases_dir = settings.cache_dir / "kafka-data" / f"{self.port}.leases"
        self._started_by_lease = self._leases_dir / "started-by-lease"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    # ---------------------------------------------------------------- jars

    def jars_present(self) -> bool:
        return (self.home / "libs.complete").exists()

    def ensure_jars(self) -> bool:
        """Fetch the jars unless cached; True when Maven was run. Safe against concurrent callers."""
        if self.jars_present():
            return False
        mvn = require_executable("mvn", self._path)
        with file_lock(self.home / ".lock"):
            if self.jars_present():  # another process fetched them while we waited
                return False
            self._progress(f"downloading Apache Kafka {self.version} jars with Maven into {self.libs_dir} …")
            pom = self.home / "pom.xml"
            pom.write_text(render_pom(self.version))
            staging = self.home / "libs.partial"
            shutil.rmtree(staging, ignore_errors=True)
            command = [
                mvn, "-B", "-q", "-f", str(pom),
                f"{DEPENDENCY_PLUGIN}:copy-dependencies", f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not (staging / f"kafka_2.13-{self.version}.jar").exists():
                output = _maven_errors(done.stdout + done.stderr)
                raise JarFetchError(
                    f"Maven could not fetch org.apache.kafka:kafka_2.13:{self.version} "
                    f"(check CARPASS_KAFKA_VERSION and access to Maven Central):\n{output}"
                )
            shutil.rmtree(self.libs_dir, ignore_errors=True)
            staging.rename(self.libs_dir)
            (self.home / "libs.complete").write_text(f"{len(list(self.libs_dir.glob('*.jar')))} jars\n")
        return True

    # ------------------------------------------------------------ process

    def _java_command(self, java: str, main: str, *args: str) -> list[str]:
        heap = f"{self.settings.kafka_heap_mb}m"
        return [
            java, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-XX:ErrorFile={self.data_dir}/hs_err_pid%p.log",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp", f"{self.libs_dir}/*", main, *args,
        ]  # fmt: skip

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            render_server_properties(
                port=self.port,
                controller_port=self.controller_port,
                log_dir=self.log_dir,
                partitions=self.settings.partitions,
                extra=self.extra_properties,
            )
        )
        self.log4j_file.write_text(render_log4j2())

    def _format_storage(self, java: str) -> bool:
        """Format the KRaft log dir unless already done; True when formatted now."""
        if (self.log_dir / "meta.properties").exists():
            return False
        self._progress(f"formatting storage in {self.log_dir} …")
        command = self._java_command(
            java, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(self.config_file)
        )
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerStartError(f"kafka.tools.StorageTool format failed:\n{done.stdout}{done.stderr}")
        return True

    def _running(self) -> _PidRecord | None:
        """Our broker per the pid file, if that process lives and is our broker.

        The file is removed only when its process is dead: a live process whose command line does not
        match may be a broker spawned a moment ago (its cmdline is empty until exec completes).
        """
        try:
            raw = json.loads(self.pid_file.read_text())
            record = _PidRecord(pid=int(raw["pid"]), version=str(raw["version"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        if self._is_our_broker(record.pid):
            return record
        if not _alive(record.pid):
            self.pid_file.unlink(missing_ok=True)
        return None

    def _is_our_broker(self, pid: int) -> bool:
        """Whether ``pid`` is a live broker of *this* data dir (judged by its command line)."""
        if not _alive(pid):
            return False
        cmdline = _command_line(pid)
        return cmdline is not None and "kafka.Kafka" in cmdline and str(self.config_file) in cmdline

    def _spawn(self, java: str) -> int:
        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_suffix(".log.1"))
        command = self._java_command(java, "kafka.Kafka", str(self.config_file))
        # posix_spawn rather than Popen: no Popen object to outlive (and warn about) in the caller.
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(self.log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        pid = os.posix_spawn(java, command, dict(os.environ), file_actions=actions, setsid=True)
        self.pid_file.write_text(
            json.dumps({"pid": pid, "version": self.version, "bootstrap": self.bootstrap})
        )
        return pid

    def _wait_ready(self, pid: int, deadline: float) -> None:
        from confluent_kafka.admin import AdminClient  # heavy import, only when a broker is awaited

        admin: AdminClient | None = None
        last_error = "no connection yet"
        while time.monotonic() < deadline:
            if not _alive(pid):  # not _is_our_broker: a just-spawned process briefly shows no cmdline
                raise BrokerStartError(
                    "the broker process exited during start-up (if its data dir was made by another "
                    f"Kafka version, `carpass kafka up --fresh` wipes it).\n{self._log_tail()}"
                )
            if accepts_connections(self.port):
                admin = admin or AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
                try:
                    metadata = admin.list_topics(timeout=2)
                    if metadata.brokers:
                        return
                    last_error = "metadata lists no broker yet"
                except Exception as exc:  # KafkaException: not ready yet, retried until the deadline
                    last_error = str(exc)
            time.sleep(0.2)
        raise BrokerStartError(
            f"the broker did not answer on {self.bootstrap} in time ({last_error}).\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        return f"last lines of {self.log_file}:\n{tail(self.log_file)}"

    # ---------------------------------------------------------------- API

    def start(self, *, fresh: bool = False, timeout_s: float = 90.0) -> StartResult:
        """Start the broker (fetching jars and formatting storage if needed) and wait until it answers.

        Idempotent: if our broker already runs, waits for it to answer and returns it with
        ``already_running=True``. ``fresh`` stops it and wipes the data dir first.
        """
        java = require_executable("java", self._path)
        with file_lock(self._data_lock):
            result = self._start_locked(java, fresh=fresh, timeout_s=timeout_s)
            if not result.already_running:
                self._started_by_lease.unlink(missing_ok=True)
            return result

    @contextlib.contextmanager
    def lease(self, *, fresh: bool = False, timeout_s: float = 90.0) -> Iterator[StartResult]:
        """Use the broker for the ``with`` block, starting it if needed; for test sessions.

        Several processes may hold leases at once. When the last leaseholder leaves, the broker is stopped
        only if a lease started it: a broker started by ``carpass kafka up`` is left running. ``fresh``: when
        this lease starts the broker (none runs), its data is wiped first. A test broker's data is
        disposable, and one whose data only grows gets slow: on this project's CI machine, leftovers of
        interrupted runs and a benchmark that did not wait for its topics' deletion reached 3,362 partitions,
        and new topics then took over 20 s to be visible (every quick benchmark failed).
        """
        java = require_executable("java", self._path)
        with file_lock(self._data_lock):
            self._leases_dir.mkdir(parents=True, exist_ok=True)
            wipe = fresh and self._running() is None  # never under another leaseholder's feet
            result = self._start_locked(java, fresh=wipe, timeout_s=timeout_s)
            if not result.already_running:
                self._started_by_lease.write_text("")
            token = self._leases_dir / f"{os.getpid()}.{uuid.uuid4().hex[:8]}.lease"
            token.write_text("")
        try:
            yield result
        finally:
            with file_lock(self._data_lock):
                token.unlink(missing_ok=True)
                if not self._live_leases() and self._started_by_lease.exists():
                    record = self._running()
                    if record is not None:
                        self._stop_locked(record.pid, timeout_s=30.0)
                    self._started_by_lease.unlink(missing_ok=True)

    def _live_leases(self) -> list[int]:
        """Pids holding a lease (``<pid>.<random>.lease`` files); leases of dead processes are removed."""
        live = []
        for entry in self._leases_dir.glob("*.lease") if self._leases_dir.exists() else []:
            pid = entry.name.split(".")[0]
            if pid.isdigit() and _process_exists(int(pid)):
                live.append(int(pid))
            else:
                entry.unlink(missing_ok=True)
        return live

    def _start_locked(self, java: str, *, fresh: bool, timeout_s: float) -> StartResult:
        began = time.monotonic()
        record = self._running()
        if record is not None and fresh:
            self._stop_locked(record.pid, timeout_s=30.0)
            record = None
        if record is not None:
            if record.version != self.version:
                self._progress(
                    f"note: the running broker is Kafka {record.version}, not {self.version}; "
                    "`carpass kafka up --fresh` replaces it"
                )
            self._wait_ready(record.pid, began + timeout_s)
            return StartResult(self.bootstrap, record.pid, True, time.monotonic() - began)
        for port in (self.port, self.controller_port):
            if port_in_use(port):
                raise PortInUseError(
                    f"port {port} on {HOST} is in use by another process (not the carpass broker of "
                    f"{self.data_dir}); stop it, or choose other ports with CARPASS_LOCAL_KAFKA_PORT / "
                    "CARPASS_LOCAL_KAFKA_CONTROLLER_PORT"
                )
        if fresh and self.data_dir.exists():
            self._progress(f"wiping {self.data_dir}")
            shutil.rmtree(self.data_dir)
        phases: dict[str, float] = {}
        mark = time.monotonic()
        if self.ensure_jars():
            phases["download"] = time.monotonic() - mark
        self._write_config()
        mark = time.monotonic()
        if self._format_storage(java):
            phases["format"] = time.monotonic() - mark
        mark = time.monotonic()
        self._progress(f"starting Apache Kafka {self.version} on {self.bootstrap} (log: {self.log_file}) …")
        pid = self._spawn(java)
        try:
            self._wait_ready(pid, mark + timeout_s)
        except BaseException:
            self._stop_locked(pid, timeout_s=10.0)
            raise
        phases["start"] = time.monotonic() - mark
        elapsed = time.monotonic() - began
        detail = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
        self._progress(f"ready in {elapsed:.1f} s ({detail})")
        return StartResult(self.bootstrap, pid, False, elapsed, phases)

    def stop(self, *, timeout_s: float = 30.0) -> bool:
        """Stop our broker (SIGTERM to its process group, SIGKILL after ``timeout_s``); False if none ran."""
        with file_lock(self._data_lock):
            self._started_by_lease.unlink(missing_ok=True)
            record = self._running()
            if record is None:
                return False
            self._stop_locked(record.pid, timeout_s=timeout_s)
            return True

    def _stop_locked(self, pid: int, *, timeout_s: float) -> None:
        self._progress(f"stopping broker (pid {pid}) …")
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            self._progress(f"broker did not stop within {timeout_s:.0f} s; killing it")
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10.0
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> BrokerStatus:
        """The broker's state as seen from the pid file and its port (takes no lock, signals nothing)."""
        record = self._running()
        return BrokerStatus(
            running=record is not None,
            answering=record is not None and accepts_connections(self.port),
            pid=record.pid if record else None,
            bootstrap=self.bootstrap,
            version=record.version if record else self.version,
            data_dir=self.data_dir,
            log_file=self.log_file,
            port_taken_by_other=record is None and port_in_use(self.port),
        )


@dataclass(frozen=True, slots=True)
class _PidRecord:
    pid: int
    version: str


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (zombies do not count; our own dead children are reaped here)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    if not _process_exists(pid):
        return False
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_line(pid: int) -> str | None:
    """The command line of a live, non-zombie process, or None."""
    if Path("/proc/self").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return raw.replace(b"\0", b" ").decode(errors="replace") or None
    done = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


def _maven_errors(output: str) -> str:
    """Maven's [ERROR] lines without colour codes and boilerplate (or its last lines if it gave none)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in output.splitlines()]
    boilerplate = ("Re-run Maven", "For more information", "[Help 1] http", "full stack trace")
    errors = [
        line
        for line in lines
        if line.startswith("[ERROR]") and line != "[ERROR]" and not any(b in line for b in boilerplate)
    ]
    return "\n".join(errors or lines[-LOG_TAIL_LINES:])


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
