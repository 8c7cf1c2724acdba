"""The Quix Streams peer of the vehicle worker: the same judgment core on the same topics, Quix's way.

::

    INPUT topics (VIN-keyed, Avro) ──concat──► apply(judge, stateful, metadata) ─expand─► (is_receipt, bytes)
                                                  │ state per message key (VIN) in Quix's RocksDB store
                                                  │ (+ its changelog topic), value: streams.state.codec bytes
                                   branch ──► --receipts topic      branch ──► --anomalies topic

What it does like ``carpass worker`` (vehicle agent): Avro decode (``schemas.codec``), ``vehicle.decide``
per event with the message's Kafka timestamp as "now", the state stored per VIN with the same state codec,
receipts and anomaly events Avro-encoded to their topics, key = VIN, at-least-once with a changelog.
What it does not do: dead letters (an undecodable or mis-keyed message is counted and dropped), plate
readings, projections, metrics, per-VIN batching of state writes (Quix's API is one message at a time: the
state is decoded and encoded per event, where the worker does it once per VIN and batch).

Runs in the peers' venv (``make bench-peers``; quixstreams pins confluent-kafka < 2.13) with the project
root on ``PYTHONPATH`` (the core needs fastavro and msgspec only). Started and stopped (SIGTERM) by
``benchmarks/bench_peers.py``; by hand::

    PYTHONPATH=. .venv-peers/bin/python benchmarks/peers/quix_app.py --bootstrap 127.0.0.1:19192 \\
        --group g1 --state-dir /tmp/quix --receipts P-odometer.receipts --anomalies P-odometer.anomalies \\
        P-vehicle.registrations P-odometer.readings
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson
from quixstreams import Application
from quixstreams.models.topics.exceptions import TopicNotFoundError
from quixstreams.state.rocksdb import RocksDBOptions

from schemas.codec import decode, encode
from schemas.errors import DecodeError
from streams.domain.policy import DEFAULT_POLICY
from streams.domain.state import VehicleState
from streams.domain.vehicle import decide
from streams.state.codec import decode_state, encode_state

STATE_KEY = b"vehicle"
dropped = {"undecodable": 0, "key-mismatch": 0, "core-error": 0}


def _dumps(value: Any) -> bytes:
    """State values are already bytes (``encode_state``); anything else Quix stores goes through orjson."""
    return value if isinstance(value, bytes) else orjson.dumps(value)


def judge(value: bytes, key: bytes, timestamp: int, headers: Any, state: Any) -> list[tuple[bool, bytes]]:
    """One event through the core: ``[(is_receipt, avro bytes), ...]``; the VIN's new state stored."""
    try:
        event = decode(value)
    except DecodeError:
        dropped["undecodable"] += 1
        return []
    vin = getattr(event, "vin", None)
    if vin is None or key != vin.encode():
        dropped["key-mismatch"] += 1
        return []
    stored = state.get(STATE_KEY)
    current = VehicleState(vin) if stored is None else decode_state(vin, stored)
    try:
        decision = decide(current, event, DEFAULT_POLICY, timestamp)  # type: ignore[arg-type]
    except Exception:  # like the worker: a core failure must not stop the app
        dropped["core-error"] += 1
        return []
    if decision.state is not current:
        state.set(STATE_KEY, encode_state(decision.state))
    return [(True, encode(r)) for r in decision.receipts] + [(False, encode(a)) for a in decision.anomalies]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True, help="consumer group (and changelog topic prefix)")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--receipts", required=True, help="output topic of the receipts")
    parser.add_argument("--anomalies", required=True, help="output topic of the anomaly events")
    parser.add_argument("inputs", nargs="+", help="VIN-keyed input topics (Avro)")
    args = parser.parse_args()
    for attempt in range(3):  # Quix creates its changelog topic, then may not see it yet on a busy broker
        try:
            app = _build(args)
            break
        except TopicNotFoundError as exc:
            print(f"quix peer: {exc}; trying again ({attempt + 1} of 3)", file=sys.stderr)
            time.sleep(2)
    else:
        return 1
    app.run()
    print(f"quix peer stopped; dropped: {dropped}", file=sys.stderr)
    return 0


def _build(args: argparse.Namespace) -> Application:
    """The application: the inputs judged by our core, receipts and anomalies to their topics."""
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        rocksdb_options=RocksDBOptions(dumps=_dumps, loads=lambda raw: raw),
        loglevel=logging.WARNING,
        producer_extra_config={"linger.ms": 5},
    )
    raw = {"key_deserializer": "bytes", "value_deserializer": "bytes"}
    frames = [app.dataframe(app.topic(name, **raw)) for name in args.inputs]  # type: ignore[arg-type]
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)
    outputs = sdf.apply(judge, stateful=True, metadata=True, expand=True)
    out = {"key_serializer": "bytes", "value_serializer": "bytes"}
    receipts, anomalies = app.topic(args.receipts, **out), app.topic(args.anomalies, **out)  # type: ignore[arg-type]
    outputs[outputs.apply(lambda o: o[0])].apply(lambda o: o[1]).to_topic(receipts)
    outputs[outputs.apply(lambda o: not o[0])].apply(lambda o: o[1]).to_topic(anomalies)
    return app


if __name__ == "__main__":
    sys.exit(main())
