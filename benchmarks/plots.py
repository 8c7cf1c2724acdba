"""PNG plots of the benchmark results (matplotlib), for the README.

Reads ``benchmarks/results/*.json`` and writes next to them:

* ``throughput.png`` (peers.json): ours, Quix Streams, the raw core loop and the raw limit, events/s and
  CPU per event, on the same events;
* ``latency.png`` (pipeline.json): distribution of the end-to-end latency (reading sent -> receipt
  consumed) at half the sustained rate and over capacity;
* ``scaling.png`` (scaling.json): readings/s with 1, 2, 4 workers against linear scaling, CPUs busy;
* ``quality.png`` (quality.json): recall per fault kind and break precision, ours against the naive rule.

Each title names the machine, the date and the load average of the run. A missing result is skipped.

    .venv/bin/python benchmarks/plots.py
    .venv/bin/python benchmarks/plots.py --results DIR --out-dir DIR    # e.g. on quick results (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"
COLOURS = {"ours": "#1f6fb4", "quix": "#e8892b", "raw_core": "#6b9e3a", "raw_limit": "#9a9a9a",
           "naive": "#c44e52"}  # fmt: skip


def _stamp(result: dict[str, Any]) -> str:
    start, end = result.get("load_average_1m_at_start"), result.get("load_average_1m")
    load = f"{start} at start, {end} at end" if start is not None else f"{end}"
    return (f"{result.get('cpus', '?')} cores, {result.get('python', '')}, load avg (1 min) {load}, "
            f"{result.get('date_utc', 'date unknown')} UTC")  # fmt: skip


def _bar_labels(ax: Any, bars: Any, texts: list[str]) -> None:
    for bar, text in zip(bars, texts, strict=True):
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    xytext=(0, 3), textcoords="offset points", fontsize=9)  # fmt: skip


def throughput(result: dict[str, Any], out: Path) -> bool:
    systems = result["systems"]
    names = {"ours": "ours\n(Faust worker)", "quix": "Quix Streams\n(same core)",
             "raw_core": "raw core loop\n(no framework)",
             "raw_limit": "raw limit\n(decode + put)"}  # fmt: skip
    keys = [k for k in names if k in systems]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    rates = [systems[k]["events_per_s"] for k in keys]
    bars = left.bar([names[k] for k in keys], rates, color=[COLOURS[k] for k in keys])
    _bar_labels(left, bars, [f"{r:,}" for r in rates])
    left.set_ylabel("events per second (higher is better)")
    left.set_title("throughput, one process, draining from offset 0", fontsize=10)
    left.set_ylim(0, max(rates) * 1.15)
    cpu = [systems[k]["cpu_seconds_per_1k_events"] * 1000 for k in keys]
    bars = right.bar([names[k].split("\n")[0] for k in keys], cpu, color=[COLOURS[k] for k in keys])
    _bar_labels(right, bars, [f"{c:,.0f}" for c in cpu])
    right.set_ylabel("CPU µs per event (lower is better)")
    right.set_title("CPU cost of the process itself", fontsize=10)
    right.set_ylim(0, max(cpu) * 1.15)
    right.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Same {result['events']:,} events ({result['readings']:,} readings, {result['vehicles']:,} "
                 f"vehicles), {result['partitions']} partitions, local Kafka\n{_stamp(result)}",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def latency(result: dict[str, Any], out: Path) -> bool:
    if not result.get("latency_cdf_ms"):
        return False  # a result from before the distribution was recorded
    fig, ax = plt.subplots(figsize=(8, 4.8))
    series = (
        ("latency_half_load_cdf_ms", f"{result['latency_half_load_per_s']:,} readings/s (about half the "
                                     "sustained rate)", COLOURS["ours"]),
        ("latency_cdf_ms", f"{result['latency_load_per_s']:,} readings/s (over capacity: a backlog grows)",
         COLOURS["naive"]),
    )  # fmt: skip
    for key, label, colour in series:
        cdf = result.get(key) or {}
        if not cdf:
            continue
        qs = [float(k[1:]) for k in cdf]
        ax.plot(list(cdf.values()), qs, label=label, color=colour, linewidth=2)
    ax.axvline(result.get("goal_p99_ms", 250), color="#444", linestyle=":", linewidth=1)
    ax.annotate(f"goal p99 {result.get('goal_p99_ms', 250)} ms", (result.get("goal_p99_ms", 250), 5),
                xytext=(4, 0), textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency, reading sent -> its receipt consumed (ms, log scale)")
    ax.set_ylabel("percentile of readings")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(0.33, 0.72), fontsize=9)
    ax.set_title(f"Latency distribution, one worker, {result['partitions']} partitions, open-loop load\n"
                 f"{_stamp(result)}", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def scaling(result: dict[str, Any], out: Path) -> bool:
    runs = result["runs"]
    workers = [r["workers"] for r in runs]
    rates = [r["readings_per_s"] for r in runs]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    cores = result.get("cpus") or 1
    ideal = [rates[0] * min(w, cores) / workers[0] for w in workers]
    ax.plot(workers, ideal, linestyle="--", color="#999", label=f"linear up to the {cores} cores")
    ax.plot(workers, rates, marker="o", color=COLOURS["ours"], linewidth=2, label="measured")
    for run in runs:
        ax.annotate(f"{run['readings_per_s']:,}/s\nworkers got {run['workers_cores_used']} cores\n"
                    f"CPUs {run['machine_busy_share']:.0%} busy",
                    (run["workers"], run["readings_per_s"]), xytext=(6, -34), textcoords="offset points",
                    fontsize=8)  # fmt: skip
    ax.set_xticks(workers)
    ax.set_xlim(workers[0] - 0.3, workers[-1] + 1.2)
    ax.set_xlabel("workers (= partitions)")
    ax.set_ylabel("readings per second")
    ax.set_ylim(0, max(*rates, *ideal) * 1.2)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(f"Scaling on this machine ({result['vehicles']:,} vehicles): CPU-bound, "
                 f"{result.get('cpus', '?')} cores shared with other jobs\n{_stamp(result)}",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def quality(result: dict[str, Any], out: Path) -> bool:
    side = result["side_by_side"]
    kinds = [k for k, v in side["recall"].items() if v["naive"] is not None and v["visible"]]
    labels = [*kinds, "break precision", "blamed the right reading"]
    ours = [side["recall"][k]["ours"] or 0.0 for k in kinds] + [
        side["break_precision"]["ours"] or 0.0, side["blamed_right_reading"]["ours"] or 0.0]
    naive = [side["recall"][k]["naive"] or 0.0 for k in kinds] + [
        side["break_precision"]["naive"] or 0.0, side["blamed_right_reading"]["naive"] or 0.0]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    xs = range(len(labels))
    width = 0.38
    b1 = ax.bar([x - width / 2 for x in xs], [100 * v for v in ours], width, color=COLOURS["ours"],
                label="ours (judgment core)")  # fmt: skip
    b2 = ax.bar([x + width / 2 for x in xs], [100 * v for v in naive], width, color=COLOURS["naive"],
                label='naive: "lower than the previous reading"')  # fmt: skip
    _bar_labels(ax, b1, [f"{100 * v:.0f}" for v in ours])
    _bar_labels(ax, b2, [f"{100 * v:.0f}" for v in naive])
    ax.set_xticks(list(xs), [label.replace(" (", "\n(") for label in labels], fontsize=8)
    ax.set_ylabel("%  (recall per fault kind; precision; blame)")
    ax.set_ylim(0, 115)
    ax.legend(loc="upper right", fontsize=8, ncols=2)
    legit = side["legit_drop_vehicles_flagged"]
    ax.set_title(f"Detection quality on the simulator's ground truth ({result['vehicles']:,} vehicles, "
                 f"faults x{result['fault_rate_multiplier']:g}); legitimate drops flagged: ours "
                 f"{100 * (legit['ours'] or 0):.0f} %, naive {100 * (legit['naive'] or 0):.0f} %\n"
                 f"{_stamp(result)}", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


PLOTS = {"peers": ("throughput.png", throughput), "pipeline": ("latency.png", latency),
         "scaling": ("scaling.png", scaling), "quality": ("quality.png", quality)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of the result JSONs")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the PNGs go (default: --results)")
    args = parser.parse_args()
    out_dir = args.out_dir or args.results
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (png, draw) in PLOTS.items():
        source = args.results / f"{name}.json"
        if not source.exists():
            print(f"skipped {png}: no {source}", file=sys.stderr)
            continue
        if draw(json.loads(source.read_text()), out_dir / png):
            print(f"wrote {out_dir / png}")
        else:
            print(f"skipped {png}: {source} lacks the figures it needs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
