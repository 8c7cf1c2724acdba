"""The scenario suite: one YAML file per scenario, run through ``streams.domain.offline.judge`` (issue 3).

A scenario file::

    description: what happens and which rule says so (R9 ...)
    events:            # judge input: contract records with a ``type``, ISO-8601 times, in arrival order
      - {type: OdometerReading, event_id: r1, vin: ..., odometer_value: 15200, ...}
    expect:
      receipts:        # per event_id: status, issue codes (any order), optional suggested_value;
        r3: {status: ACCEPTED_WITH_WARNINGS, codes: [TREND_BREAK], suggested_value: 45210}
                       # every other reading or correction must be ACCEPTED with no issue
      anomalies:       # the last status of every anomaly emitted (exactly these, any order);
        - {kind: SPIKE, status: OPEN, blamed: r3, cause: EXTRA_DIGIT, suggested_value: 45210}
                       # optional keys: cause, suggested_value, provider (blamed_provider_id, null allowed)
      anomaly_events:  # optional: every AnomalyEvent in emission order, as [kind, status, blamed]
      judgment: ILLOGICAL
      reasons: [SPIKE]
      readings_used: [r1, r2, r3]           # optional
      vehicles: {VIN: {judgment, reasons, readings_used}}   # instead, when the log has several VINs

Besides its own expectations, every scenario checks the contract's invariants: exactly one receipt per
distinct reading or correction ``event_id``, stable anomaly ids, and idempotency (delivering every event
twice in a row gives the same outputs).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.jsonl import from_json_obj
from schemas.records import AnomalyEvent, CorrectionRequest, OdometerReading, Receipt
from streams.domain.ids import anomaly_id
from streams.domain.offline import VehicleSummary, judge

HERE = Path(__file__).resolve().parent
SCENARIOS = sorted(HERE.glob("*.yaml"))
_KNOWN_KEYS = {"description", "events", "expect"}
_EXPECT_KEYS = {"receipts", "anomalies", "anomaly_events", "judgment", "reasons", "readings_used", "vehicles"}


def _load(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(spec, dict) and set(spec) <= _KNOWN_KEYS, f"{path.name}: keys {sorted(spec)}"
    assert set(spec["expect"]) <= _EXPECT_KEYS, f"{path.name}: expect keys {sorted(spec['expect'])}"
    return spec


def _run(events: list[Any]) -> list[Any]:
    return list(judge(events))


def test_there_are_at_least_sixty_scenarios() -> None:
    assert len(SCENARIOS) >= 60


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    spec = _load(path)
    assert re.search(r"\bR\d+", spec["description"]), "a scenario says what it shows and cites its rule"
    events = [from_json_obj(obj, line=number) for number, obj in enumerate(spec["events"], start=1)]
    outputs = _run(events)
    expect = spec["expect"]

    receipts = [o for o in outputs if isinstance(o, Receipt)]
    anomalies = [o for o in outputs if isinstance(o, AnomalyEvent)]
    summaries = {o.vin: o for o in outputs if isinstance(o, VehicleSummary)}

    # R4: exactly one receipt per distinct submission event_id.
    submitted = {e.event_id for e in events if isinstance(e, OdometerReading | CorrectionRequest)}
    counts = Counter(r.event_id for r in receipts)
    assert set(counts) == submitted and set(counts.values()) <= {1}, f"receipts per event_id: {counts}"

    _check_receipts(receipts, expect.get("receipts") or {})
    _check_anomalies(anomalies, expect.get("anomalies") or [])
    if "anomaly_events" in expect:
        seen = [[a.kind.value, a.status.value, a.blamed_event_id] for a in anomalies]
        assert seen == expect["anomaly_events"]
    for a in anomalies:
        assert a.anomaly_id == anomaly_id(a.vin, a.kind.value, a.blamed_event_id)

    vehicles = expect.get("vehicles")
    if vehicles is None:
        assert len(summaries) == 1, f"one VIN expected, got {sorted(summaries)}"
        vehicles = {next(iter(summaries)): expect}
    assert set(vehicles) == set(summaries)
    for vin, wanted in vehicles.items():
        summary = summaries[vin]
        assert summary.judgment.value == wanted["judgment"], f"{vin}: {summary}"
        assert list(summary.reasons) == list(wanted.get("reasons") or []), f"{vin}: {summary}"
        if "readings_used" in wanted:
            assert list(summary.readings_used) == wanted["readings_used"]

    # Idempotency (principle 5): every event delivered twice in a row changes nothing.
    assert _run([e for event in events for e in (event, event)]) == outputs


def _check_receipts(receipts: list[Receipt], wanted: dict[str, Any]) -> None:
    by_id = {r.event_id: r for r in receipts}
    assert set(wanted) <= set(by_id), f"no receipt for {sorted(set(wanted) - set(by_id))}"
    for event_id, receipt in by_id.items():
        spec = wanted.get(event_id, {"status": "ACCEPTED", "codes": []})
        got = (receipt.status.value, sorted(i.code for i in receipt.issues))
        assert got == (spec["status"], sorted(spec.get("codes") or [])), f"{event_id}: {receipt}"
        if "suggested_value" in spec:
            suggested = [i.suggested_value for i in receipt.issues if i.suggested_value is not None]
            assert suggested == [spec["suggested_value"]], f"{event_id}: {receipt}"
        numbers = [i.error_number for i in receipt.issues]
        assert len(set(numbers)) == len(numbers)


def _check_anomalies(anomalies: list[AnomalyEvent], wanted: list[dict[str, Any]]) -> None:
    final = {a.anomaly_id: a for a in anomalies}  # a later event supersedes an earlier one
    unmatched = list(final.values())
    for spec in wanted:
        match = next((a for a in unmatched if _matches(a, spec)), None)
        assert match is not None, f"no anomaly like {spec} among {[_show(a) for a in unmatched]}"
        unmatched.remove(match)
    assert not unmatched, f"unexpected anomalies: {[_show(a) for a in unmatched]}"


def _matches(anomaly: AnomalyEvent, spec: dict[str, Any]) -> bool:
    checks = [
        anomaly.kind.value == spec["kind"],
        anomaly.status.value == spec["status"],
        anomaly.blamed_event_id == spec["blamed"],
    ]
    if "cause" in spec:
        checks.append((anomaly.suspected_cause and anomaly.suspected_cause.value) == spec["cause"])
    if "suggested_value" in spec:
        checks.append(anomaly.suggested_value == spec["suggested_value"])
    if "provider" in spec:
        checks.append(anomaly.blamed_provider_id == spec["provider"])
    return all(checks)


def _show(a: AnomalyEvent) -> dict[str, Any]:
    return {
        "kind": a.kind.value,
        "status": a.status.value,
        "blamed": a.blamed_event_id,
        "cause": a.suspected_cause and a.suspected_cause.value,
        "suggested_value": a.suggested_value,
        "provider": a.blamed_provider_id,
    }
