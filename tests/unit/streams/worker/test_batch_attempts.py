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
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from streams.worker.batch import RawMessage, RecordRefusedError
from streams.worker.faust.adapters import KafkaSink, SinkError, TableStore, flush_together
from streams.worker.faust.app import AppContext, BatchFailedError, PartitionsRevokedError
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


class _Consumer:
    def __init__(self, assigned: set[tuple[str, int]]) -> None:
        self.assigned = assigned

    def assignment(self) -> set[Any]:
        return {TP(topic, partition) for topic, partition in self.assigned}


class _App:
    def __init__(self, assigned: set[tuple[str, int]]) -> None:
        self.consumer = _Consumer(assigned)


def test_a_failed_batch_is_not_tried_again_once_its_partition_went_to_another_worker() -> None:
    ctx = context()
    app = _App({("t-odometer.readings", 1)})
    ctx.app = app  # type: ignore[assignment]
    calls = []

    def step(batch: list[RawMessage]) -> None:
        calls.append(1)
        app.consumer.assigned.clear()  # a rebalance while the batch waits for its next attempt
        raise SinkError("outputs not delivered: broker down")

    with pytest.raises(PartitionsRevokedError, match=r"t-odometer.readings\[1\]"):
        asyncio.run(ctx.attempt("vehicles", step, BATCH))
    assert len(calls) == 1


def test_two_tables_flushed_together_are_written_both_or_neither() -> None:
    sink: Any = _FailingSink()
    tallies, counted = TableStore(_Table(), sink), TableStore(_Table(), sink)
    tallies.put("0123456789", b"tally", BATCH[0])
    counted.put("receipt-1", b"1", BATCH[0])
    with pytest.raises(SinkError):
        flush_together([tallies, counted])
    assert len(sink.sent) == 2  # both changelog records were queued, then the one flush failed
    flush_together([tallies, counted])  # nothing pending any more: nothing is written later
    assert len(sink.sent) == 2
