"""Scale-out and failover on the real broker (issue 7): three workers in one group, each table partition
with a standby replica on another worker; a fleet's readings stream in; one worker is killed with SIGKILL
mid-stream and the two others take its partitions over.

Measured (printed, and written to ``failover.json`` in the test's tmp dir; ``benchmarks/bench_failover.py``
runs the same scenario and keeps the figures):

* **rebalanced**: from the kill until a survivor's routing table shows every partition owned by a survivor
  (this includes the group noticing the death: ``CARPASS_SESSION_TIMEOUT_S``, 6 s in the tests);
* **outputs flow again**: until the first receipt written by a survivor on a partition the dead worker had;
* **state back**: until a history query for a vehicle of each of those partitions answers, on every
  survivor, with at least the readings it had before the kill.

Verified: every reading has its receipt, and the receipts and anomaly events, deduplicated by id, are
exactly those of a run without the failure (the core folded over the input topic), and provider quality
counts each reading once although receipts were delivered again; queries keep being
answered by the survivors during and after (only a 503 "retry" is allowed, while the group has not noticed
the death or the rebalance runs: a question is retried for at most the session timeout + 30 s), and every
survivor answers for every vehicle once the stream is drained.

``CARPASS_QUICK=1`` (``make test``): 150 vehicles, about a minute. Otherwise 600 vehicles.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer

from projections.quality import counts_as_reading
from projections.routing import key_partition
from schemas.records import OdometerReading, Receipt
from tests.conftest import artifacts_dir
from tests.integration.expected import assert_same_outputs, expected_outputs, histories, registrations_for
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, records_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUICK = os.environ.get("CARPASS_QUICK") == "1"
VEHICLES = 150 if QUICK else 600
PARTITIONS = 6
WORKERS = 3
READINGS_PER_S = 120 if QUICK else 250
KILL_AT = 0.35  # share of the readings sent when the worker dies
OPERATOR_KEY = "failover-operator-key"
QUERY_RETRY_S = 30.0  # beyond the session timeout, a query may fail during the rebalance, never longer


# --- HTTP ------------------------------------------------------------------------------------------------


def get(port: int, path: str, timeout_s: float = 10.0) -> tuple[int, Any]:
    """(status, JSON body) of ``GET path`` with the operator key; status 0 when the worker is down or
    slower than ``timeout_s`` (a worker's forward to a dead owner gives up after 5 s: a 503)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"Bearer {OPERATOR_KEY}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        try:
            return refused.code, refused.read(1000).decode("utf-8", "replace")  # the error's message
        except OSError:
            return refused.code, None
    except (OSError, ValueError):
        return 0, None


def owners(port: int) -> dict[str, set[int]]:
    """The vehicles table's routing as a worker sees it: web URL -> partitions owned (empty if down)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/cluster/routing",
                                     headers={"Authorization": f"Bearer {OPERATOR_KEY}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            hosts = json.loads(response.read())  # {url: {changelog topic: [partitions]}}
    except (OSError, ValueError):
        return {}
    table = "-vehicles-changelog"
    return {url: {p for topic, parts in topics.items() if topic.endswith(table) for p in parts}
            for url, topics in hosts.items()}  # fmt: skip


# --- what runs beside the stream --------------------------------------------------------------------------


@dataclass
class Queries:
    """Asks the live workers for histories and OK labels in a loop; each question is retried until it is
    answered (200), and the time that took is kept."""

    p: Pipeline
    vins: list[str]
    retry_s: float
    answered: int = 0
    failures: Counter[int] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    """The first failures other than a 503, each with the worker asked and its answer (for the assertion)."""
    slowest_s: float = 0.0
    unanswered: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        turn = 0
        while not self.stop.is_set():
            vin = self.vins[turn % len(self.vins)]
            path = f"/vehicles/{vin}/history" if turn % 2 else f"/vehicles/{vin}/ok-label?advertised_km=1"
            self.ask(turn, path)
            turn += 1
            time.sleep(0.05)

    def ask(self, turn: int, path: str) -> None:
        started = time.monotonic()
        while time.monotonic() - started < self.retry_s:
            alive = [i for i in range(len(self.p.workers)) if i not in self.p.killed]
            target = alive[turn % len(alive)]
            status, body = get(self.p.ports[target], path)
            if status == 200:
                self.answered += 1
                self.slowest_s = max(self.slowest_s, time.monotonic() - started)
                return
            if not (status == 0 and target in self.p.killed):  # asked the worker the test was killing
                self.failures[status] += 1
                if status != 503 and len(self.failed) < 10:
                    self.failed.append(f"{time.strftime('%H:%M:%S')} worker {target} {path}: {status} {body}")
            turn += 1  # the next try goes to another worker
            time.sleep(0.2)
        self.unanswered.append(path)


class ReceiptClock:
    """Consumes the receipts as they come: partition and producer timestamp (epoch ms) of each."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: list[tuple[int, int]] = []
        self.stop = threading.Event()
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"clock-{uuid.uuid4().hex}",
                                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 20})  # fmt: skip
        self.consumer.subscribe([topic])

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for m in self.consumer.consume(500, 0.1):
                    if m.error() is None:
                        self.seen.append((m.partition(), m.timestamp()[1]))
        finally:
            self.consumer.close()

    def first_after(self, partitions: set[int], after_ms: int) -> int | None:
        times = [ts for part, ts in list(self.seen) if part in partitions and ts > after_ms]
        return min(times) if times else None


