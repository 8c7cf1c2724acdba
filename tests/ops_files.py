"""The operations files of ``docker/`` as the tests read them: the PromQL that the alert rules and the
Grafana dashboards run, and the metric and label names each expression needs from a worker's ``/metrics``.

Used by ``tests/unit/test_ops_files.py`` (files, promtool, compose) and
``tests/integration/test_ops_metrics.py`` (the names against a real worker's ``/metrics``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
PROMETHEUS = DOCKER / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
DASHBOARDS = DOCKER / "grafana" / "dashboards"

# Labels Prometheus adds when scraping (job, instance) or that a histogram's buckets carry (le).
_SCRAPE_LABELS = frozenset({"job", "instance", "le", "__name__"})
_METRIC = re.compile(r"\b((?:carpass|process)_[a-z0-9_]+)\b")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL expression and where it comes from (an alert or a dashboard panel)."""

    source: str
    expr: str

    @property
    def metrics(self) -> frozenset[str]:
        """The carpass_* and process_* sample names it reads (``_bucket``, ``_total``... as exposed)."""
        return frozenset(_METRIC.findall(self.expr))

    @property
    def labels(self) -> frozenset[str]:
        """The labels it groups or filters by, other than the ones Prometheus adds."""
        names: set[str] = set()
        for group in _GROUPING.findall(self.expr):
            names.update(n.strip() for n in group.split(",") if n.strip())
        for matchers in _MATCHERS.findall(self.expr):
            names.update(_MATCHER_LABEL.findall(matchers))
        return frozenset(names - _SCRAPE_LABELS)


def alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        rules += [rule for rule in group["rules"] if "alert" in rule]
    return rules


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON under docker/grafana/dashboards, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def queries() -> list[Query]:
    """Every PromQL expression of the alert rules and the dashboards."""
    found = [Query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                found.append(Query(f"{name}: panel {panel['title']!r} {target['refId']}", target["expr"]))
    return found
