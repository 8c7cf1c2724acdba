"""Detection quality, ours against the naive rule, on the simulator's ground truth.

A simulated Belgian fleet (``streams.simulator``: the faults injected are listed in its ground truth) is
judged twice, offline and on the same records (``streams.simulator.evaluate``):

* **ours**: the judgment core of the stream worker (``domain.offline``, plate readings resolved to VINs);
* **naive**: "flag any reading lower than the previous one" (``streams.simulator.naive``), the rule most
  registries use: no tolerance, no typo analysis, no source weighting, no odometer replacements or wraps.

Both are scored by ``streams.simulator.score`` (its docstring defines every figure): recall per fault kind
over the visible faults, precision per anomaly kind, break precision (the same rule for both), the share
of breaks blamed on the right reading, the share of typos with the right suggested value, and the clean
vehicles and legitimate drops (replacements, wraps) flagged. Fault rates are 10 times the real ones by
default (as in ``carpass demo``), so that every kind shows up often enough to be measured.

    .venv/bin/python benchmarks/bench_quality.py            # 20,000 vehicles, seed 1, faults x10
    .venv/bin/python benchmarks/bench_quality.py --quick    # CI: 300 vehicles

Writes ``benchmarks/results/quality.json``. Needs no broker.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from benchlib import add_common_args, finish

from streams.simulator import simulate
from streams.simulator.evaluate import evaluate
from streams.simulator.report import format_report
from streams.simulator.score import QualityReport


def side_by_side(engine: QualityReport, naive: QualityReport) -> dict[str, Any]:
    """Recall per fault kind and the shared figures, ours beside the naive rule's."""
    recall = {
        row.kind: {"visible": row.visible, "ours": row.recall, "naive": naive.recall_of(row.kind).recall}
        for row in engine.recall
    }
    shared = {
        name: {"ours": getattr(engine, attr).value, "naive": getattr(naive, attr).value}
        for name, attr in (("break_precision", "breaks"), ("blamed_right_reading", "blame"),
                           ("clean_vehicles_flagged", "clean_vehicles_flagged"),
                           ("legit_drop_vehicles_flagged", "legit_drop_vehicles_flagged"))
    }  # fmt: skip
    return {
        "recall": recall,
        "precision_ours": {p.kind: p.precision for p in engine.precision},
        "precision_naive": {p.kind: p.precision for p in naive.precision},
        **shared,
        "typo_right_suggestion_ours": engine.suggestion.value,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument("--vehicles", type=int, default=None, help="default 20,000 (--quick: 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate-multiplier", type=float, default=10.0)
    args = parser.parse_args()
    vehicles = args.vehicles or (300 if args.quick else 20_000)
    load = os.getloadavg()[0]
    evaluation = evaluate(simulate(vehicles, args.seed, fault_rate_multiplier=args.fault_rate_multiplier))
    print(format_report(evaluation.engine, evaluation.naive))
    result = {
        "vehicles": vehicles,
        "seed": args.seed,
        "fault_rate_multiplier": args.fault_rate_multiplier,
        "records": evaluation.records,
        "readings": evaluation.readings,
        "seconds": round(evaluation.seconds, 1),
        "side_by_side": side_by_side(evaluation.engine, evaluation.naive),
        "ours": evaluation.engine.to_dict(),
        "naive": evaluation.naive.to_dict(),
    }
    finish(args, "quality", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
