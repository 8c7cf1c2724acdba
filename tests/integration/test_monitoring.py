"""The monitoring works for real (#18 item 3): Debian's Prometheus and Alertmanager, run with the project's
own scrape configuration and alert rules (``docker/prometheus/``, intervals 1 s, the worker-down alert's
``for:`` shortened to ``DOWN_FOR``), scrape two real workers on the real broker, fed clean and rolled-back
histories. Then, in order:

1. every target is up, every rule Prometheus loaded evaluates without error, and no alert fires;
2. a malformed record on ``odometer.readings`` makes a dead letter: ``CarpassDeadLettersAppearing`` fires
   for that topic and reaches Alertmanager with its runbook link;
3. every query of every panel of the Grafana dashboards returns a finite value, with the labels its
   legend names (``Workers up``: 2), while readings keep arriving; so does every recording rule (the rule
   files have none today: one added is checked here without a change);
4. a worker is SIGKILLed: ``CarpassWorkerDown`` for its instance goes pending, then firing no sooner than
   its ``for:`` later, and reaches Alertmanager with its runbook link;
5. the worker is started again (same port, same state): the alert resolves, in Prometheus and in
   Alertmanager (within ``WAIT_S``, well before the 4 minutes after which Alertmanager would time out an
   alert Prometheus stopped sending: the resolution was sent).
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import AnyRecord
from schemas.records import OdometerReading, Receipt
from tests.integration.monitoring_harness import (
    WORKER_JOB,
    Monitoring,
    finite,
    monitoring,
    restart,
    wait_for,
)
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_topic, records_of
from tests.ops_files import alert_rules, dashboards, panels
from tests.unit.streams.domain.builders import YEARLY, reading, registration

pytestmark = pytest.mark.integration

DOWN_FOR_S = 5
DOWN_FOR = {"CarpassWorkerDown": f"{DOWN_FOR_S}s"}
"""The worker-down alert's ``for:`` in this test (1m in production)."""
CLEAN = [f"WVWZZZ1KZAW{100_000 + i}" for i in range(8)]
"""Vehicles with a clean yearly history, on every partition of 4 (so on both workers)."""
LAST_KM, LAST_DAY = YEARLY[-1][1], date.fromisoformat(YEARLY[-1][2])
ROLLED = "ZFA31200000123456"
ROLLED_STEPS = [(20_000, "2018-03-05"), (40_000, "2019-03-04"), (60_000, "2020-03-02"),
                (21_000, "2021-03-01"), (36_000, "2022-03-07"), (51_000, "2023-03-06")]  # fmt: skip
WAIT_S = 90.0
"""The deadline of every wait: generous, for a busy 2-core machine; the test is done in about a minute."""


def partition_of(key: str, partitions: int) -> int:
    """The partition of ``key`` as the producers choose it (murmur2)."""
    from aiokafka.partitioner import murmur2

    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % partitions


def _now_ms() -> int:
    return int(time.time() * 1000)


def _first_wave() -> list[AnyRecord]:
    """Registrations, five years of each clean vehicle and a rolled-back history (anomalies); submitted
    now, so that end-to-end latency is that of this test."""
    now = _now_ms()
    records: list[AnyRecord] = [registration(vin=vin, event_id=f"reg-{vin}") for vin in [*CLEAN, ROLLED]]
    records += [reading(f"{vin}-{eid}", km, day, vin=vin, submitted_at=now)
                for vin in CLEAN for eid, km, day in YEARLY]  # fmt: skip
    records += [reading(f"rolled-{i}", km, day, vin=ROLLED, submitted_at=now)
                for i, (km, day) in enumerate(ROLLED_STEPS)]  # fmt: skip
    return records


class Trickle:
    """A reading for each clean vehicle every ``every_s`` seconds, a month after the one before: a live
    flow, so that the dashboards' 1- and 5-minute windows hold batches, receipts and state reads however
    slowly the machine went before."""

    def __init__(self, feed: Feeder, every_s: float = 2.0) -> None:
        self.feed, self.every_s, self.sent, self.last = feed, every_s, 0, 0.0

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.every_s:
            return
        self.sent += 1
        day = (LAST_DAY + timedelta(days=30 * self.sent)).isoformat()
        now = _now_ms()
        self.feed.records([reading(f"{vin}-m{self.sent}", LAST_KM + 1_250 * self.sent, day, vin=vin,
                                   submitted_at=now) for vin in CLEAN])  # fmt: skip
        self.last = time.monotonic()


def _wait_receipts(kafka_bootstrap: str, m: Monitoring, p: Pipeline, records: list[AnyRecord]) -> None:
    """Until the receipts topic holds a receipt for every reading of ``records``."""
    wanted = {r.event_id for r in records if isinstance(r, OdometerReading)}
    done = lambda messages: wanted <= {r.event_id for r in records_of(messages, Receipt)}  # noqa: E731
    read_topic(kafka_bootstrap, p.topics.receipts, done, timeout_s=WAIT_S, check=_alive(m, p))


