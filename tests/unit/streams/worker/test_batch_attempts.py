"""A batch step that fails is tried again from its first event, then the worker gives up: never acknowledged.
And the two I/O adapters leave nothing behind a failure: the sink refuses a record it can never send at
once, the table store drops the writes of a failed flush.

The worker's Faust app is not needed here: :meth:`AppContext.attempt` uses only the settings, the
metrics and the stores; the producer refuses an oversized record before it ever talks to a broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from streams.worker.batch import RawMessage, RecordRefusedError
from streams.worker.faust.adapters import KafkaSink, SinkError, TableStore
from streams.worker.faust.app import AppContext, BatchFailedError
from streams.worker.metrics import WorkerMetrics

SETTINGS = Settings(kafka_bootstrap_servers="127.0.0.1:9", batch_attempts=3, batch_retry_max_s=0.01)
BATCH = [RawMessage("t-odometer.readings", 1, offset, b"k", b"v", 0) for offset in (10, 11, 12)]


def context(settings: Settings = SETTINGS) -> AppContext:
    metrics = WorkerMetrics.create(CollectorRegistry())
    app: Any = None
    return AppContext(app, settings, PipelineTopics("t-"), metrics, codec=None, sink=None)  # type: ignore[arg-type]


def failures(ctx: AppContext, agent: str) -> float:
    return ctx.metrics.registry.get_sample_value("carpass_batch_failures_total", {"agent": agent}) or 0.0


def test_a_failing_step_is_tried_again_with_the_whole_batch_until_it_succeeds() -> None:
    ctx = context()
    seen: list[list[int]] = []

    def step(batch: list[RawMessage]) -> None:
        seen.append([m.offset for m in batch])
        if len(seen) < 3:
            raise SinkError("outputs not delivered: broker down")

    asyncio.run(ctx.attempt("vehicles", step, BATCH))
    assert seen == [[10, 11, 12]] * 3
    assert failures(ctx, "vehicles") == 2


def test_a_step_that_keeps_failing_gives_up_after_the_set_attempts(caplog: pytest.LogCaptureFixture) -> None:
    ctx = context()
    calls = []

    def step(batch: list[RawMessage]) -> None:
        calls.append(1)
        raise SinkError("outputs not delivered: Message size too large")

    with pytest.raises(BatchFailedError, match=r"t-odometer.readings\[1\] 10-12"):
        asyncio.run(ctx.attempt("plates", step, BATCH))
    assert len(calls) == 3 and failures(ctx, "plates") == 3
    assert "failed 3 times; stopping the worker" in caplog.text


class _Table:
    changelog_topic_name = "app-vehicles-changelog"

    def __init__(self) -> None:
        self.data = self


class _FailingSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int | None]] = []

    def track(self, topic: str) -> None:
        pass

    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        self.sent.append((topic, key, value, partition))

    def flush(self) -> None:
        raise SinkError("outputs not delivered: broker down")


def test_a_failed_table_flush_drops_its_pending_writes() -> None:
    sink: Any = _FailingSink()
    store = TableStore(_Table(), sink)
    store.put("VIN1", b"state", BATCH[0])
    with pytest.raises(SinkError):
        store.flush()
    assert len(sink.sent) == 1
    store.flush()  # nothing left to write: the next batch does not send the failed one's writes
    assert len(sink.sent) == 1
    store.put("VIN2", b"state", BATCH[0])
    store.discard()
    store.flush()
    assert len(sink.sent) == 1


def test_the_sink_refuses_a_record_over_the_producers_limit_at_once() -> None:
    sink = KafkaSink(SETTINGS, flush_timeout_s=0.1)
    try:
        with pytest.raises(RecordRefusedError, match=r"t-odometer\.receipts"):
            sink.send("t-odometer.receipts", b"k", b"x" * 1_100_000)
    finally:
        sink._producer.purge()  # nothing was queued; leave no client thread waiting for a broker