# --- the scenario -----------------------------------------------------------------------------------------


@dataclass
class FailoverReport:
    """What a failover run measured (seconds from the SIGKILL) and what it checked."""

    vehicles: int
    readings: int
    partitions: int
    workers: int
    session_timeout_s: float
    victim_partitions: list[int]
    rebalanced_s: float
    outputs_flow_s: float
    state_back_s: float
    queries_answered: int
    query_failures: dict[str, int]
    slowest_query_s: float
    receipts_with_duplicates: int
    load_average: tuple[float, float, float]


def _wait(what: str, timeout_s: float, ready: Any, check: Any) -> float:
    """Poll ``ready()`` until true; the time it took (raises after ``timeout_s``)."""
    started = time.monotonic()
    while not ready():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        check()
        time.sleep(0.05)
    return time.monotonic() - started


def _history_count(port: int, vin: str) -> int:
    status, body = get(port, f"/vehicles/{vin}/history")
    return len(body["readings"]) if status == 200 and body else -1


def run_failover(p: Pipeline, vehicles: int, readings_per_s: float) -> FailoverReport:
    """Start the workers, stream the fleet, kill one mid-stream; measure and verify (see the module)."""
    bootstrap = p.bootstrap
    readings = histories(vehicles, seed=11)
    registrations = registrations_for(readings)
    feed = Feeder(p)
    workers = [p.start("w", projections=True) for _ in range(WORKERS)]
    port = p.ports[workers[0]]
    _wait("three workers sharing the partitions", 120,
          lambda: len(owners(port)) == WORKERS and sum(map(len, owners(port).values())) == PARTITIONS,
          p.assert_alive)  # fmt: skip
    feed.records(registrations)
    registered = 'carpass_events_in_total{origin="",topic="vehicle.registrations"}'
    _wait("the registrations processed", 60,
          lambda: sum(p.metrics(w).get(registered, 0) for w in workers) >= len(registrations),
          p.assert_alive)  # fmt: skip

    vins = sorted({r.vin for r in readings})
    # The metric sums the workers: a partition judged twice around the start-up rebalance can reach the
    # total while another partition's registrations still wait; the queries below count any 404 as a
    # failure, so first every vehicle must be known (from any worker: they forward).
    missing = list(vins)

    def every_vehicle_known() -> bool:
        missing[:] = [vin for vin in missing if _history_count(port, vin) < 0]
        return not missing

    _wait("every registered vehicle known", 60, every_vehicle_known, p.assert_alive)
    session_timeout_s = p.settings().session_timeout_s
    clock = ReceiptClock(bootstrap, p.topics.receipts)
    queries = Queries(p, vins, retry_s=session_timeout_s + QUERY_RETRY_S)
    sent = [0]

    def stream() -> None:
        step = max(1, round(readings_per_s / 10))
        for start in range(0, len(readings), step):
            feed.records(readings[start : start + step])
            sent[0] = start + step
            time.sleep(0.1)

    threads = [threading.Thread(target=t, daemon=True) for t in (stream, clock.run, queries.run)]
    for thread in threads:
        thread.start()
    try:
        _wait("the stream under way", 120, lambda: sent[0] >= KILL_AT * len(readings), p.assert_alive)
        routing = owners(port)
        victim = max(workers, key=lambda w: len(routing.get(f"http://127.0.0.1:{p.ports[w]}", ())))
        lost = routing[f"http://127.0.0.1:{p.ports[victim]}"]
        survivors = [w for w in workers if w != victim]
        probes = [next(v for v in vins if key_partition(v.encode(), PARTITIONS) == part) for part in lost]
        before = {vin: _history_count(p.ports[victim], vin) for vin in probes}
        print(f"killing worker {victim} (partitions {sorted(lost)}) after {sent[0]} readings", flush=True)
        killed_ms = time.time_ns() // 1_000_000
        killed = time.monotonic()
        p.kill(victim)

        def rebalanced() -> bool:
            seen = [owners(p.ports[w]) for w in survivors]
            return all(set(s) == {f"http://127.0.0.1:{p.ports[w]}" for w in survivors}
                       and set().union(*s.values()) == set(range(PARTITIONS)) for s in seen)  # fmt: skip

        _wait("the partitions handed over", 120, rebalanced, p.assert_alive)
        rebalanced_s = time.monotonic() - killed
        _wait("a survivor's receipt on a lost partition", 120,
              lambda: clock.first_after(lost, killed_ms) is not None, p.assert_alive)  # fmt: skip
        outputs_ms = clock.first_after(lost, killed_ms)
        assert outputs_ms is not None
        _wait("the lost partitions' state answering on every survivor", 120,
              lambda: all(_history_count(p.ports[w], vin) >= n
                          for w in survivors for vin, n in before.items()),
              p.assert_alive)  # fmt: skip
        state_back_s = time.monotonic() - killed

        threads[0].join()
        expected = expected_outputs(bootstrap, p, len(readings), registrations)
        got = assert_same_outputs(bootstrap, p, readings, expected, timeout_s=180, check=p.assert_alive)
        _assert_each_reading_counted_once(p, survivors[0], records_of(got, Receipt))
    finally:
        clock.stop.set()
        queries.stop.set()
        for thread in threads:
            thread.join(60)
    _every_survivor_answers(p, survivors, readings)
    assert queries.unanswered == [], f"{len(queries.unanswered)} queries unanswered for {queries.retry_s} s"
    assert set(queries.failures) <= {503}, (queries.failures, queries.failed)  # "retry later", never an error
    return FailoverReport(
        vehicles=vehicles, readings=len(readings), partitions=PARTITIONS, workers=WORKERS,
        session_timeout_s=session_timeout_s, victim_partitions=sorted(lost),
        rebalanced_s=round(rebalanced_s, 2), outputs_flow_s=round((outputs_ms - killed_ms) / 1000, 2),
        state_back_s=round(state_back_s, 2), queries_answered=queries.answered,
        query_failures={str(k): v for k, v in queries.failures.items()},
        slowest_query_s=round(queries.slowest_s, 2), receipts_with_duplicates=len(got) - len(readings),
        load_average=os.getloadavg(),
    )  # fmt: skip


