"""The intake agent: records of integrators that publish on Kafka directly, checked against the providers
each may speak for, then forwarded to the contract topics (``streams.kafka.acls`` explains the design).

::

    <prefix>ingest.<name>.<topic> ──► IntakeChecker ──the named provider is one of <name>'s──► <prefix><topic>
                                                     └─not, or not a record of <topic> at all──► dead letter

A forwarded record keeps its value bytes; its key is the record's own (``schemas.catalog.key_of``: the VIN,
the plate for a plate reading), so an integrator cannot put a vehicle's events on another partition. The
step returns once the forwards and dead letters are on Kafka: the worker commits an ingest offset only
then, so every ingest record ends as a contract record or a dead letter, once (a redelivered batch forwards
again; the contract topics' consumers deduplicate by event id, as they do for any redelivery).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.catalog import TOPICS, AnyRecord, key_of
from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.limits import too_long
from schemas.records import CorrectionRequest
from streams.kafka.acls import AccessPlan, Integrator
from streams.kafka.topics import PipelineTopics
from streams.worker.batch import (
    BatchResult,
    Outputs,
    OutputSink,
    RawMessage,
    RecordRefusedError,
    dead_letter,
    oversized,
)
from streams.worker.metrics import WorkerMetrics

_RECORD_OF_TOPIC = {base: record_type for record_type, base in TOPICS.items()}


def speaker(record: object) -> str:
    """The provider a submission speaks for: ``requested_by`` of a correction, else ``provider_id``."""
    if isinstance(record, CorrectionRequest):
        return record.requested_by
    provider: str = getattr(record, "provider_id")  # noqa: B009 - every ingest record type has one
    return provider


class IntakeChecker:
    """The batch step of the intake agent (see the module)."""

    def __init__(
        self, *, codec: Codec, topics: PipelineTopics, sink: OutputSink, metrics: WorkerMetrics,
        plan: AccessPlan, max_input_bytes: int = 65_536,
    ) -> None:  # fmt: skip
        self.codec, self.topics, self.sink, self.metrics = codec, topics, sink, metrics
        self.max_input_bytes = max_input_bytes
        self.routes: Mapping[str, tuple[str, Integrator]] = plan.ingest_routes(topics)
        self.outputs = Outputs(codec, topics, sink, metrics)

    @property
    def ingest_topics(self) -> tuple[str, ...]:
        return tuple(self.routes)

    def process(self, batch: Sequence[RawMessage]) -> BatchResult:
        result = BatchResult()
        out = self.outputs
        out.begin()
        for message in batch:
            self._one(message, result)
        out.flush()
        out.stored()  # nothing of its own is stored: forwarded and dead letters are on Kafka
        return result

    def _one(self, message: RawMessage, result: BatchResult) -> None:
        out = self.outputs
        route = self.routes.get(message.topic)
        if route is None:
            unexpected = dead_letter(message, f"topic {message.topic} is no integrator's ingest topic",
                                     "unexpected-topic")  # fmt: skip
            out.dead(result, unexpected)
            return
        target, integrator = route
        if message.value is None:
            out.dead(result, dead_letter(message, "null value (tombstone): not a submission", "null-value"))
            return
        if (letter := oversized(message, self.max_input_bytes)) is not None:
            out.dead(result, letter)
            return
        expected = _RECORD_OF_TOPIC[self.topics.base(target)]
        try:
            record: AnyRecord = self.codec.decode(message.value, expected)
        except DecodeError as exc:
            if exc.transient:  # the schema registry is away: the batch is tried again, never dead-lettered
                raise
            out.dead(result, dead_letter(message, str(exc), exc.problem.value))
            return
        if (long := too_long(record)) is not None:
            out.dead(result, dead_letter(message, long, "field-too-long"))
            return
        provider = speaker(record)
        if provider not in integrator.providers:
            reason = (f"integrator {integrator.name} ({integrator.principal}) may not speak for provider "
                      f"{provider!r}: it is not bound to it in the access file")  # fmt: skip
            out.dead(result, dead_letter(message, reason, "not-bound"))
            out.count(self.metrics.intake, integrator.name, "not-bound")
            return
        try:
            self.sink.send(target, key_of(record).encode("utf-8"), message.value)
        except RecordRefusedError as exc:
            reason = f"its forward was refused by Kafka: {exc}"
            out.dead(result, dead_letter(message, reason, "output-refused"))
            return
        out.count(self.metrics.intake, integrator.name, "forwarded")
