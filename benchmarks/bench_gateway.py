"""Latency of the inflow gateway: a DMS posts a reading and long-polls its receipt.

One ``carpass worker`` (no projections) and one ``carpass gateway`` (subprocesses) on the local broker;
this process is the DMS fleet: an open-loop load at a fixed rate (each request starts on its schedule,
whatever happened to the previous ones), each request ``POST /observations`` then
``GET /observations/{id}?wait_s=10`` until the receipt comes back. Latency is from the request's
scheduled start to the receipt in hand (so a slow client or server cannot hide queueing); the 202 alone
is reported too. Every vehicle is registered first and gets one reading in a run (a workshop reading
of a known vehicle: the judgment's fast path), from one of 50 garages (rate limits off).

The client is one Python process on the same machine: past its capacity it cannot keep the schedule
(``offered_rate_per_s`` says what it managed) and its own lag counts in the latency, as a DMS would see it.
The gateway's own request logic costs ~50 µs (parse, encode, receipt JSON); aiohttp's per-request work
dominates, so one process saturates well below 2,000 POST+GET pairs a second on a shared core: beyond,
add instances behind a balancer (the gateway is stateless).

    .venv/bin/python benchmarks/bench_gateway.py            # 200/s and 500/s for 20 s, 2,000/s for 10 s
    .venv/bin/python benchmarks/bench_gateway.py --quick    # 50/s for 2 s: checks that it still runs
    .venv/bin/python benchmarks/bench_gateway.py --rates 500 --seconds 10

Broker: ``CARPASS_KAFKA_BOOTSTRAP_SERVERS`` if set, else the local test broker on 127.0.0.1:19192
(leased, started if needed). Topics get a unique prefix and are deleted at the end. Writes
``benchmarks/results/gateway.json`` (not in ``--quick`` mode) with the command and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' harness (not installed)

import aiohttp

from schemas import topics
from schemas.records import RegistrationKind, VehicleRegistration
from streams.domain.calendar import day_of
from streams.local.kafka import LocalKafka
from streams.settings import Settings
from tests.conftest import local_kafka_settings
from tests.integration.gateway_harness import start_gateway, write_keys
from tests.integration.worker_harness import Feeder, Pipeline, pipeline

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "gateway.json"
GOAL_P99_MS_AT_200 = 300.0
GARAGES = [f"04{n:08d}" for n in range(50)]
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def vin_of(n: int) -> str:
    digits = []
    for _ in range(7):
        n, r = divmod(n, len(_VIN_CHARS))
        digits.append(_VIN_CHARS[r])
    return "WVWZZZ1KZ" + "".join(digits) + "B"


def registrations(vins: list[str]) -> list[VehicleRegistration]:
    first = datetime.now(UTC).date() - timedelta(days=3 * 365)
    at = int(datetime(first.year, first.month, first.day, 9, tzinfo=UTC).timestamp() * 1000)
    return [
        VehicleRegistration(
            event_id=f"reg-{vin}", vin=vin, kind=RegistrationKind.FIRST_REGISTRATION, effective_at=at,
            first_registration_date=day_of(first), imported_used=False, make="Volkswagen", model="Golf",
            vehicle_category="M1",
        )
        for vin in vins
    ]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_request(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any], scheduled: float
) -> tuple[float, float] | str:
    """(202 latency, receipt latency) in seconds from ``scheduled``, or what went wrong."""
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with session.post(f"{url}/observations", json=body, headers=headers) as response:
            answer = await response.json()
            if response.status != 202:
                return f"POST {response.status}: {answer.get('error', '')}"
        accepted = time.perf_counter() - scheduled
        path = f"{url}/observations/{answer['request_id']}?wait_s=10"
        for _ in range(3):
            async with session.get(path, headers=headers) as response:
                receipt = await response.json()
            if receipt.get("status") != "PENDING":
                return accepted, time.perf_counter() - scheduled
        return "no receipt in 30 s"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def load(
    url: str, keys: dict[str, str], vins: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    """Open loop: request i starts at ``start + i / rate``."""
    count = int(rate * seconds)
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        start = time.perf_counter() + 0.1
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            garage = GARAGES[i % len(GARAGES)]
            body = {
                "request_id": f"bench-{rate:g}-{i}", "vin": vins[i], "odometer_value": 40_000 + i % 1000,
                "observed_at": observed, "provider_kind": "GARAGE", "origin": "WORKSHOP",
                "work_description": "service",
            }  # fmt: skip
            tasks.append(asyncio.create_task(one_request(session, url, keys[garage], body, scheduled)))
        sent_s = time.perf_counter() - start
        results = await asyncio.gather(*tasks)
        total_s = time.perf_counter() - start
    done = [r for r in results if isinstance(r, tuple)]
    failures: dict[str, int] = {}
    for r in results:
        if isinstance(r, str):
            failures[r] = failures.get(r, 0) + 1
    accepted_ms = [a * 1000 for a, _ in done]
    receipt_ms = [b * 1000 for _, b in done]
    return {
        "rate_per_s": rate, "seconds": seconds, "requests": count, "with_receipt": len(done),
        "failures": failures, "offered_rate_per_s": round(count / sent_s, 1) if sent_s else None,
        "completed_in_s": round(total_s, 2),
        "accepted_p50_ms": round(_percentile(accepted_ms, 0.50), 1),
        "accepted_p99_ms": round(_percentile(accepted_ms, 0.99), 1),
        "receipt_p50_ms": round(_percentile(receipt_ms, 0.50), 1),
        "receipt_p99_ms": round(_percentile(receipt_ms, 0.99), 1),
        "receipt_max_ms": round(max(receipt_ms, default=float("nan")), 1),
    }  # fmt: skip


async def warm_up(url: str, key: str, vin: str) -> None:
    """One request through, until the worker has joined its group and answers (up to 90 s)."""
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            body = {"request_id": "warm-up", "vin": vin, "odometer_value": 1, "provider_kind": "GARAGE",
                    "observed_at": datetime.now(UTC).isoformat(), "origin": "WORKSHOP"}  # fmt: skip
            outcome = await one_request(session, url, key, body, time.perf_counter())
            if isinstance(outcome, tuple):
                return
            if outcome.startswith("POST 4"):  # refused: waiting longer cannot help
                raise RuntimeError(f"the gateway refused the warm-up request: {outcome}")
        raise RuntimeError("the worker gave no receipt in 90 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_registrations(p: Pipeline, count: int, timeout_s: float = 300.0) -> None:
    """Until the worker has folded every registration (the load must not queue behind them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        samples = p.metrics(0)
        done = sum(v for k, v in samples.items()
                   if k.startswith("carpass_events_in_total") and topics.REGISTRATIONS in k)  # fmt: skip
        if done >= count:
            return
        p.assert_alive()
        time.sleep(0.5)
    raise RuntimeError(f"the worker did not fold {count} registrations in {timeout_s} s")


def run(args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    total = sum(int(rate * args.seconds_for(rate)) for rate in args.rates)
    vins = [vin_of(n) for n in range(total + 1)]
    keys = {g: f"bench-key-{g}" for g in GARAGES}
    scratch = Path(tempfile.mkdtemp(prefix="carpass-bench-gateway-"))
    keys_file = write_keys(scratch / "keys.json", {
        g: {"role": "provider", "provider_id": g, "provider_kind": "GARAGE", "key": k}
        for g, k in keys.items()
    })  # fmt: skip
    load_before = os.getloadavg()
    runs = []
    with pipeline(bootstrap, scratch) as p:
        Feeder(p).records(registrations(vins))
        p.start()
        wait_for_registrations(p, len(vins))
        gateway = start_gateway(p, keys_file, gateway_rate_per_s="0")
        asyncio.run(warm_up(gateway.url, keys[GARAGES[0]], vins[-1]))
        offset = 0
        for rate in args.rates:
            seconds = args.seconds_for(rate)
            count = int(rate * seconds)
            pid = p.workers[gateway.index].pid
            gateway_cpu, client_cpu = cpu_seconds(pid), time.process_time()
            result = asyncio.run(load(gateway.url, keys, vins[offset : offset + count], rate, seconds))
            # CPU per observation (POST + GET), whatever else the machine does: the load-independent cost
            gateway_ms = (cpu_seconds(pid) - gateway_cpu) / count * 1e3
            client_ms = (time.process_time() - client_cpu) / count * 1e3
            result["gateway_cpu_ms_per_observation"] = round(gateway_ms, 3)
            result["client_cpu_ms_per_observation"] = round(client_ms, 3)
            result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            offset += count
            runs.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    at_200 = next((r for r in runs if r["rate_per_s"] == 200), None)
    return {
        "command": "python benchmarks/bench_gateway.py" + (" --quick" if args.quick else "")
        + ("" if args.rates_given is None else f" --rates {' '.join(map(str, args.rates_given))}"),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": [round(x, 2) for x in load_before],
        "setup": "1 worker (no projections), 1 gateway, 4 partitions, local broker; client in one process",
        "runs": runs,
        "goal": {"receipt_p99_ms_at_200_per_s": GOAL_P99_MS_AT_200},
        "goal_met": None if at_200 is None else at_200["receipt_p99_ms"] <= GOAL_P99_MS_AT_200,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="50 requests/s for 2 s: checks that it runs")
    parser.add_argument("--rates", type=float, nargs="+", default=None, help="open-loop rates (requests/s)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of each rate (default 20 at "
                        "rates up to 500/s, 10 above)")  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="also write the result JSON here (even with --quick; tests/benchmarks)")
    args = parser.parse_args()
    args.rates_given = args.rates
    args.rates = args.rates or ([50.0] if args.quick else [200.0, 500.0, 2000.0])
    args.seconds_for = lambda rate: args.seconds or (2.0 if args.quick else (20.0 if rate <= 500 else 10.0))
    settings = Settings.from_env()  # the benchmark is an entry point
    with contextlib.ExitStack() as stack:
        bootstrap = settings.kafka_bootstrap_servers
        if not bootstrap:
            bootstrap = stack.enter_context(LocalKafka(local_kafka_settings()).lease()).bootstrap
        result = run(args, bootstrap)
    print(json.dumps(result, indent=2))
    if not args.no_write and not args.quick:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
