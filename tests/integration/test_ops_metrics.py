"""Every metric and label that the Grafana dashboards and the Prometheus alerts query exists in the
``/metrics`` of a real worker on the real broker, fed a clean history, a rolled-back one and bad bytes (so
that the labelled series — receipts by status, anomalies by kind, dead letters by reason, lag per
partition, table sizes — exist)."""

from __future__ import annotations

import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.worker_harness import Feeder, pipeline, read_topic
from tests.ops_files import queries
from tests.unit.streams.domain.builders import reading, registration, yearly

pytestmark = pytest.mark.integration

ROLLED = "ZFA31200000123456"


def _scrape(port: int) -> dict[str, set[str]]:
    """Sample name -> the label names its samples carry, from the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, set[str]] = defaultdict(set)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] |= set(sample.labels)
    return samples


def test_every_queried_metric_and_label_is_in_a_workers_metrics(kafka_bootstrap: str, tmp_path: Path) -> None:
    with pipeline(kafka_bootstrap, tmp_path) as p:
        feed = Feeder(p)
        worker = p.start()
        steps = [(20_000, "2018-03-05"), (40_000, "2019-03-04"), (60_000, "2020-03-02"),
                 (21_000, "2021-03-01"), (36_000, "2022-03-07"), (51_000, "2023-03-06")]  # fmt: skip
        rolled = [reading(f"o{i}", km, day, vin=ROLLED) for i, (km, day) in enumerate(steps)]
        # Registrations first: the readings then find a stored state (the state cache's lookups).
        feed.records([registration(), registration(vin=ROLLED, event_id="reg-r")])
        p.wait_metric(worker, 'carpass_events_in_total{origin="",topic="vehicle.registrations"}', 2)
        feed.records([*yearly(), *rolled])
        feed.raw("odometer.readings", b"WVWZZZ1KZAW000001", b"\x00\x00\x00\x00\x07garbage")
        submissions = len(yearly()) + len(rolled)
        read_topic(kafka_bootstrap, p.topics.receipts, lambda m: len(m) >= submissions, check=p.assert_alive)
        read_topic(kafka_bootstrap, p.topics.anomalies, lambda m: len(m) >= 1, check=p.assert_alive)
        # Lag and table sizes are observed by a 5 s timer.
        deadline = time.monotonic() + 30
        wanted = {"carpass_consumer_lag_messages", "carpass_table_keys", "carpass_dead_letters_total",
                  "carpass_state_cache_lookups_total"}
        while not wanted <= set(samples := _scrape(p.ports[worker])):
            assert time.monotonic() < deadline, f"never exposed: {sorted(wanted - set(samples))}"
            p.assert_alive()
            time.sleep(0.5)
        # Two VINs judged on this worker's active partitions (the only worker: it holds them all).
        p.wait_metric(worker, 'carpass_table_keys{table="vehicles"}', 2, timeout_s=30)

    problems = []
    for query in queries():
        missing = query.metrics - set(samples)
        if missing:
            problems.append(f"{query.source}: {sorted(missing)} not in /metrics")
            continue
        carried = set().union(*(samples[m] for m in query.metrics)) if query.metrics else set()
        if query.metrics and query.labels - carried:
            unknown = sorted(query.labels - carried)
            problems.append(f"{query.source}: labels {unknown} not on {sorted(query.metrics)}")
    assert not problems, "\n".join(problems)
    assert {"status"} <= samples["carpass_receipts_total"] and {"kind"} <= samples["carpass_anomalies_total"]
