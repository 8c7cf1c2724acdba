"""Latency of the OK-label query under load: one worker with projections on the broker of this
machine, a few thousand vehicles loaded, then ``GET /vehicles/{vin}/ok-label?advertised_km=N`` with a
dealer's key at a fixed open-loop rate from aiohttp clients.

* **open loop**: request *i* is due at ``start + i / rate`` whatever the answers do; its latency runs from
  that due time to the answer, so a server (or client) that falls behind shows up in the figures instead
  of slowing the load down (no coordinated omission). Clients run in ``--clients`` processes.
* **phases**: each ``--rates`` value with the worker otherwise idle, then ``--streaming-rate`` queries/s
  while new readings stream in at ``--readings-rate``/s (their receipt latency is reported too).
* **errors**: any answer but 200, and any request that failed or took longer than 10 s.

    .venv/bin/python benchmarks/bench_api.py            # 3,000 vehicles, 20 s per phase, 200 and 1,000/s
    .venv/bin/python benchmarks/bench_api.py --quick    # CI: 300 vehicles, 3 s per phase

Uses ``CARPASS_KAFKA_BOOTSTRAP_SERVERS`` if set, else the local broker of the settings (leased: started if
needed). Topics get a unique prefix and are deleted at the end. Writes ``benchmarks/results/api.json``
(not in ``--quick`` mode).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import pstats
import random
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import aiohttp
from bench_pipeline import await_receipt, latency_run
from benchlib import fleet, free_port, percentile, produce_all, register_providers, worker
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from streams.kafka.admin import ensure_topics
from streams.kafka.clients import bootstrap_servers, producer_config
from streams.kafka.topics import PipelineTopics
from streams.local.kafka import LocalKafka
from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "api.json"
DEALER_KEY = "bench-dealer-key"
REQUEST_TIMEOUT_S = 10.0


# --- the load (runs in client processes) -----------------------------------------------------------------


def _client(
    port: int, vins: list[str], rate: float, seconds: float, start_at: float, seed: int
) -> dict[str, Any]:
    """One client process: ``rate`` requests/s for ``seconds`` from wall-clock ``start_at``."""
    return asyncio.run(_load(port, vins, rate, seconds, start_at, seed))


async def _load(
    port: int, vins: list[str], rate: float, seconds: float, start_at: float, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    total = int(rate * seconds)
    headers = {"Authorization": f"Bearer {DEALER_KEY}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=512)
    loop = asyncio.get_running_loop()
    start = loop.time() + max(0.0, start_at - time.time())

    async def one(session: aiohttp.ClientSession, due: float, path: str) -> None:
        try:
            async with session.get(path, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                    return
        except (aiohttp.ClientError, TimeoutError) as failed:
            errors[type(failed).__name__] = errors.get(type(failed).__name__, 0) + 1
            return
        latencies.append((loop.time() - due) * 1000.0)

    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(base, timeout=timeout, connector=connector) as session:
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            path = f"/vehicles/{rng.choice(vins)}/ok-label?advertised_km={rng.randrange(1_000, 300_000)}"
            tasks.append(asyncio.create_task(one(session, due, path)))
        await asyncio.gather(*tasks)
    return {"latencies": latencies, "errors": errors, "late_s": max(0.0, loop.time() - start - seconds)}


def label_load(pool: ProcessPoolExecutor, clients: int, port: int, vins: list[str], rate: float,
               seconds: float) -> dict[str, Any]:  # fmt: skip
    """Run the open-loop load over ``clients`` processes; the merged figures."""
    start_at = time.time() + 1.0
    futures = [pool.submit(_client, port, vins, rate / clients, seconds, start_at, seed)
               for seed in range(clients)]  # fmt: skip
    parts = [f.result() for f in futures]
    latencies = [x for part in parts for x in part["latencies"]]
    errors: dict[str, int] = {}
    for part in parts:
        for kind, n in part["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    return {
        "rate_per_s": rate, "seconds": seconds, "requests": int(rate / clients * seconds) * clients,
        "answered": len(latencies), "errors": errors,
        "p50_ms": round(percentile(latencies, 0.50), 2), "p90_ms": round(percentile(latencies, 0.90), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2), "max_ms": round(max(latencies, default=0.0), 2),
        "achieved_per_s": round(len(latencies) / seconds, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }  # fmt: skip


# --- the run ----------------------------------------------------------------------------------------------


def _receipts_total(port: int) -> float:
    import urllib.request

    url = f"http://127.0.0.1:{port}/metrics"
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
        return sum(float(line.rsplit(" ", 1)[1]) for line in r.read().decode().splitlines()
                   if line.startswith("carpass_receipts_total{"))  # fmt: skip
    return 0.0


def _wait_receipts(port: int, wanted: int, process: Any, log: Path) -> None:
    began = time.monotonic()
    said = began
    while (done := _receipts_total(port)) < wanted:
        now = time.monotonic()
        if process.poll() is not None or now - began > 1800:
            raise SystemExit(f"the worker did not judge the {wanted:,} readings (see {log})")
        if now - said > 15:
            print(f"  {done:,.0f} of {wanted:,} receipts after {now - began:.0f} s (worker log: {log})",
                  file=sys.stderr)  # fmt: skip
            said = now
        time.sleep(0.5)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings.from_env()  # the benchmark is an entry point
    bootstrap = bootstrap_servers(settings)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench-api-{run_id}-"
    topics = PipelineTopics(prefix)
    scratch = Path(tempfile.mkdtemp(prefix="carpass-bench-api-"))
    keys = scratch / "api-keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "bench", "role": "dealer", "key": DEALER_KEY}]}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARPASS_")}
    env.update({
        "CARPASS_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "CARPASS_TOPIC_PREFIX": prefix,
        "CARPASS_APP_ID": f"{prefix}worker", "CARPASS_DATA_DIR": str(scratch / "worker"),
        "CARPASS_WEB_PORT": str(port), "CARPASS_PARTITIONS": str(args.partitions),
        "CARPASS_API_KEYS_FILE": str(keys), "CARPASS_CACHE_DIR": str(scratch / "cache"),
        "CARPASS_DEVELOPMENT": "1",
    })  # fmt: skip
    bench_settings = Settings.from_env(env)
    ensure_topics(bench_settings)
    registrations, readings = fleet(args.vehicles, args.seed)
    vins = [r.vin for r in registrations]
    print(f"{len(vins):,} vehicles, {len(readings):,} readings; loading ...", file=sys.stderr)
    producer = Producer(producer_config(bench_settings, {"linger.ms": 5, "batch.size": 1_000_000}))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-api-{run_id}-receipts",
                         "auto.offset.reset": "latest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 5})  # fmt: skip
    consumer.subscribe([topics.receipts])
    phases: list[dict[str, Any]] = []
    try:
        profile = scratch / "worker.prof" if args.profile else None
        with worker(env, scratch / "worker.log", profile, projections=True) as process, \
                ProcessPoolExecutor(args.clients, mp_context=get_context("spawn")) as pool:  # fmt: skip
            produce_all(producer, topics.registrations, registrations)
            register_providers(producer, topics.providers, readings)
            produce_all(producer, topics.readings, readings)
            _wait_receipts(port, len(readings), process, scratch / "worker.log")
            print("loaded; warming up ...", file=sys.stderr)
            label_load(pool, args.clients, port, vins, 50, 1.0)
            for rate in args.rates:
                phase = {"phase": "idle", **label_load(pool, args.clients, port, vins, rate, args.seconds)}
                print(json.dumps(phase), file=sys.stderr)
                phases.append(phase)
            latest = {r.vin: r for r in readings}
            await_receipt(producer, consumer, topics.readings, latest)
            receipts: list[float] = []
            streamed = (producer, consumer, topics.readings, latest, args.readings_rate, args.seconds + 2.0)
            feed = threading.Thread(target=lambda: receipts.extend(latency_run(*streamed, "bench-api")))
            feed.start()
            loaded = label_load(pool, args.clients, port, vins, args.streaming_rate, args.seconds)
            phase = {"phase": "readings streaming in", "readings_per_s": args.readings_rate, **loaded}
            feed.join()
            phase["receipt_p50_ms"] = round(percentile(receipts, 0.5), 1)
            phase["receipt_p99_ms"] = round(percentile(receipts, 0.99), 1)
            print(json.dumps(phase), file=sys.stderr)
            phases.append(phase)
            if process.poll() is not None:
                raise SystemExit(f"the worker died during the run (see {scratch / 'worker.log'})")
    finally:
        consumer.close()
        names = [t for t in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
                 if t.startswith(f"bench-api-{run_id}")]  # fmt: skip
        if names:  # waited for: a process that exits first leaves them behind (they piled up on the broker)
            for future in AdminClient({"bootstrap.servers": bootstrap}).delete_topics(
                names, operation_timeout=10
            ).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=15)
    if args.profile:
        pstats.Stats(str(scratch / "worker.prof")).sort_stats("cumtime").print_stats(40)
    return {
        "benchmark": "api",
        "command": _command(args),
        "query": "GET /vehicles/{vin}/ok-label?advertised_km=N (dealer key), random VIN and km",
        "vehicles": len(vins),
        "readings": len(readings),
        "partitions": args.partitions,
        "workers": 1,
        "client_processes": args.clients,
        "phases": phases,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _command(args: argparse.Namespace) -> str:
    if args.quick:
        return "python benchmarks/bench_api.py --quick"
    return (f"python benchmarks/bench_api.py --vehicles {args.vehicles} --seconds {args.seconds:g} "
            f"--rates {' '.join(str(r) for r in args.rates)}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it still runs")
    parser.add_argument("--vehicles", type=int, default=None, help="vehicles loaded (default 3,000)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rates", type=int, nargs="+", default=[200, 1000], help="label queries/s, idle")
    parser.add_argument("--streaming-rate", type=int, default=200, help="label queries/s while readings flow")
    parser.add_argument("--readings-rate", type=int, default=500, help="readings/s streamed in meanwhile")
    parser.add_argument("--seconds", type=float, default=None, help="duration of each phase (default 20)")
    parser.add_argument("--clients", type=int, default=2, help="client processes sharing the load")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="run the worker under cProfile")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="also write the result JSON here (even with --quick; tests/benchmarks)")
    args = parser.parse_args()
    args.vehicles = args.vehicles or (300 if args.quick else 3_000)
    args.seconds = args.seconds or (3.0 if args.quick else 20.0)
    settings = Settings.from_env()
    with contextlib.ExitStack() as stack:
        if not settings.kafka_bootstrap_servers:
            stack.enter_context(LocalKafka(settings).lease())
        result = run(args)
    print(json.dumps(result, indent=2))
    if not args.no_write and not args.quick:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
