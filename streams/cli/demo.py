"""``carpass demo``: the README's main job — the whole product on the local embedded broker.

::

    kafka up ─► topics (fresh prefix) ─► worker ─► simulated fleet streamed in ─► wait until caught up
    ─► summary: throughput, latency p50/p99, anomalies by kind, quality vs ground truth and vs the naive
       rule, a sample OK label and certificate from the API, the URLs
    ─► stays up to be explored (the API, a certificate page, /metrics) until Ctrl-C, then stops what it
       started; ``--exit`` stops at once (scripts), ``--keep-running`` leaves it all running and returns

Progress is a bar redrawn in place on a terminal, a line every few seconds in a file or a CI log.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.cli import CliError
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.local.demo import Demo

_EPILOG = """\
examples:
  carpass demo                          20,000 vehicles, faults x10 so every kind shows up
  carpass demo --vehicles 2000          a quicker look
  carpass demo --exit                   print the summary and stop everything (for scripts)
  carpass demo --keep-running           leave the broker and the worker up and return
                                        (stop them with: carpass kafka down; kill the worker's pid)
The summary is also written as JSON to var/demo/<run>/summary.json.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole system on a simulated fleet and print what it found",
        description=__doc__, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    demo.add_argument("--vehicles", type=int, default=20_000, help="fleet size (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=1, help="simulation seed (default: %(default)s)")
    demo.add_argument(
        "--fault-rate-multiplier", type=float, default=10.0,
        help="inject faults this many times more often than reality (default: %(default)s)",
    )  # fmt: skip
    demo.add_argument(
        "--paced-rate", type=int, default=300,
        help="records/s for the paced end of the stream (10%%, at most 30 s), where latency is measured "
        "(default: %(default)s)",
    )  # fmt: skip
    demo.add_argument(
        "--timeout", type=float, default=900.0, help="give up after this many seconds of waiting"
    )
    stay = demo.add_mutually_exclusive_group()
    stay.add_argument("--exit", action="store_true", help="stop everything after the summary (scripts)")
    stay.add_argument(
        "--keep-running", action="store_true", help="leave the worker and broker running, and return"
    )
    demo.set_defaults(handler=cmd_demo)


PROGRESS_EVERY_S = 5.0


class _Say:
    """The demo's messages on ``stream``: progress (text starting with ``\\r``) redrawn in place on a
    terminal; in a file or a CI log one progress line every ``PROGRESS_EVERY_S`` (not thousands of
    carriage returns), the other messages as they come."""

    def __init__(
        self, stream: Any, every_s: float = PROGRESS_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream, self.every_s, self.clock = stream, every_s, clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last = float("-inf")

    def __call__(self, text: str) -> None:
        if not self.tty:
            if text.startswith("\r"):
                now = self.clock()
                if now - self.last < self.every_s:
                    return
                self.last = now
                text = text[1:].rstrip() + "\n"
            elif text == "\n":  # the end of a bar: its last line was written whole
                return
        self.stream.write(text)
        self.stream.flush()



def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.records import PlateOdometerReading
    from streams.local.demo import Demo, DemoError, DemoOptions, _percentile, latencies, score_run
    from streams.simulator.report import format_report

    if args.vehicles < 1:
        raise CliError("--vehicles must be at least 1")
    say = _Say(sys.stderr)
    options = DemoOptions(
        vehicles=args.vehicles, seed=args.seed, fault_rate_multiplier=args.fault_rate_multiplier,
        paced_rate_per_s=args.paced_rate, timeout_s=args.timeout, keep_running=args.keep_running,
    )  # fmt: skip
    demo = Demo(settings, options, say)
    try:
        bootstrap = demo.start_broker()
        partitions = demo.create_topics(bootstrap)
        say(f"topics ready under prefix {demo.prefix!r} ({partitions} partitions); starting the worker …\n")
        demo.start_worker(partitions)
        records, counts, simulation = demo.produce()
        receipts, anomalies, dead = demo.collect(counts["submissions"], counts.get("PlateOdometerReading", 0))
        stamps = demo.input_timestamps()
    except DemoError as exc:
        demo.close()
        raise CliError(str(exc)) from exc
    try:
        engine, naive = score_run(records, simulation, anomalies, [r for r, _ in receipts], dead)
        paced_ms = counts.get("paced_from_ms")
        plate_ids = {r.event_id for r in records if isinstance(r, PlateOdometerReading)}
        by_vin = {k: v for k, v in stamps.items() if k not in plate_ids}
        all_vin, paced_s = latencies(receipts, by_vin, paced_ms)
        by_plate = {k: stamps[k] for k in plate_ids if k in stamps}
        all_plates, paced_plates_s = latencies(receipts, by_plate, paced_ms)
        all_s = sorted(all_vin + all_plates)
        bulk = [(r, ts) for r, ts in receipts if paced_ms is None or stamps.get(r.event_id, 0) < paced_ms]
        first = min(ts for _, ts in receipts)
        last_bulk = max(ts for _, ts in bulk) if bulk else first
        throughput = len(bulk) / max((last_bulk - first) / 1000.0, 1e-3)
        latest = {a.anomaly_id: a for a in anomalies}
        open_by_kind = Counter(a.kind.value for a in latest.values() if a.status.value == "OPEN")
        sample_vin = next(
            (a.vin for a in latest.values() if a.kind.value == "ROLLBACK" and a.status.value == "OPEN"),
            next(iter(latest.values())).vin if latest else "",
        )
        clean_vin = next(
            (r.vin for r, _ in receipts if r.vin and r.vin not in {a.vin for a in latest.values()}), ""
        )
        sample_history = demo.api_get(f"/vehicles/{sample_vin}/history")
        clean_history = demo.api_get(f"/vehicles/{clean_vin}/history")
        # a dealer advertises the mileage on the dashboard: here the last recorded one (R12.2 then holds)
        samples = {
            "rollback_vin_ok_label": demo.api_get(
                f"/vehicles/{sample_vin}/ok-label?advertised_km={_last_km(sample_history)}"
            ),
            "clean_vin_ok_label": demo.api_get(
                f"/vehicles/{clean_vin}/ok-label?advertised_km={_last_km(clean_history)}"
            ),
            "rollback_vin_history": sample_history,
        }
        urls = {
            "metrics": demo.url("/metrics"),
            "history": demo.url(f"/vehicles/{sample_vin}/history"),
            "ok_label": demo.url(f"/vehicles/{sample_vin}/ok-label?advertised_km=150000"),
            "certificate_page": demo.url(f"/vehicles/{sample_vin}/certificate.html"),
        }
        print(
            _summary(
                counts,
                len(receipts),
                throughput,
                all_s,
                paced_s,
                paced_plates_s,
                open_by_kind,
                len(dead),
                format_report(engine, naive),
                samples,
                urls,
                demo,
                _percentile,
            )
        )
        out = {
            "vehicles": args.vehicles, "seed": args.seed, "fault_rate_multiplier": args.fault_rate_multiplier,
            "counts": counts, "receipts": len(receipts), "bulk_throughput_per_s": round(throughput),
            "latency_all_s": {"p50": _percentile(all_s, 0.5), "p99": _percentile(all_s, 0.99)},
            "latency_paced_s": {"p50": _percentile(paced_s, 0.5), "p99": _percentile(paced_s, 0.99),
                                "rate_per_s": args.paced_rate, "n": len(paced_s)},
            "latency_paced_plate_readings_s": {"p50": _percentile(paced_plates_s, 0.5),
                                               "p99": _percentile(paced_plates_s, 0.99),
                                               "n": len(paced_plates_s)},
            "open_anomalies_by_kind": dict(open_by_kind), "dead_letters": len(dead),
            "engine": engine.to_dict(), "naive": naive.to_dict(), "samples": samples, "urls": urls,
        }  # fmt: skip
        path = Path(demo.run_dir) / "summary.json"
        path.write_text(json.dumps(out, indent=2, default=str))
        print(f"summary written to {path}")
        if not (args.exit or args.keep_running):
            _stay_up(demo, urls)
    finally:
        demo.close()
    return 0


def _stay_up(demo: Demo, urls: dict[str, str]) -> None:
    """Keep the broker, the worker and its API up until Ctrl-C or SIGTERM (or the worker's end)."""
    print(
        "\nThe demo stays up to be explored (API key in " + str(demo.run_dir / "api-keys.json") + "):\n"
        f"  the certificate page of a vehicle with a rollback: {urls['certificate_page']}\n"
        f"  its history (JSON): {urls['history']}\n"
        f"  its OK label for an advert of 150,000 km: {urls['ok_label']}\n"
        f"  the worker's metrics: {urls['metrics']}\n"
        "  (send the key as 'Authorization: Bearer <key>'). Ctrl-C to stop.",
        flush=True,
    )

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        while demo.worker_alive():
            time.sleep(1.0)
        print("the worker stopped; stopping the demo", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping the demo …", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summary(
    counts: dict[str, int],
    receipts: int,
    throughput: float,
    all_s: list[float],
    paced_s: list[float],
    paced_plates_s: list[float],
    by_kind: Counter[str],
    dead: int,
    quality: str,
    samples: dict[str, Any],
    urls: dict[str, str],
    demo: Demo,
    pct: Callable[[list[float], float], float],
) -> str:
    lines = [
        "",
        "=== carpass demo: summary ===",
        f"events produced: {sum(v for k, v in counts.items() if k[0].isupper()):,} "
        f"({counts.get('OdometerReading', 0):,} readings, "
        f"{counts.get('PlateOdometerReading', 0):,} plate readings, "
        f"{counts.get('CorrectionRequest', 0):,} corrections, {counts.get('malformed', 0):,} malformed)",
        f"receipts: {receipts:,} (one per submission) · dead letters: {dead:,}",
        f"throughput (bulk load, one worker): {throughput:,.0f} submissions/s",
        f"latency input → receipt, paced at {demo.options.paced_rate_per_s:,}/s: "
        f"p50 {pct(paced_s, 0.5) * 1000:,.0f} ms, p99 {pct(paced_s, 0.99) * 1000:,.0f} ms "
        f"(n={len(paced_s):,}); plate readings, which wait for every registration sent before them: "
        f"p50 {pct(paced_plates_s, 0.5) * 1000:,.0f} ms, p99 {pct(paced_plates_s, 0.99) * 1000:,.0f} ms "
        f"(n={len(paced_plates_s):,})",
        f"latency input → receipt, whole run incl. the bulk backlog: p50 {pct(all_s, 0.5):,.1f} s, "
        f"p99 {pct(all_s, 0.99):,.1f} s",
        "open anomalies by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_kind.items())),
        "",
        "detection quality against the ground truth (stream engine vs the naive 'lower than before' rule):",
        quality,
        "",
        "sample OK label (vehicle with a rollback): " + json.dumps(samples["rollback_vin_ok_label"])[:600],
        "sample OK label (clean vehicle): " + json.dumps(samples["clean_vin_ok_label"])[:600],
        "",
        "URLs (API key in " + str(demo.run_dir / "api-keys.json") + "):",
        *(f"  {k}: {v}" for k, v in urls.items()),
    ]
    return "\n".join(lines)


def _last_km(history: Any) -> int:
    """The highest odometer value in a history answer of the API (0 when it has none)."""
    readings = history.get("readings", []) if isinstance(history, dict) else []
    return max((int(r.get("odometer_value", 0)) for r in readings if isinstance(r, dict)), default=0)
