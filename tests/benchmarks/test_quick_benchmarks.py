"""Every benchmark still runs: each one in ``--quick`` mode, as a subprocess, against the test broker.

They are started together (most of a quick run is waiting for a worker to start) by one module fixture;
each test then checks one benchmark: exit code 0 and a well-formed result JSON written to a temporary
directory (``--out``: the committed results in ``benchmarks/results/`` are never touched). The plots are
drawn from those quick results. The Quix Streams peer needs ``.venv-peers`` (``make bench-peers``; ``make
test`` makes it). Always quick, also under ``make test-full``: full-size benchmarks are not tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT_S = 170.0

# name -> keys its result must carry (besides the common ones), and whether it needs the broker
EXPECTED: dict[str, tuple[tuple[str, ...], bool]] = {
    "core": (("stream_readings_per_s", "per_vehicle_readings_per_s", "fast_path_readings_per_s"), False),
    "trend": (("results",), False),
    "codec": (("encode_per_s", "decode_per_s"), False),
    "state": (("fleets", "budget_bytes"), False),
    "step": (("warm", "cold"), False),
    "quality": (("side_by_side", "ours", "naive"), False),
    "pipeline": (("readings_per_s", "latency_p99_ms", "latency_cdf_ms", "raw_limit_events_per_s"), True),
    "peers": (("systems", "quix_vs_ours"), True),
    "replay": (("replay_seconds", "readings_per_s", "projection", "bulk"), True),
    "scaling": (("runs", "limit"), True),
    "gateway": (("runs",), True),
    "api": (("phases",), True),
}
COMMON = ("benchmark", "command", "load_average_1m", "cpus", "python", "date_utc")
OWN_FORMAT = {"gateway", "api"}
"""Benchmarks that stamp their results their own way (no benchlib): only the command is checked.
``bench_failover.py`` is not here: tests/integration/test_failover.py runs the same scenario."""


@dataclass
class QuickRun:
    name: str
    returncode: int | None
    seconds: float
    output: str
    result: Path


def _env(bootstrap: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARPASS_") and k != "KAFKA_BOOTSTRAP_SERVERS"}  # fmt: skip
    env["CARPASS_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    return env


@pytest.fixture(scope="module")
def quick_runs(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, QuickRun]]:
    out = tmp_path_factory.mktemp("quick-benchmarks")
    env = _env(kafka_bootstrap)
    started: dict[str, tuple[subprocess.Popen[str], float, Path]] = {}
    for name in EXPECTED:
        result = out / f"{name}.json"
        command = [sys.executable, str(BENCHMARKS / f"bench_{name}.py"), "--quick", "--out", str(result)]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,  # its own group:
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
        started[name] = (process, time.monotonic(), result)
    runs: dict[str, QuickRun] = {}
    deadline = time.monotonic() + TIMEOUT_S
    for name, (process, began, result) in started.items():
        try:
            output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # the benchmark, its worker and client processes, nothing orphaned
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            output += f"\n[killed after {TIMEOUT_S:.0f} s]"
        runs[name] = QuickRun(name, process.returncode, time.monotonic() - began, output, result)
    yield runs


def _check(run: QuickRun, keys: tuple[str, ...]) -> dict[str, Any]:
    tail = run.output[-4000:]
    assert run.returncode == 0, f"bench_{run.name}.py --quick failed ({run.returncode}):\n{tail}"
    assert run.result.exists(), f"bench_{run.name}.py --quick wrote no {run.result}:\n{run.output[-2000:]}"
    data = json.loads(run.result.read_text())
    assert isinstance(data, dict)
    common = ("command",) if run.name in OWN_FORMAT else COMMON
    missing = [k for k in (*common, *keys) if k not in data]
    assert not missing, f"{run.result} lacks {missing}"
    assert run.name in OWN_FORMAT or data["benchmark"] == run.name
    assert "--quick" in data["command"] and "--out" not in data["command"]
    return data


@pytest.mark.parametrize("name", list(EXPECTED))
def test_benchmark_runs_in_quick_mode(quick_runs: dict[str, QuickRun], name: str) -> None:
    data = _check(quick_runs[name], EXPECTED[name][0])
    if name == "peers":
        systems = data["systems"]
        assert set(systems) == {"ours", "quix", "raw_core", "raw_limit"}
        readings = data["readings"]
        for system in ("ours", "quix", "raw_core"):  # each did the whole work: a receipt per reading
            assert systems[system]["receipts"] == readings, (system, systems[system])
            assert systems[system]["events_per_s"] > 0
            assert systems[system]["anomalies"] > 0, (system, systems[system])  # the fleet has typos
    if name == "state":
        assert set(data["fleets"]) == {"benchmark", "simulator"}
        for fleet in data["fleets"].values():  # both versions sized and timed
            timed = [fleet["all"][what][v] for what in ("encode_us", "decode_us") for v in ("v2", "v3")]
            assert all(us > 0 for us in timed) and fleet["bytes"]["v3"]["mean"] > 0, fleet
    if name == "replay":
        assert data["receipts"] > 0 and data["projection"]["hours_with_12_partitions"] > 0
        bulk = data["bulk"]
        live = data["views_live"]  # every live reading shows in a certificate view
        assert live["seen_in_a_view"] == live["sent"] > 0 and live["p99_ms"] > 0, live
        for mode in ("in_place", "what_if"):  # every reading judged again (the live ones too), in both modes
            assert bulk[mode]["receipts"] == data["receipts"] + live["sent"], bulk[mode]
            assert bulk[mode]["events_per_s"] > 0, bulk[mode]
    if name == "scaling":
        assert [r["workers"] for r in data["runs"]] == [1, 2]


def test_committed_results_are_untouched_by_quick_runs(quick_runs: dict[str, QuickRun]) -> None:
    for path in (BENCHMARKS / "results").glob("*.json"):
        assert "--quick" not in json.loads(path.read_text()).get("command", ""), path


def test_plots_are_drawn_from_the_results(quick_runs: dict[str, QuickRun], tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for run in quick_runs.values():
        if run.result.exists():
            (results / run.result.name).write_text(run.result.read_text())
    done = subprocess.run([sys.executable, str(BENCHMARKS / "plots.py"), "--results", str(results)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for png in ("throughput.png", "latency.png", "scaling.png", "quality.png"):
        data = (results / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, png
