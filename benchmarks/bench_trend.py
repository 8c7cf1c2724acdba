"""Micro-benchmark of the trend engine: ``find_breaks`` on 15-reading histories, in points per second.

Three mixes: clean histories (the linear fast path), histories with one typo outlier (the O(n²) trend
programme and a typo search), and rolled-back histories. Also times ``consistent_append``.

Long histories (``VehicleBounds``): a connected car reporting every week, rolled back once halfway (the
anomaly stays open, so no event takes the fast path), at 128, 512 and 999 readings (the cap is 1,000):
the time of one ``decide`` for the next weekly reading and for a reading back-dated into the middle, with
the trend window (``CARPASS_TREND_WINDOW``, 128) and, for comparison, judging the whole segment (what the
engine did before the window); and the stored state's size, encode and decode times.

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

from schemas.records import OdometerReading, Origin, ProviderKind, Unit
from streams.domain.points import MS_PER_DAY, Point, TrendPolicy
from streams.domain.policy import DEFAULT_POLICY, Policy, VehicleBounds
from streams.domain.trend import consistent_append, find_breaks
from streams.domain.vehicle import decide, fold
from streams.state.codec import decode_state, encode_state

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


LONG_VIN = "WVWZZZ1KZAW000001"


def _weekly(i: int, km: int, event_id: str | None = None, day: float | None = None) -> OdometerReading:
    observed = T0 - 20 * 365 * MS_PER_DAY + int((7 * i if day is None else day) * MS_PER_DAY)
    event_id = event_id or f"{i:08d}-0000-4000-8000-000000000000"
    return OdometerReading(event_id, LONG_VIN, km, observed, observed + 60_000, "0400000001",
                           ProviderKind.MANUFACTURER, Origin.CONNECTED_VEHICLE)  # fmt: skip


def _long_history(n: int) -> list[OdometerReading]:
    """``n`` weekly readings of 300 km, rolled back by 20,010 km (never a value sent before) halfway."""
    return [_weekly(i, 30_000 + 300 * i - (20_010 if i >= n // 2 else 0)) for i in range(n)]


def _ms(repeats: int, fn: Callable[[], object]) -> float:
    """The best of ``repeats`` timings of ``fn``, in milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def long_histories(quick: bool, results: dict[str, float]) -> None:
    windowed = DEFAULT_POLICY
    whole = Policy(bounds=VehicleBounds(trend_window=10_000))
    for n in (128, 512) if quick else (128, 512, 999):
        history = _long_history(n)
        state = fold(history, windowed)
        assert state is not None and state.anomalies, "the rollback is open"
        following = _weekly(n, 30_000 + 300 * n - 20_010)
        middle = n // 4  # before the rollback, a day after a weekly reading
        backdated = _weekly(middle, 30_000 + 300 * middle + 40, "ffffffff-0000-4000-8000-000000000000",
                            7 * middle + 1)  # fmt: skip
        repeats = 3 if quick else 7
        row = {
            "append_ms": _ms(repeats, lambda s=state, r=following: decide(s, r, windowed)),
            "backdated_ms": _ms(repeats, lambda s=state, r=backdated: decide(s, r, windowed)),
        }
        if not quick or n <= 128:
            whole_state = fold(history, whole)
            assert whole_state is not None
            row["whole_append_ms"] = _ms(repeats, lambda s=whole_state, r=following: decide(s, r, whole))
            row["whole_backdated_ms"] = _ms(repeats, lambda s=whole_state, r=backdated: decide(s, r, whole))
        stored = encode_state(state)
        row["state_bytes"] = len(stored)
        row["encode_ms"] = _ms(repeats, lambda s=state: encode_state(s))
        row["decode_ms"] = _ms(repeats, lambda b=stored: decode_state(LONG_VIN, b))
        for key, value in row.items():
            results[f"long_{n}_{key}"] = round(value, 3) if key.endswith("_ms") else value
        shown = ", ".join(f"{k} {v:,.2f}" if k.endswith("_ms") else f"{k} {v:,}" for k, v in row.items())
        print(f"{n:4d} weekly readings, rollback open: {shown}")


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
    long_histories(quick, results)
    finish(args, "trend", {"points_per_history": N_POINTS, "results": results}, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