def _value(m: Monitoring, expr: str) -> float:
    samples = m.query(expr)
    return float(samples[0]["value"][1]) if samples else 0.0


def _alive(m: Monitoring, p: Pipeline) -> Any:
    def check() -> None:
        p.assert_alive()
        m.assert_alive()

    return check


def _rule(name: str) -> dict[str, Any]:
    return next(rule for rule in alert_rules() if rule["alert"] == name)


def _received_with_runbook(m: Monitoring, name: str, labels: dict[str, str]) -> dict[str, Any]:
    """Waits until Alertmanager holds an active ``name`` alert with ``labels``; checks its runbook link."""

    def match() -> dict[str, Any] | None:
        return next((a for a in m.received(name) if labels.items() <= a["labels"].items()), None)

    alert = wait_for(f"Alertmanager to receive {name} {labels}", match, WAIT_S, check=m.assert_alive,
                     describe=lambda: str(m.received(name)))  # fmt: skip
    runbook = _rule(name)["annotations"]["runbook_url"]
    assert runbook.startswith("README.md#")
    assert alert["annotations"]["runbook_url"] == runbook
    assert alert["labels"]["severity"] == _rule(name)["labels"]["severity"]
    return alert


def _legend_labels(target: dict[str, Any]) -> set[str]:
    return set(re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", target.get("legendFormat", "")))


def _dashboard_queries() -> list[tuple[str, str, set[str]]]:
    """(where, PromQL, the labels its legend shows) of every panel target of every dashboard."""
    found = []
    for file, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                where = f"{file}: {panel['title']!r} {target['refId']}"
                found.append((where, target["expr"], _legend_labels(target)))
    return found


def _query_problem(m: Monitoring, expr: str, labels: set[str]) -> str | None:
    """None when ``expr`` returns at least one sample, every sample finite and carrying ``labels``."""
    samples = m.query(expr)
    if not samples:
        return "no data"
    if not all(finite(s) for s in samples):
        return f"not a finite value: {[s['value'][1] for s in samples]}"
    missing = set().union(*(labels - set(s["metric"]) for s in samples))
    return f"labels of its legend missing: {sorted(missing)}" if missing else None


def _firing(m: Monitoring) -> list[dict[str, Any]]:
    return [a for a in m.api("alerts")["alerts"] if a["state"] == "firing"]


def _rules_state(m: Monitoring) -> str:
    return str([(r["name"], r["health"], r.get("lastError")) for r in m.rules()])


def _healthy(m: Monitoring, p: Pipeline, instances: list[str]) -> None:
    """Phase 1: every target up, every alert rule of alerts.yml loaded and evaluated without error, no alert
    firing, no dead letter yet."""
    alive = _alive(m, p)
    wanted = {(WORKER_JOB, i) for i in instances} | {("prometheus", f"127.0.0.1:{m.prometheus_port}")}

    def targets_up() -> bool:
        up = {(t["labels"]["job"], t["labels"]["instance"]) for t in m.targets() if t["health"] == "up"}
        return wanted <= up

    wait_for("every target up", targets_up, WAIT_S, check=alive, describe=lambda: str(m.targets()))
    alerting = {r["name"] for r in m.rules() if r["type"] == "alerting"}
    assert alerting == {r["alert"] for r in alert_rules()}
    wait_for("every rule evaluated without error", lambda: all(r["health"] == "ok" for r in m.rules()),
             WAIT_S, check=alive, describe=lambda: _rules_state(m))  # fmt: skip
    wait_for("no alert firing", lambda: not _firing(m), WAIT_S, check=alive, describe=lambda: str(_firing(m)))
    assert m.query("carpass_dead_letters_total") == []
    assert m.alerts("CarpassDeadLettersAppearing") == []


def _dead_letter_alert(m: Monitoring, p: Pipeline, feed: Feeder) -> None:
    """Phase 2: a malformed record on odometer.readings fires CarpassDeadLettersAppearing for that topic,
    and Alertmanager receives it with its runbook link."""
    feed.raw("odometer.readings", CLEAN[0].encode(), b"\x00\x00\x00\x00\x07garbage")

    def firing() -> bool:
        return any(a["state"] == "firing" and a["labels"]["topic"] == "odometer.readings"
                   for a in m.alerts("CarpassDeadLettersAppearing"))  # fmt: skip

    wait_for("CarpassDeadLettersAppearing firing for odometer.readings", firing, WAIT_S,
             check=_alive(m, p), describe=lambda: str(m.api("alerts")["alerts"]))  # fmt: skip
    alert = _received_with_runbook(m, "CarpassDeadLettersAppearing", {"topic": "odometer.readings"})
    assert alert["labels"]["reason"], alert  # the dead letter's error type


def _everything_returns_data(m: Monitoring, p: Pipeline, trickle: Trickle) -> None:
    """Phase 3: every recording rule and every dashboard panel's query returns finite data with the labels
    its legend shows; two workers up."""
    recording = [r["name"] for r in m.rules() if r["type"] == "recording"]
    queries = [(f"recording rule {name}", name, set[str]()) for name in recording]
    queries += _dashboard_queries()
    assert len(queries) >= 20, "the dashboards' panels were not found"

    def problems() -> dict[str, str]:
        found = {where: _query_problem(m, expr, labels) for where, expr, labels in queries}
        return {where: problem for where, problem in found.items() if problem}

    def probe() -> bool:
        trickle()
        return not problems()

    wait_for("every recording rule and dashboard query to return data", probe, WAIT_S,
             check=_alive(m, p), describe=lambda: str(problems()))  # fmt: skip
    assert _value(m, f'sum(up{{job="{WORKER_JOB}"}})') == 2.0  # the "Workers up" panel


def _down_alert(m: Monitoring, instance: str) -> dict[str, Any] | None:
    return next((a for a in m.alerts("CarpassWorkerDown") if a["labels"].get("instance") == instance), None)


def _worker_down_fires(m: Monitoring, p: Pipeline, worker: int, instance: str) -> None:
    """Phase 4: SIGKILL: CarpassWorkerDown for the instance goes pending, fires no sooner than its for:
    later, and reaches Alertmanager with its runbook link."""
    killed_at = time.time()
    p.kill(worker)
    wait_for(f"CarpassWorkerDown firing for {instance}",
             lambda: (a := _down_alert(m, instance)) is not None and a["state"] == "firing", WAIT_S,
             check=_alive(m, p), describe=lambda: str(_down_alert(m, instance)))  # fmt: skip

    def first_seen() -> dict[str, float]:
        """When the ALERTS series of each state first has a sample (written just after the evaluation)."""
        history = m.query_range(f'ALERTS{{alertname="CarpassWorkerDown",instance="{instance}"}}',
                                killed_at - 1, time.time())  # fmt: skip
        return {s["metric"]["alertstate"]: float(s["values"][0][0]) for s in history}

    def both() -> dict[str, float] | None:
        seen = first_seen()
        return seen if seen.keys() == {"pending", "firing"} else None

    first = wait_for("ALERTS to show the alert pending, then firing", both, WAIT_S,
                     describe=lambda: str(first_seen()))  # fmt: skip
    assert first["firing"] - first["pending"] >= DOWN_FOR_S - 1, f"pending for less than its for: {first}"
    assert _value(m, f'up{{job="{WORKER_JOB}",instance="{instance}"}}') == 0.0
    alert = _received_with_runbook(m, "CarpassWorkerDown", {"instance": instance})
    assert instance in alert["annotations"]["summary"]


def _worker_down_resolves(m: Monitoring, p: Pipeline, worker: int, instance: str) -> None:
    """Phase 5: the worker started again on its port: the alert resolves in Prometheus and Alertmanager."""
    restart(p, worker)
    wait_for(f"CarpassWorkerDown for {instance} resolved in Prometheus",
             lambda: _down_alert(m, instance) is None, WAIT_S, check=_alive(m, p),
             describe=lambda: str(_down_alert(m, instance)))  # fmt: skip

    def received() -> list[dict[str, Any]]:
        return [a for a in m.received("CarpassWorkerDown") if a["labels"].get("instance") == instance]

    wait_for(f"CarpassWorkerDown for {instance} resolved in Alertmanager", lambda: not received(), WAIT_S,
             check=_alive(m, p), describe=lambda: str(received()))  # fmt: skip
    assert _value(m, f'sum(up{{job="{WORKER_JOB}"}})') == 2.0


def test_prometheus_and_alertmanager_watch_two_real_workers(kafka_bootstrap: str, tmp_path: Path) -> None:
    assert {partition_of(vin, 4) for vin in CLEAN} == set(range(4))
    with pipeline(kafka_bootstrap, tmp_path, partitions=4) as p:
        feed = Feeder(p)
        workers = [p.start(), p.start()]
        instances = [f"127.0.0.1:{p.ports[w]}" for w in workers]
        with monitoring(tmp_path / "monitoring", instances, DOWN_FOR) as m:
            first = _first_wave()
            feed.records(first)
            _healthy(m, p, instances)
            _wait_receipts(kafka_bootstrap, m, p, first)
            _dead_letter_alert(m, p, feed)
            _everything_returns_data(m, p, Trickle(feed))
            _worker_down_fires(m, p, workers[1], instances[1])
            _worker_down_resolves(m, p, workers[1], instances[1])
