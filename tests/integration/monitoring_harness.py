"""A real Prometheus and Alertmanager (Debian's ``prometheus`` and ``prometheus-alertmanager``) for a test,
run with the project's own scrape configuration and alert rules (``docker/prometheus/``).

What the test changes, and only that, in copies written to its temporary directory::

    docker/prometheus/prometheus.yml ──► every interval 1 s; the worker job's targets: the test's workers;
                                         the self-scrape: this Prometheus; alerting: this Alertmanager
    its rule files (alerts.yml) ───────► the ``for:`` of the alerts named in ``for_overrides``

Both listen on loopback on free ports and keep their data in the test's directory; :meth:`Monitoring.stop`
ends both processes (SIGTERM, then SIGKILL). :func:`restart` starts a killed worker again where it was.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.integration.worker_harness import ROOT, Pipeline, free_port
from tests.ops_files import DOCKER, PROMETHEUS

PROMETHEUS_YML = PROMETHEUS / "prometheus.yml"
ALERTMANAGER_YML = DOCKER / "alertmanager" / "alertmanager.yml"
INTERVAL = "1s"
WORKER_JOB = "carpass-worker"
T = TypeVar("T")


def binary(name: str) -> str:
    """The path of a Debian tool the test needs, or a failure saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is missing: `make system-deps` (as root) installs it with apt-get")
    return path


def write_rules(directory: Path, for_overrides: dict[str, str]) -> list[str]:
    """Copies every rule file prometheus.yml names into ``directory``, the ``for:`` of each alert named in
    ``for_overrides`` replaced, every other rule as written; the copies' paths. Fails if an override names
    no alert."""
    written, found = [], set()
    for name in yaml.safe_load(PROMETHEUS_YML.read_text())["rule_files"]:
        assert "*" not in name, f"prometheus.yml: rule_files {name!r}: the test copies files, not globs"
        rules = yaml.safe_load((PROMETHEUS / name).read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in for_overrides:
                    rule["for"] = for_overrides[rule["alert"]]
                    found.add(rule["alert"])
        copy = directory / Path(name).name
        copy.write_text(yaml.safe_dump(rules, sort_keys=False))
        written.append(str(copy))
    assert found == set(for_overrides), f"no alert {sorted(set(for_overrides) - found)} in the rule files"
    return written


def config_for_test(
    workers: list[str], prometheus: str, alertmanager: str, rule_files: list[str]
) -> dict[str, Any]:
    """The project's prometheus.yml pointed at this test's processes (``host:port`` each), all intervals
    ``INTERVAL``. Its metrics paths, job names and labels are kept: they are what is tested."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"] = {**config.get("global", {}), "scrape_interval": INTERVAL,
                        "evaluation_interval": INTERVAL}  # fmt: skip
    config["rule_files"] = rule_files
    targets = {WORKER_JOB: workers, "prometheus": [prometheus]}
    for job in config["scrape_configs"]:
        assert job["job_name"] in targets, f"prometheus.yml: the test does not know job {job['job_name']!r}"
        if "scrape_interval" in job:
            job["scrape_interval"] = INTERVAL
        job["static_configs"] = [{"targets": targets.pop(job["job_name"])}]
    assert not targets, f"prometheus.yml has no job {sorted(targets)}"
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


def alertmanager_for_test() -> dict[str, Any]:
    """The project's alertmanager.yml (its routes, inhibitions and receiver are what is tested), every
    group wait and interval 1 s."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_YML.read_text())
    routes = [config["route"], *config["route"].get("routes", [])]
    for route in routes:
        route.update({"group_wait": INTERVAL, "group_interval": INTERVAL})
    return config


def get_json(url: str, timeout_s: float = 5.0) -> Any:
    """The JSON answer of ``url``; an HTTP error status fails with the answer's text (not retried)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None


def wait_for(
    what: str, probe: Callable[[], T | None], timeout_s: float,
    check: Callable[[], None] | None = None, describe: Callable[[], str] | None = None,
) -> T:  # fmt: skip
    """Calls ``probe`` every 0.25 s until it returns something truthy, and returns that;
    raises after ``timeout_s`` saying ``what`` was waited for (and ``describe()``: what was seen last).
    ``check`` runs between tries (e.g. that the workers are alive)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = probe()
        except OSError:  # a process not answering yet
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            seen = f"; last seen: {describe()}" if describe else ""
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}{seen}")
        if check is not None:
            check()
        time.sleep(0.25)


