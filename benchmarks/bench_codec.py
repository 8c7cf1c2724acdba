"""Records per second through the Avro codec (``schemas.codec``) and the JSON Lines parser, on one core.

Distinct ``OdometerReading``s (the hot input), a third with a work description, single-object framing.
Timed: ``encode``, ``decode`` (to the dataclass), ``decode_dict`` (the hot-loop fast path) and
``jsonl.parse_line`` (``carpass produce``). Best of three runs, CPU time.

    .venv/bin/python benchmarks/bench_codec.py            # 200,000 records
    .venv/bin/python benchmarks/bench_codec.py --quick    # CI: 5,000 records (writes only with --out)

Writes ``benchmarks/results/codec.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchlib import add_common_args, finish

from schemas.codec import decode, decode_dict, encode
from schemas.jsonl import dumps, parse_line
from schemas.records import OdometerReading, Origin, ProviderKind

_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def _readings(count: int, rng: random.Random) -> list[OdometerReading]:
    out = []
    for i in range(count):
        observed = 1_600_000_000_000 + rng.randrange(0, 10**11)
        out.append(
            OdometerReading(
                event_id=f"{rng.getrandbits(128):032x}",
                vin="".join(rng.choice(_VIN_CHARS) for _ in range(17)),
                odometer_value=rng.randrange(0, 400_000),
                observed_at=observed,
                submitted_at=observed + rng.randrange(0, 600_000),
                provider_id=f"{rng.randrange(10**10):010d}",
                provider_kind=rng.choice(list(ProviderKind)),
                origin=rng.choice(list(Origin)),
                work_description="Periodic service, oil and filters" if i % 3 == 0 else None,
            )
        )
    return out


def _best_rate(fn: Callable[[Any], object], items: Sequence[Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - start)
    return len(items) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    add_common_args(parser)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    count = 5_000 if args.quick else args.records
    readings = _readings(count, random.Random(7))
    values = [encode(r) for r in readings]
    lines = [dumps(r) for r in readings]
    assert [decode(v) for v in values[:100]] == readings[:100]
    rates = {
        "encode_per_s": _best_rate(encode, readings),
        "decode_per_s": _best_rate(decode, values),
        "decode_dict_per_s": _best_rate(decode_dict, values),
        "jsonl_parse_per_s": _best_rate(parse_line, lines),
    }
    result = {
        "records": count,
        "mean_value_bytes": round(sum(map(len, values)) / count, 1),
        **{name: round(rate) for name, rate in rates.items()},
    }
    for name, rate in rates.items():
        print(f"{name:<20} {rate:>12,.0f}")
    finish(args, "codec", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
