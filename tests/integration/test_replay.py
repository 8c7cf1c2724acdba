"""``carpass replay`` against the live path on a real broker (#15 item 2).

A simulated fleet (faults at ten times their rates, plate readings, corrections, the registry of providers)
goes through a live worker with its projections; then ``carpass replay --to-prefix`` judges the same input
topics again into another prefix. The two must agree: the same last state per VIN on the vehicle table's
changelog (bytes), the same anomaly events and receipts (bytes), the same last certificate and OK-label view
per VIN. Then the in-place replay: refused while a worker of the group runs; once it is stopped, it rewrites
the states and views and moves the group's committed offsets to the end of the inputs, and a worker started
afterwards carries on from there (a new reading gets its receipt, judged on the replayed history).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from schemas.records import OdometerReading, Origin, ProviderKind, Receipt
from streams.worker.replay import group_members
from tests.integration.worker_harness import (
    ROOT,
    Feeder,
    Pipeline,
    pipeline,
    read_all,
    read_topic,
    records_of,
)

pytestmark = pytest.mark.integration

VEHICLES = 250


def _carpass(p: Pipeline, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "streams.cli", *args]
    return subprocess.run(command, env=p.env(p.data_dir / "cli", 0), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout_s, check=False)  # fmt: skip


def _committed_behind(p: Pipeline, topics: list[str]) -> int:
    """Records of ``topics`` not yet committed by the workers' group."""
    consumer = Consumer({"bootstrap.servers": p.bootstrap, "group.id": p.app_id, "enable.auto.commit": False})
    try:
        partitions = [TopicPartition(t, n) for t in topics for n in range(p.partitions)]
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, timeout=10)}
        behind = 0
        for tp in partitions:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            behind += high - max(0, committed[(tp.topic, tp.partition)])
        return behind
    finally:
        consumer.close()


