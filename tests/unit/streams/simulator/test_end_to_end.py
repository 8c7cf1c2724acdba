"""Injected faults are detectable: simulated fleets through ``domain.offline.judge``, scored on their truth.

Floors sit below the measured figures (noted beside each) with room for the core to change, but high enough
that a broken simulator or core fails them. ``carpass simulate --judge`` prints the full table.
"""

from __future__ import annotations

from streams.simulator.evaluate import Evaluation
from streams.simulator.report import format_report
from streams.simulator.score import ROLLBACK_EXACT, ROLLBACK_IN_VIN, KindRecall


def recall(row: KindRecall) -> float:
    assert row.found is not None and row.visible > 0, row
    return row.found / row.visible


def test_rollbacks_are_found_and_blamed_on_the_first_lower_reading(rollbacks: Evaluation) -> None:
    engine = rollbacks.engine
    assert engine.recall_of(ROLLBACK_EXACT).visible >= 15  # measured: 24
    assert recall(engine.recall_of(ROLLBACK_EXACT)) >= 0.9  # measured: 24 / 24
    assert recall(engine.recall_of(ROLLBACK_IN_VIN)) >= 0.9
    exact = engine.precision_of("ROLLBACK (exact)")
    assert exact is not None and exact.precision is not None and exact.precision >= 0.85  # measured: 24 / 25
    assert engine.clean_vehicles_flagged.hits == 0  # measured: 0 of 358


def test_rollbacks_stay_found_among_many_typos(judged: Evaluation) -> None:
    assert recall(judged.engine.recall_of(ROLLBACK_IN_VIN)) >= 0.5  # measured: 2 / 3 (seed 5, faults x10)


def test_typos_are_found_with_the_right_suggestion(judged: Evaluation) -> None:
    engine = judged.engine
    spike, dip = engine.recall_of("SPIKE"), engine.recall_of("DIP")
    assert (spike.found or 0) + (dip.found or 0) >= 0.85 * (spike.visible + dip.visible)  # measured: 0.94
    assert recall(engine.recall_of("CONFLICTING_DUPLICATE")) >= 0.85  # measured: 1.0
    assert engine.suggestion.value is not None and engine.suggestion.value >= 0.6  # measured: 0.76
    assert engine.blame.value is not None and engine.blame.value >= 0.8  # measured: 0.94


def test_markers_receipts_and_dead_letters_catch_every_visible_case(judged: Evaluation) -> None:
    engine = judged.engine
    for kind in ("ODOMETER_REPLACED", "COUNTER_WRAPPED", "DUPLICATE", "MALFORMED"):
        assert recall(engine.recall_of(kind)) == 1.0, kind
    assert recall(engine.recall_of("LATE")) >= 0.98


def test_clean_vehicles_are_not_flagged_and_the_engine_beats_the_naive_rule(judged: Evaluation) -> None:
    engine, naive = judged.engine, judged.naive
    assert engine.clean_vehicles_flagged.total > 200
    assert engine.clean_vehicles_flagged.hits <= 0.01 * engine.clean_vehicles_flagged.total
    assert engine.breaks.value is not None and naive.breaks.value is not None
    assert engine.breaks.value > naive.breaks.value
    assert engine.legit_drop_vehicles_flagged.hits < naive.legit_drop_vehicles_flagged.hits
    assert recall(naive.recall_of("SPIKE")) < 0.2  # the naive rule blames the reading after a spike
    assert "ROLLBACK" in format_report(engine, naive)
