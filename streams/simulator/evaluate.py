"""Run a simulation through the offline judge and the naive baseline, and score both against its truth.

::

    Simulation ──tap (e.g. a file sink)──► MalformedRecord ──codec.decode fails──► dead letters
                                       └─► resolve_plates ──► domain.offline.judge ──► AnomalyEvents, Receipts
                                                          └─► NaiveDetector ──────► naive flags
    truth (after the last record) ──► score(engine) · score(naive, kind_agnostic)

One pass, streaming: the records are never all in memory (the judge keeps its per-VIN states, the naive
detector a tuple per reading, the scorer the anomalies and receipts that carry issues).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from schemas.codec import decode
from schemas.errors import DecodeError
from schemas.records import AnomalyEvent, OdometerReading, Receipt
from streams.domain.offline import judge
from streams.domain.vehicle import VehicleEvent
from streams.simulator.fleet import Simulation
from streams.simulator.naive import NaiveDetector
from streams.simulator.plates import resolve_plates
from streams.simulator.score import QualityReport, score
from streams.simulator.world import MalformedRecord, SimRecord


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The engine's and the naive baseline's quality on one simulation, and what it took."""

    engine: QualityReport
    naive: QualityReport
    records: int
    readings: int
    seconds: float
    """Wall time of generation plus judging."""


def evaluate(simulation: Simulation, tap: Callable[[SimRecord], None] | None = None) -> Evaluation:
    """Iterate ``simulation`` (calling ``tap`` on every record first), judge it, and score both detectors."""
    started = time.perf_counter()
    dead: list[bytes] = []
    vins: set[str] = set()
    naive = NaiveDetector()
    counts = {"records": 0, "readings": 0}

    def records() -> Iterator[SimRecord]:
        for record in simulation:
            counts["records"] += 1
            if tap is not None:
                tap(record)
            if isinstance(record, MalformedRecord):
                try:
                    decode(record.value)
                except DecodeError:
                    dead.append(record.value)
                continue
            yield record

    def events() -> Iterator[VehicleEvent]:
        for event in resolve_plates(records()):
            vins.add(event.vin)
            if isinstance(event, OdometerReading):
                counts["readings"] += 1
                naive.add(event)
            yield event

    anomalies: list[AnomalyEvent] = []
    receipts: list[Receipt] = []
    for output in judge(events()):
        if isinstance(output, AnomalyEvent):
            anomalies.append(output)
        elif isinstance(output, Receipt) and output.issues:
            receipts.append(output)
    truth = simulation.truth
    engine = score(
        anomalies, truth, receipts=receipts, dead_letters=dead if truth.malformed else None, vins=vins
    )
    baseline = score(naive.flags(), truth, vins=vins, kind_agnostic=True, detector="naive")
    return Evaluation(engine, baseline, counts["records"], counts["readings"], time.perf_counter() - started)