def _wait_caught_up(p: Pipeline, topics: list[str], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    settled = 0
    while settled < 2:
        assert time.monotonic() < deadline, f"the worker is {_committed_behind(p, topics)} records behind"
        p.assert_alive()
        try:
            behind = _committed_behind(p, topics)
        except KafkaException:  # NOT_COORDINATOR while the broker makes its offsets topic
            behind = -1
        settled = settled + 1 if behind == 0 else 0
        time.sleep(1.0)


def _wait_views_published(p: Pipeline, timeout_s: float = 120) -> int:
    """Wait until no vehicle's views wait any more (every key of the ``views-pending`` changelog ends in a
    tombstone); how many vehicles' views had waited."""
    deadline = time.monotonic() + timeout_s
    topic = f"{p.app_id}-views-pending-changelog"
    while True:
        last = {m.key(): m.value() for m in read_all(p.bootstrap, topic, idle_s=1.0)}
        if all(value is None for value in last.values()):
            return len(last)
        assert time.monotonic() < deadline, f"{sum(v is not None for v in last.values())} views still wait"
        p.assert_alive()
        time.sleep(1.0)


def _stop(p: Pipeline) -> None:
    """Stop every worker (SIGTERM: a last commit), as an operator would before an in-place replay."""
    p.stop_all()
    p.killed.update(range(len(p.workers)))
    p.logs.clear()


def _wait_member(p: Pipeline, timeout_s: float = 60) -> None:
    admin = AdminClient({"bootstrap.servers": p.bootstrap})
    deadline = time.monotonic() + timeout_s
    while not group_members(admin, p.app_id):
        assert time.monotonic() < deadline, "the worker did not join its group"
        p.assert_alive()
        time.sleep(0.5)


def _last_by_key(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    return {m.key(): m.value() for m in read_all(bootstrap, topic, idle_s=1.5)}


def _values(bootstrap: str, topic: str) -> list[bytes]:
    return [m.value() for m in read_all(bootstrap, topic, idle_s=1.5)]


def test_a_what_if_replay_under_the_same_policy_equals_the_live_path_and_in_place_carries_on(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Views wait for changes older than half a second: the live worker starts seconds after the fleet is sent.
    with pipeline(kafka_bootstrap, tmp_path, partitions=2, batch_max_events="200",
                  views_defer_after_s="0.5") as p:  # fmt: skip
        simulated = _carpass(p, "simulate", "--vehicles", str(VEHICLES), "--seed", "11", "--kafka", "--quiet",
                             "--fault-rate-multiplier", "10")  # fmt: skip
        assert simulated.returncode == 0, simulated.stderr
        t = p.topics
        p.start(projections=True)
        _wait_caught_up(p, [*t.vehicle_inputs, t.plate_readings, t.anomalies, t.providers])
        _wait_caught_up(p, [t.provider_events])  # provider quality folded to the end
        waited = _wait_views_published(p)
        _stop(p)

        what_if = p.prefix + "w-"
        out = tmp_path / "what-if.json"
        replayed = _carpass(p, "replay", "--to-prefix", what_if, "--json", str(out), "--quiet")
        assert replayed.returncode == 0, replayed.stderr
        summary: dict[str, Any] = json.loads(out.read_text())
        w = type(t)(what_if)
        group = what_if + p.app_id[len(p.prefix) :]
        assert summary["group"] == group and summary["vehicles"] >= VEHICLES
        assert summary["offsets_committed"] is False

        live_states = _last_by_key(p.bootstrap, f"{p.app_id}-vehicles-changelog")
        replay_states = _last_by_key(p.bootstrap, f"{group}-vehicles-changelog")
        assert len(live_states) >= VEHICLES
        assert replay_states == live_states

        live_anomalies = _values(p.bootstrap, t.anomalies)
        replay_anomalies = _values(p.bootstrap, w.anomalies)
        assert len(replay_anomalies) > 20  # faults at ten times their rates: anomalies of every kind
        assert set(replay_anomalies) == set(live_anomalies)

        live_receipts, replay_receipts = _values(p.bootstrap, t.receipts), _values(p.bootstrap, w.receipts)
        assert sum(summary["receipts"].values()) == len(replay_receipts)
        assert set(replay_receipts) <= set(live_receipts)
        # The rest are the plate agent's receipts (a plate reading it could not resolve), not the vehicles'.
        vehicle_ids = {r.event_id for r in records_of([_Value(v) for v in replay_receipts], Receipt)}
        others = [r for r in records_of([_Value(v) for v in live_receipts], Receipt)
                  if r.event_id not in vehicle_ids]  # fmt: skip
        assert all(r.vin == "" for r in others), others[:3]

        for live_topic, replay_topic in ((t.certificates, w.certificates), (t.ok_labels, w.ok_labels)):
            live_views = _last_by_key(p.bootstrap, live_topic)
            replay_views = _last_by_key(p.bootstrap, replay_topic)
            assert len(replay_views) == len(replay_states)
            assert replay_views == live_views, live_topic
        # The live worker started on a backlog several seconds old: views waited, then came out the same.
        assert waited > 0
        # Provider quality (the tallies, with the input offsets counted, and the published views).
        live_quality = _last_by_key(p.bootstrap, t.provider_quality)
        assert summary["providers_folded"] == len(live_quality) > 3
        assert _last_by_key(p.bootstrap, w.provider_quality) == live_quality
        live_tallies = _last_by_key(p.bootstrap, f"{p.app_id}-provider-quality-changelog")
        assert _last_by_key(p.bootstrap, f"{group}-provider-quality-changelog") == live_tallies

        # carpass diff: the same policy changes nothing; a looser tolerance closes anomalies.
        same = _carpass(p, "diff", "--against", what_if, "--json", str(tmp_path / "same.json"))
        assert same.returncode == 0, same.stderr
        nothing = json.loads((tmp_path / "same.json").read_text())
        assert nothing["vehicles"]["changed"] == 0 and nothing["receipts"]["changed"] == {}
        assert nothing["vehicles"]["compared"] == len(live_states)
        loose = tmp_path / "loose.json"
        loose.write_text(json.dumps({"trend": {"tolerance_km": 5_000, "max_km_per_day": 3_000}}))
        looser = p.prefix + "loose-"
        assert _carpass(p, "replay", "--to-prefix", looser, "--policy", str(loose), "--quiet").returncode == 0
        diff = _carpass(p, "diff", "--against", looser, "--json", str(tmp_path / "diff.json"),
                        "--plot", str(tmp_path / "diff.png"))  # fmt: skip
        assert diff.returncode == 0, diff.stderr
        changed = json.loads((tmp_path / "diff.json").read_text())
        assert changed["vehicles"]["changed"] > 0 and sum(changed["anomalies"]["closed"].values()) > 0
        assert "vehicles that change" in diff.stdout and (tmp_path / "diff.png").stat().st_size > 10_000
        # A what-if prefix in use is refused (its anomalies would mix), and replaced on request.
        again = _carpass(p, "replay", "--to-prefix", looser, "--quiet")
        assert again.returncode == 2 and "--replace" in again.stderr, again.stderr
        replaced = _carpass(p, "replay", "--to-prefix", looser, "--replace", "--partitions", "0", "--quiet",
                            "--json", str(tmp_path / "replaced.json"))  # fmt: skip
        assert replaced.returncode == 0, replaced.stderr
        part = json.loads((tmp_path / "replaced.json").read_text())
        assert part["partitions"] == [0] and part["providers_folded"] is None
        assert "--fold-quality" in replaced.stdout
        changelog = f"{looser}{p.app_id[len(p.prefix):]}-vehicles-changelog"
        assert len(_last_by_key(p.bootstrap, changelog)) < len(live_states)  # partition 0's: the rest deleted
        # The other share, later and elsewhere: partition 1 of the prefix is still free, so it is not refused.
        share = _carpass(p, "replay", "--to-prefix", looser, "--partitions", "1", "--quiet")
        assert share.returncode == 0, share.stderr
        assert len(_last_by_key(p.bootstrap, changelog)) == len(live_states)
        folded = _carpass(p, "replay", "--to-prefix", looser, "--fold-quality")
        assert folded.returncode == 0 and "providers folded" in folded.stdout, folded.stderr
        assert _last_by_key(p.bootstrap, f"{looser}providers.quality")

        # In place: refused while a worker of the group runs.
        p.start(projections=False)
        _wait_member(p)
        refused = _carpass(p, "replay", "--quiet")
        assert refused.returncode == 2 and "member" in refused.stderr, refused.stderr
        _stop(p)

        in_place = tmp_path / "in-place.json"
        rebuilt = _carpass(p, "replay", "--quiet", "--json", str(in_place))
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert json.loads(in_place.read_text())["offsets_committed"] is True
        assert _last_by_key(p.bootstrap, f"{p.app_id}-vehicles-changelog") == live_states
        # Nothing sent again (sorted: a read interleaves the partitions in no fixed order).
        assert sorted(_values(p.bootstrap, t.receipts)) == sorted(live_receipts)
        assert _committed_behind(p, list(t.vehicle_inputs)) == 0

        # A worker started now restores the states and judges the next reading on the replayed history.
        vin = next(iter(live_states)).decode()
        reading = OdometerReading(
            event_id=str(uuid.uuid4()), vin=vin, odometer_value=999_999, observed_at=1_790_000_000_000,
            submitted_at=1_790_000_000_000, provider_id="0123456789", provider_kind=ProviderKind.GARAGE,
            origin=Origin.WORKSHOP, work_description="after the replay",
        )  # fmt: skip
        p.start(projections=False)
        Feeder(p).records([reading])
        wanted = reading.event_id.encode()
        got = read_topic(p.bootstrap, t.receipts, lambda m: any(wanted in x.value() for x in m),
                         timeout_s=120, check=p.assert_alive)  # fmt: skip
        assert len(got) == len(live_receipts) + 1


class _Value:
    """A message-like holder of a value (``records_of`` reads ``value()``)."""

    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value