@dataclass
class Monitoring:
    """A Prometheus and an Alertmanager of one test."""

    directory: Path
    prometheus_port: int = field(default_factory=free_port)
    alertmanager_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"

    def start(self, workers: list[str], for_overrides: dict[str, str]) -> None:
        """Writes the test's copies of the configuration and starts both; returns once both are ready."""
        config = config_for_test(workers, f"127.0.0.1:{self.prometheus_port}",
                                 f"127.0.0.1:{self.alertmanager_port}",
                                 write_rules(self.directory, for_overrides))  # fmt: skip
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        (self.directory / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_for_test()))
        command = [binary("promtool"), "check", "config", str(self.directory / "prometheus.yml")]
        checked = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert checked.returncode == 0, f"promtool check config:\n{checked.stdout}{checked.stderr}"
        self._run("alertmanager", [
            binary("prometheus-alertmanager"), f"--config.file={self.directory / 'alertmanager.yml'}",
            f"--storage.path={self.directory / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
            "--cluster.listen-address=",  # no gossip port: one instance, nothing else bound
        ])  # fmt: skip
        self._run("prometheus", [
            binary("prometheus"), f"--config.file={self.directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.directory / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
        ])  # fmt: skip
        for name, url in (("alertmanager", self.alertmanager), ("prometheus", self.prometheus)):
            wait_for(f"{name} to be ready", partial(self._ready, url), 60, check=self.assert_alive)

    def _run(self, name: str, command: list[str]) -> None:
        log = open(self.directory / f"{name}.log", "wb")  # noqa: SIM115 (the process holds it; closed here)
        try:
            self.processes[name] = subprocess.Popen(command, cwd=self.directory, stdout=log, stderr=log)
        finally:
            log.close()

    @staticmethod
    def _ready(url: str) -> bool:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)

    def assert_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.directory / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{name} exited with {process.returncode}:\n{log}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    # -- Prometheus's HTTP API --

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a Prometheus API answer; fails with Prometheus's error."""
        url = f"{self.prometheus}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        answer = get_json(url)
        assert answer["status"] == "success", f"{path} {params}: {answer}"
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one sample) of ``expr`` now."""
        data = self.api("query", query=expr)
        if data["resultType"] == "vector":
            result: list[dict[str, Any]] = data["result"]
            return result
        return [{"metric": {}, "value": data["result"]}]

    def query_range(self, expr: str, start: float, end: float, step_s: float = 0.5) -> list[dict[str, Any]]:
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step_s}")
        result: list[dict[str, Any]] = data["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("targets", state="active")["activeTargets"]
        return active

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """The active (pending or firing) alerts named ``name`` as Prometheus holds them."""
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def rules(self) -> list[dict[str, Any]]:
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    # -- Alertmanager's API --

    def received(self, name: str) -> list[dict[str, Any]]:
        """The alerts named ``name`` that Alertmanager holds as active (resolved ones are left out)."""
        query = urllib.parse.urlencode({"filter": f'alertname="{name}"'})
        url = f"{self.alertmanager}/api/v2/alerts?{query}"
        alerts: list[dict[str, Any]] = get_json(url)
        return [a for a in alerts if a["status"]["state"] == "active"]


def finite(sample: dict[str, Any]) -> bool:
    return math.isfinite(float(sample["value"][1]))


@contextmanager
def monitoring(directory: Path, workers: list[str], for_overrides: dict[str, str]) -> Iterator[Monitoring]:
    """A started :class:`Monitoring` of ``workers`` (``host:port``), stopped after (also on failure)."""
    directory.mkdir(parents=True, exist_ok=True)
    m = Monitoring(directory)
    try:
        m.start(workers, for_overrides)
        yield m
    finally:
        with suppress(Exception):
            m.stop()


def restart(p: Pipeline, index: int, name: str = "w") -> None:
    """Starts worker ``index`` of ``p`` again after :meth:`Pipeline.kill`, as :meth:`Pipeline.start` did:
    its data directory, its web port (the target Prometheus scrapes), its log (appended)."""
    assert p.workers[index].poll() is not None, f"worker {index} is still running"
    log = open(p.data_dir / f"{name}-{index}.log", "ab")  # noqa: SIM115 (closed in Pipeline.stop_all)
    p.logs.append(log)
    command = [sys.executable, "-m", "streams.cli", "worker", "--without-projections", "--log-level", "info"]
    env = p.env(p.data_dir / f"{name}-{index}", p.ports[index])
    p.workers[index] = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    p.killed.discard(index)
