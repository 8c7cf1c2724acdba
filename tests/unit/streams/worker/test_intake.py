"""The intake agent's step: an integrator's submissions reach the contract topics only for the providers
it is bound to; the rest are dead letters, and every ingest record is one or the other."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry

from schemas.codec import encode
from schemas.records import DeadLetter, OdometerReading
from streams.kafka.acls import ingest_topic, parse_access
from streams.kafka.clients import build_codec
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from streams.worker.batch import MemorySink, RawMessage
from streams.worker.intake import IntakeChecker
from streams.worker.metrics import WorkerMetrics
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, VIN, correction, reading

TOPICS = PipelineTopics("t-")
PLAN = parse_access({
    "worker": "User:w",
    "integrators": {"User:dms-acme": {"name": "acme", "providers": [GARAGE]},
                    "User:dms-other": {"name": "other", "providers": [OTHER_GARAGE]}},
})  # fmt: skip
READINGS_IN = ingest_topic(TOPICS, "acme", "odometer.readings")
CORRECTIONS_IN = ingest_topic(TOPICS, "acme", "odometer.corrections")


def checker() -> tuple[IntakeChecker, MemorySink, CollectorRegistry]:
    sink, registry = MemorySink(), CollectorRegistry()
    metrics = WorkerMetrics.create(registry)
    step = IntakeChecker(codec=build_codec(Settings.from_env({})), topics=TOPICS, sink=sink, metrics=metrics,
                         plan=PLAN, max_input_bytes=4_096)  # fmt: skip
    return step, sink, registry


def message(offset: int, value: bytes | None, topic: str = READINGS_IN, key: bytes = b"any") -> RawMessage:
    return RawMessage(topic, 0, offset, key, value, 1_700_000_000_000 + offset)


def test_only_the_integrators_own_providers_are_forwarded_and_every_record_is_answered() -> None:
    step, sink, registry = checker()
    own = reading("r1", 15_000, "2025-01-02")
    someone_elses = replace(reading("r2", 16_000, "2025-02-02"), provider_id=OTHER_GARAGE)
    batch = [
        message(0, encode(own), key=b"not-the-vin"),
        message(1, encode(someone_elses)),
        message(2, b"\x00garbage"),
        message(3, None),
        message(4, b"x" * 5_000),
        message(5, encode(correction("c1", "r1", "E1"))),  # a correction on the readings topic: wrong type
        message(6, encode(correction("c2", "r1", "E1")), topic=CORRECTIONS_IN),
        message(7, encode(own), topic="t-odometer.readings"),  # not an ingest topic
    ]
    result = step.process(batch)
    forwarded = [(topic, key) for topic, key, _, _ in sink.sent if not topic.endswith("dead-letters")]
    assert forwarded == [("t-odometer.readings", VIN.encode()), ("t-odometer.corrections", VIN.encode())]
    assert sink.sent[0][2] == encode(own)  # the bytes as sent; the key the record's own (its VIN)
    letters = [r for _, r in result.outputs if isinstance(r, DeadLetter)]
    assert [(d.offset, d.error_type) for d in letters] == [
        (1, "not-bound"), (2, letters[1].error_type), (3, "null-value"), (4, "oversized"),
        (5, letters[4].error_type), (7, "unexpected-topic"),
    ]  # fmt: skip
    assert "may not speak for provider '0498765432'" in letters[0].reason
    assert len(forwarded) + len(letters) == len(batch)  # every ingest record: forwarded or a dead letter
    assert sink.flushed == len(sink.sent)  # all on Kafka before the step returns (then it is committed)
    counted = {outcome: registry.get_sample_value("carpass_intake_total",
                                                  {"integrator": "acme", "outcome": outcome})
               for outcome in ("forwarded", "not-bound")}  # fmt: skip
    assert counted == {"forwarded": 2, "not-bound": 1}


def test_another_integrators_topic_is_checked_against_its_own_providers() -> None:
    step, sink, _ = checker()
    acme_reading = reading("r1", 15_000, "2025-01-02")
    others = ingest_topic(TOPICS, "other", "odometer.readings")
    result = step.process([message(0, encode(acme_reading), topic=others)])
    assert [r.error_type for _, r in result.outputs if isinstance(r, DeadLetter)] == ["not-bound"]
    assert isinstance(acme_reading, OdometerReading)
    assert not [sent for sent in sink.sent if sent[0] == "t-odometer.readings"]
