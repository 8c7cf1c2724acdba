"""Micro-benchmark of the trend engine: ``find_breaks`` on 15-reading histories, in points per second.

Three mixes: clean histories (the linear fast path), histories with one typo outlier (the O(n²) trend
programme and a typo search), and rolled-back histories. Also times ``consistent_append``.

    .venv/bin/python benchmarks/bench_trend.py            # full run, writes benchmarks/results/trend.json
    .venv/bin/python benchmarks/bench_trend.py --quick    # CI: a few thousand calls (writes only with --out;
                                                          # CARPASS_QUICK=1 does the same)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable

from benchlib import add_common_args, finish

from schemas.records import Unit
from streams.domain.points import MS_PER_DAY, Point, TrendPolicy
from streams.domain.trend import consistent_append, find_breaks

N_POINTS = 15
T0 = 1_577_836_800_000


def _history(rnd: random.Random, mutate: str) -> list[Point]:
    km = rnd.randint(0, 50_000)
    rate = rnd.randint(5_000, 40_000)
    day = 0
    points = []
    for i in range(N_POINTS):
        gap = rnd.randint(60, 240)
        day += gap
        km += rate * gap // 365
        weight = rnd.choice([1.0, 1.0, 2.0, 3.0])
        points.append(Point(f"{i:02d}", T0 + day * MS_PER_DAY, km, km, Unit.KM, f"p{i % 5}", weight,
                            T0 + day * MS_PER_DAY + 60_000))
    if mutate == "typo":
        k = rnd.randint(1, N_POINTS - 2)
        p = points[k]
        points[k] = Point(p.event_id, p.observed_at, p.km * 10, p.raw_value * 10, p.unit, p.provider_id,
                          1.0, p.submitted_at)
    elif mutate == "rollback":
        k = rnd.randint(N_POINTS // 2, N_POINTS - 3)
        points[k:] = [Point(p.event_id, p.observed_at, p.km - 100_000 if p.km > 100_000 else p.km // 2,
                            p.raw_value, p.unit, p.provider_id, p.weight, p.submitted_at) for p in points[k:]]
    return points


def _rate(calls: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return calls / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    args = parser.parse_args()
    args.quick = args.quick or os.environ.get("CARPASS_QUICK") == "1"
    quick = args.quick
    load = os.getloadavg()[0]
    repeats = 3 if quick else 30
    rnd = random.Random(20261122)
    policy = TrendPolicy()
    results: dict[str, float] = {}
    for mix in ("clean", "typo", "rollback"):
        histories = [_history(rnd, mix) for _ in range(200)]
        found = sum(len(find_breaks(h, policy)) for h in histories)
        def run(hs: list[list[Point]] = histories) -> object:
            return [find_breaks(h, policy) for h in hs]

        best = max(_rate(repeats, run) for _ in range(3))
        results[f"find_breaks_{mix}_points_per_s"] = round(best * len(histories) * N_POINTS)
        results[f"find_breaks_{mix}_histories_per_s"] = round(best * len(histories))
        print(f"find_breaks {mix:8s}: {best * len(histories):>10,.0f} histories/s "
              f"{best * len(histories) * N_POINTS:>12,.0f} points/s  ({found} breaks in 200 histories)")
    clean = _history(rnd, "clean")
    last, new = clean[-2], clean[-1]
    calls = 20_000 if quick else 200_000
    rate = max(_rate(calls, lambda: consistent_append(last, new, policy)) for _ in range(3))
    results["consistent_append_per_s"] = round(rate)
    print(f"consistent_append  : {rate:>10,.0f} calls/s")
    finish(args, "trend", {"points_per_history": N_POINTS, "results": results}, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
