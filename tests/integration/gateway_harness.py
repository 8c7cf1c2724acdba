"""Run ``python -m streams.cli gateway`` next to a test's workers (:mod:`worker_harness`), and call it.

The gateway gets the pipeline's environment (topic prefix, broker) plus an API keys file and a port; it
is stopped with the pipeline's workers (:meth:`Pipeline.stop_all`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.worker_harness import ROOT, Pipeline, free_port


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class GatewayProcess:
    url: str
    index: int
    """Its index among the pipeline's processes."""

    def call(
        self, method: str, path: str, key: str | None, body: Any = None, raw: bytes | None = None
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if key is not None:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, json.loads(response.read() or b"null"), dict(response.headers))
        except urllib.error.HTTPError as refused:
            return Answer(refused.code, json.loads(refused.read() or b"null"), dict(refused.headers))


def write_keys(path: Path, keys: dict[str, dict[str, str]]) -> str:
    """Write a keys file (``streams.http.auth`` format) for workers and gateways; its path."""
    path.write_text(json.dumps({"keys": [{"name": name, **entry} for name, entry in keys.items()]}))
    return str(path)


def start_gateway(p: Pipeline, keys_file: str, timeout_s: float = 60.0, **settings: str) -> GatewayProcess:
    """Start a gateway for ``p`` and wait until ``/health`` answers 200 (receipts read)."""
    port = int(settings.pop("gateway_port", 0)) or free_port()
    env = p.env(p.data_dir / "gateway", 0)
    env.update({"CARPASS_API_KEYS_FILE": keys_file, "CARPASS_GATEWAY_PORT": str(port)})
    env.update({f"CARPASS_{k.upper()}": v for k, v in settings.items()})
    index = len(p.workers)
    log = open(p.data_dir / f"gateway-{index}.log", "wb")  # noqa: SIM115 (closed by Pipeline.stop_all)
    p.logs.append(log)
    command = [sys.executable, "-m", "streams.cli", "gateway"]
    p.workers.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log))
    p.ports.append(port)
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", index)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        p.assert_alive()
        try:
            if gateway.call("GET", "/health", None).status == 200:
                return gateway
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not become healthy in {timeout_s} s")
