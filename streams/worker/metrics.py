"""Every Prometheus metric of a worker process, declared in one place against an injected registry.

Base units only (``_seconds``, ``_bytes``, ``_total``) and explicit buckets. The domain never sees metrics:
the worker shell records them around calls into the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """The worker's metrics; build with :meth:`create` against a registry (one per process or test)."""

    registry: CollectorRegistry
    events_in: Counter
    dead_letters: Counter
    receipts: Counter
    anomalies: Counter
    end_to_end_latency: Histogram
    batch_duration: Histogram
    batch_size: Histogram
    consumer_lag: Gauge
    table_keys: Gauge
    state_bytes: Histogram
    rebalances: Counter
    plates_pending: Gauge
    state_cache_lookups: Counter
    input_holes: Counter
    batch_failures: Counter
    plates_pushed_out: Counter
    standby_lag: Gauge
    standby_seeks: Counter
    intake: Counter
    gate_held: Gauge
    records_held: Gauge
    providers_known: Gauge
    providers_undecodable: Gauge
    align_waits_expired: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> WorkerMetrics:
        reg = registry if registry is not None else CollectorRegistry()
        # process_cpu_seconds_total, process_resident_memory_bytes, open fds...: what an SRE compares the
        # throughput with (a worker is CPU-bound), and what benchmarks read to report CPU per event.
        ProcessCollector(registry=reg)
        return cls(
            registry=reg,
            events_in=Counter(
                "carpass_events_in_total", "Input events decoded, by topic and reading origin.",
                ["topic", "origin"], registry=reg,
            ),
            dead_letters=Counter(
                "carpass_dead_letters_total", "Inputs sent to dead-letters, by topic and reason.",
                ["topic", "reason"], registry=reg,
            ),
            receipts=Counter(
                "carpass_receipts_total", "Receipts produced, by status.", ["status"], registry=reg,
            ),
            anomalies=Counter(
                "carpass_anomalies_total", "Anomaly events produced, by kind and status.",
                ["kind", "status"], registry=reg,
            ),
            end_to_end_latency=Histogram(
                "carpass_end_to_end_latency_seconds",
                "From a submission's submitted_at to its receipt being handed to the producer.",
                buckets=LATENCY_BUCKETS_S, registry=reg,
            ),
            batch_duration=Histogram(
                "carpass_batch_duration_seconds", "Time to process one batch of input events.",
                buckets=BATCH_BUCKETS_S, registry=reg,
            ),
            batch_size=Histogram(
                "carpass_batch_size_events", "Events per processed batch.",
                buckets=BATCH_SIZE_BUCKETS, registry=reg,
            ),
            consumer_lag=Gauge(
                "carpass_consumer_lag_messages", "High watermark minus committed offset, per partition.",
                ["topic", "partition"], registry=reg,
            ),
            table_keys=Gauge(
                "carpass_table_keys",
                "Keys in the active partitions of a state table on this worker (RocksDB's estimate).",
                ["table"], registry=reg,
            ),
            state_bytes=Histogram(
                "carpass_vehicle_state_bytes", "Encoded size of a vehicle's state when written.",
                buckets=(64, 128, 256, 384, 512, 600, 768, 1024, 2048, 4096), registry=reg,
            ),
            rebalances=Counter(
                "carpass_rebalances_total", "Consumer-group rebalances seen by this worker.", registry=reg,
            ),
            plates_pending=Gauge(
                "carpass_plate_readings_pending", "Plate readings waiting for their plate to be known.",
                registry=reg,
            ),
            state_cache_lookups=Counter(
                "carpass_state_cache_lookups_total",
                "Stored vehicle states looked up in the decoded-state cache: hit (no decoding) or miss.",
                ["result"], registry=reg,
            ),
            input_holes=Counter(
                "carpass_input_holes_total",
                "Input offsets found unprocessed after a rebalance; the partition was sought back to each.",
                ["topic"], registry=reg,
            ),
            batch_failures=Counter(
                "carpass_batch_failures_total",
                "Batch steps that raised (outputs or state not stored); each is tried again, and the worker "
                "stops after CARPASS_BATCH_ATTEMPTS failures of one batch.",
                ["agent"], registry=reg,
            ),
            plates_pushed_out=Counter(
                "carpass_plate_readings_pushed_out_total",
                "Plate readings answered before their wait was over because their plate had too many "
                "waiting (CARPASS_PLATE_PENDING_MAX, or 512 KiB of them).",
                registry=reg,
            ),
            gate_held=Gauge(
                "carpass_gate_held_seconds",
                "How long the batch now waiting at the agent's gate has waited (0: none waits): the vehicle "
                "agent's batches wait until the registry of providers is read past their newest record.",
                ["agent"], registry=reg,
            ),
            intake=Counter(
                "carpass_intake_total",
                "Submissions read from an integrator's ingest topics: forwarded to the contract topic, or "
                "not-bound (it named a provider the integrator may not speak for: a dead letter).",
                ["integrator", "outcome"], registry=reg,
            ),
            standby_seeks=Counter(
                "carpass_standby_seeks_total",
                "Standby changelog partitions found fetched past what was applied and stopped there; each "
                "was sought back to the next record to apply (a steady rise is a bug to report).",
                ["table"], registry=reg,
            ),
            standby_lag=Gauge(
                "carpass_standby_lag_messages",
                "Changelog records of a standby copy on this worker not applied yet (high watermark minus "
                "the next to apply), per table and partition: what a failover to this worker would replay.",
                ["table", "partition"], registry=reg,
            ),
            records_held=Gauge(
                "carpass_records_held",
                "Input records fetched and held for event-time order: waiting for another topic of their "
                "partition to be read up to their timestamp (CARPASS_ALIGN_WAIT_S at most).",
                ["agent"], registry=reg,
            ),
            align_waits_expired=Counter(
                "carpass_align_waits_expired_total",
                "Times a partition went on after CARPASS_ALIGN_WAIT_S with one of its topics still not read "
                "up to its events (they may be judged out of event-time order).",
                ["agent"], registry=reg,
            ),
            providers_known=Gauge(
                "carpass_providers_known",
                "Providers in this worker's copy of the registry of providers (providers.registry), which "
                "readings are judged by (CARPASS_PROVIDERS_FROM_REGISTRY).",
                registry=reg,
            ),
            providers_undecodable=Gauge(
                "carpass_providers_undecodable",
                "Records of providers.registry that are no ProviderRegistration, skipped (logged).",
                registry=reg,
            ),
        )
