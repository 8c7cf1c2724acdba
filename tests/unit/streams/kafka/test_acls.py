"""The access plan: who may write what, and the checks of the access file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.kafka.acls import AccessFileError, Acl, acl_set, ingest_topic, load_access, parse_access
from streams.kafka.topics import PipelineTopics

TOPICS = PipelineTopics("prod-")
GROUP = "prod-carpass-streams"
DOC = {
    "worker": "User:carpass-worker",
    "gateway": "User:carpass-gateway",
    "feeds": {"User:div-feed": ["vehicle.registrations"], "User:registry-staff": ["providers.registry"]},
    "integrators": {"User:dms-acme": {"name": "acme", "providers": ["0412345678", "0412345679"]}},
}


def rights(rules: list[Acl], principal: str, operation: str = "WRITE") -> set[str]:
    return {f"{r.pattern}:{r.name}" for r in rules if r.principal == principal and r.operation == operation}


def test_each_principal_may_write_only_what_it_must() -> None:
    rules = acl_set(parse_access(DOC), TOPICS, GROUP)
    assert rules == sorted(set(rules))
    bases = ("odometer.readings", "odometer.plate-readings", "odometer.corrections", "odometer.confirmations")
    acme = {ingest_topic(TOPICS, "acme", base) for base in bases}
    assert rights(rules, "User:dms-acme") == {f"literal:{t}" for t in acme}
    assert rights(rules, "User:dms-acme", "READ") == set()  # not even the receipts: they hold competitors'
    assert rights(rules, "User:carpass-gateway") == {
        "literal:prod-odometer.readings", "literal:prod-odometer.plate-readings",
        "literal:prod-odometer.corrections", "literal:prod-odometer.confirmations",
    }  # fmt: skip
    assert rights(rules, "User:carpass-gateway", "READ") == {"literal:prod-odometer.receipts",
                                                             "prefixed:carpass-gateway-"}  # fmt: skip
    assert rights(rules, "User:div-feed") == {"literal:prod-vehicle.registrations"}
    worker_writes = rights(rules, "User:carpass-worker")
    assert "literal:prod-odometer.receipts" in worker_writes and f"prefixed:{GROUP}-" in worker_writes
    writers = {r.principal for r in rules if r.name == "prod-certificates.issued" and r.operation == "WRITE"}
    assert writers == {"User:carpass-worker"}  # the workers alone issue certificates
    assert "literal:prod-providers.registry" not in worker_writes  # an input only the registry's staff write
    assert "literal:prod-odometer.readings" in worker_writes  # the intake agent forwards acme's readings
    assert {f"literal:{t}" for t in acme} <= rights(rules, "User:carpass-worker", "READ")
    assert all(r.pattern in ("literal", "prefixed") and r.resource in ("topic", "group") for r in rules)


def test_without_gateway_or_integrators_the_worker_rules_stand_alone() -> None:
    rules = acl_set(parse_access({"worker": "User:w"}), TOPICS, GROUP)
    assert {r.principal for r in rules} == {"User:w"}
    assert not {n for n in rights(rules, "User:w") if "odometer.readings" in n}  # no integrator: no input


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"worker": "carpass-worker"}, "expected a Kafka principal"),
        ({"admin": "User:root"}, "unknown entries ['admin']"),
        ({"feeds": {"User:div-feed": ["odometer.receipts"]}}, "are not input topics"),
        ({"feeds": {"User:div-feed": ["certificates.issued"]}}, "are not input topics"),  # forgeries
        ({"gateway": "User:dms-acme"}, "is both the gateway and integrator acme"),
        ({"integrators": {"User:x": {"name": "Acme Corp", "providers": ["1"]}}}, "lower-case letters"),
        ({"integrators": {"User:x": {"name": "x", "providers": []}}}, "must list 1 to"),
        ({"integrators": {"User:x": {"name": "x", "providers": ["04 12"]}}}, "not provider ids"),
        ({"integrators": {"User:x": {"name": "a", "providers": ["1"]},
                          "User:y": {"name": "a", "providers": ["2"]}}}, "two integrators are named 'a'"),
    ],
)
def test_a_wrong_access_file_says_what_is_wrong(change: dict[str, object], says: str) -> None:
    with pytest.raises(AccessFileError, match=None) as caught:
        parse_access({**DOC, **change})
    assert says in str(caught.value)


def test_the_file_is_read_or_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "access.json"
    path.write_text(json.dumps(DOC))
    plan = load_access(path)
    assert plan.integrators[0].providers == frozenset({"0412345678", "0412345679"})
    path.write_text("{not json")
    with pytest.raises(AccessFileError, match="is not JSON"):
        load_access(path)
    with pytest.raises(AccessFileError, match="cannot read the access file"):
        load_access(tmp_path / "missing.json")