def _provider_readings(port: int, provider: str) -> int | None:
    status, body = get(port, f"/providers/{provider}/quality")
    return sum(year["readings"] for year in body["quality"]["years"]) if status == 200 and body else None


def _assert_each_reading_counted_once(p: Pipeline, worker: int, receipts: Sequence[Receipt]) -> None:
    """Provider quality (R10) counts every reading once, although the receipts of the killed worker's
    uncommitted work were delivered again to the quality fold."""
    once = {r.event_id: r for r in receipts}.values()
    wanted = Counter(r.provider_id for r in once if counts_as_reading(r))
    seen: dict[str, int | None] = {}

    def settled() -> bool:
        seen.update({provider: _provider_readings(p.ports[worker], provider) for provider in wanted})
        return seen == dict(wanted)

    try:
        _wait("provider quality", 90, settled, p.assert_alive)
    except AssertionError as exc:
        told = f"readings per provider: quality says {seen}, the receipts {dict(wanted)}"
        raise AssertionError(told) from exc


def _every_survivor_answers(
    p: Pipeline, survivors: Sequence[int], readings: Sequence[OdometerReading]
) -> None:
    """After the stream: each survivor answers for each vehicle (itself or by forwarding), with every
    reading of its history."""
    counts = Counter(r.vin for r in readings)
    sample = sorted(counts)[:: max(1, len(counts) // 40)]
    for w in survivors:
        for vin in sample:
            status, body = get(p.ports[w], f"/vehicles/{vin}/history")
            assert status == 200 and len(body["readings"]) == counts[vin], (w, vin, status)
            status, body = get(p.ports[w], f"/vehicles/{vin}/ok-label?advertised_km=1")
            assert status == 200 and body["reading_count"] == counts[vin], (w, vin, status)


def failover(
    bootstrap: str, directory: Path, vehicles: int = VEHICLES, readings_per_s: float = READINGS_PER_S,
    session_timeout_s: float = 6.0,
) -> FailoverReport:  # fmt: skip
    """The whole scenario on its own topics and group in ``directory`` (tests and the benchmark)."""
    keys = directory / "api-keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "ops", "role": "operator", "key": OPERATOR_KEY}]}))
    with pipeline(bootstrap, directory, partitions=PARTITIONS, api_keys_file=str(keys),
                  standby_replicas="1", batch_max_events="200",
                  session_timeout_s=f"{session_timeout_s:g}") as p:  # fmt: skip
        try:
            return run_failover(p, vehicles, readings_per_s)
        except AssertionError:
            kept = artifacts_dir() / f"failover-{p.run_id}"
            kept.mkdir()
            for log in directory.glob("*.log"):
                shutil.copy(log, kept)
            print(f"\nthe workers' logs of the failed failover run: {kept}", flush=True)
            raise


def test_a_worker_killed_mid_stream_is_taken_over_by_the_others(kafka_bootstrap: str, tmp_path: Path) -> None:
    report = failover(kafka_bootstrap, tmp_path)
    out = tmp_path / "failover.json"
    out.write_text(json.dumps(asdict(report), indent=2))
    print(f"\nfailover: {json.dumps(asdict(report))}\n(written to {out})")
    timeout = report.session_timeout_s
    assert report.rebalanced_s < timeout + 60 and report.state_back_s < timeout + 60
    assert report.queries_answered > 0
