"""streams.kafka.topics: the catalogue covers the contract and configures each kind as the design says."""

from __future__ import annotations

from schemas.catalog import RECORD_TYPES
from schemas.records import INPUT_TOPICS, OUTPUT_TOPICS, VIEW_TOPICS, CertificateIssued, OdometerReading
from streams.kafka.topics import (
    CATALOGUE,
    OUTPUT_RETENTION_MS,
    KeyKind,
    PipelineTopics,
    TopicKind,
    spec_for,
    spec_named,
    topics_of_kind,
)


def test_catalogue_is_the_contract() -> None:
    assert [s.name for s in topics_of_kind(TopicKind.INPUT)] == list(INPUT_TOPICS.values())
    assert [s.name for s in topics_of_kind(TopicKind.OUTPUT)] == list(OUTPUT_TOPICS.values())
    assert [s.name for s in topics_of_kind(TopicKind.VIEW)] == list(VIEW_TOPICS)
    assert {s.record_type for s in CATALOGUE} == set(RECORD_TYPES)
    assert len({s.name for s in CATALOGUE}) == len(CATALOGUE)


def test_input_topics_keep_everything_forever() -> None:
    for spec in topics_of_kind(TopicKind.INPUT):
        assert spec.config["retention.ms"] == "-1", spec.name
        assert spec.config["retention.bytes"] == "-1", spec.name
        assert spec.config["cleanup.policy"] == "delete", spec.name


def test_the_resolved_plate_readings_are_kept_as_long_as_the_inputs_the_replay_reads_them() -> None:
    topics = PipelineTopics("p-").all_topics()
    assert topics["p-carpass.plate-resolved-readings"][1]["retention.ms"] == "-1"
    assert topics["p-carpass.plate-intervals"][1]["retention.ms"] != "-1"  # rebuilt from registrations


def test_issued_certificates_are_kept_forever_keyed_by_number() -> None:
    (spec,) = topics_of_kind(TopicKind.RECORD)
    assert (spec.name, spec.key) == ("certificates.issued", KeyKind.NUMBER)
    assert spec.record_type is CertificateIssued
    assert (spec.config["retention.ms"], spec.config["cleanup.policy"]) == ("-1", "delete")
    assert PipelineTopics("p-").certificates_issued in PipelineTopics("p-").all_topics()


def test_views_are_compacted() -> None:
    for spec in topics_of_kind(TopicKind.VIEW):
        assert spec.config["cleanup.policy"] == "compact", spec.name


def test_outputs_and_dead_letters_keep_at_least_a_year() -> None:
    for spec in topics_of_kind(TopicKind.OUTPUT):
        assert int(spec.config["retention.ms"]) >= 365 * 24 * 3600 * 1000, spec.name
        assert int(spec.config["retention.ms"]) == OUTPUT_RETENTION_MS
    assert spec_named("dead-letters") is not None


def test_keys() -> None:
    keys = {spec.name: spec.key for spec in CATALOGUE}
    assert keys["odometer.plate-readings"] is KeyKind.PLATE
    assert keys["providers.registry"] is keys["providers.quality"] is KeyKind.PROVIDER_ID
    assert keys["dead-letters"] is KeyKind.SOURCE
    vin_keyed = {name for name, key in keys.items() if key is KeyKind.VIN}
    assert vin_keyed == {
        "odometer.readings", "odometer.corrections", "vehicle.registrations", "vehicle.recalls",
        "vehicle.accident-inspections", "odometer.receipts", "odometer.anomalies", "carpass.certificates",
        "carpass.ok-labels", "odometer.confirmations",
    }  # fmt: skip
    assert all(spec.co_partitioned == (spec.key is KeyKind.VIN) for spec in CATALOGUE)


def test_lookups() -> None:
    assert spec_for(OdometerReading).name == "odometer.readings"
    assert spec_named("odometer.readings") is spec_for(OdometerReading)
    assert spec_named("no.such.topic") is None


def test_create_warns_when_vin_keyed_topics_are_not_co_partitioned() -> None:
    from streams.cli.topics import _co_partitioning_problems

    names = {spec.name: spec for spec in CATALOGUE}
    same = dict.fromkeys(names, 4)
    assert _co_partitioning_problems(names, same) == []
    assert _co_partitioning_problems(names, same | {"providers.registry": 8}) == []  # not VIN-keyed
    problems = _co_partitioning_problems(names, same | {"odometer.corrections": 8})
    assert len(problems) == 1 and "odometer.corrections=8" in problems[0]
