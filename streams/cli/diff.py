"""``carpass diff --against PREFIX``: what a what-if replay changed, per vehicle and in totals.

Compares the views and receipts of the base prefix (``CARPASS_TOPIC_PREFIX``, or ``--base``) with those of a
what-if prefix written by ``carpass replay --to-prefix PREFIX --policy FILE``: each vehicle's judgment, OK
label and open anomalies (by kind and blamed reading), each reading's receipt status, and the Trusted
Provider years (R10) folded from each side's receipts and anomalies with the base's registry of providers.
Reads every topic to its end; writes nothing to Kafka.

Examples::

    carpass replay --to-prefix whatif- --policy tolerance.json
    carpass diff --against whatif-
    carpass diff --against whatif- --json diff.json --plot diff.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streams.cli import CliError
from streams.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``diff`` to the ``carpass`` parser."""
    parser = subparsers.add_parser(
        "diff", help="what a what-if replay changed: judgments, anomalies, OK labels, Trusted Providers",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--against", required=True, metavar="PREFIX", help="the what-if's topic prefix")
    parser.add_argument("--base", default=None, metavar="PREFIX",
                        help="the base's topic prefix (default: CARPASS_TOPIC_PREFIX)")  # fmt: skip
    parser.add_argument("--examples", type=int, default=10, metavar="N", help="vehicles shown (default 10)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the diff as JSON")
    parser.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                        help="also draw the totals (needs matplotlib)")  # fmt: skip
    parser.set_defaults(handler=cmd_diff)


def read_to_end(settings: Settings, topic: str, timeout_s: float = 20.0) -> Iterator[Any]:
    """Every message of ``topic`` from its start to its end as of now (none if it does not exist)."""
    from streams.worker.replay import ReplayError
    from streams.worker.replay import read_to_end as read

    try:
        yield from read(settings, topic, timeout_s)
    except ReplayError as exc:
        raise CliError(str(exc)) from None


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    from projections.whatif import (
        WhatIf,
        compare_receipts,
        compare_trusted,
        compare_vehicles,
        render,
        trusted_years,
    )
    from schemas.records import AnomalyEvent, ProviderRegistration, Receipt
    from schemas.views import CertificateView, OkLabelView
    from streams.kafka.clients import build_codec
    from streams.kafka.topics import PipelineTopics

    base_prefix = settings.topic_prefix if args.base is None else args.base
    if args.against == base_prefix:
        raise CliError("--against is the base's own prefix: nothing to compare")
    codec = build_codec(settings)
    base, what_if = PipelineTopics(base_prefix), PipelineTopics(args.against)

    def last(topic: str, kind: type) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for message in read_to_end(settings, topic):
            if message.key() is not None and message.value() is not None:
                out[message.key().decode("utf-8", "replace")] = codec.decode(message.value(), kind)
        return out

    def records(topic: str, kind: type) -> list[Any]:
        return [codec.decode(m.value(), kind) for m in read_to_end(settings, topic) if m.value() is not None]

    print(f"reading {base_prefix!r} and {args.against!r} …", file=sys.stderr)
    result = WhatIf()
    base_certificates = last(base.certificates, CertificateView)
    what_if_certificates = last(what_if.certificates, CertificateView)
    if not what_if_certificates:
        raise CliError(f"no certificate views under prefix {args.against!r}: run `carpass replay --to-prefix "
                       f"{args.against}` first")  # fmt: skip
    compare_vehicles(base_certificates, what_if_certificates, last(base.ok_labels, OkLabelView),
                     last(what_if.ok_labels, OkLabelView), result)  # fmt: skip
    base_receipts, what_if_receipts = records(base.receipts, Receipt), records(what_if.receipts, Receipt)
    by_id = {r.event_id: r for r in base_receipts}
    compare_receipts(by_id, {r.event_id: r for r in what_if_receipts}, result)
    if what_if_receipts:
        registry = records(base.providers, ProviderRegistration)
        compare_trusted(
            trusted_years(base_receipts, records(base.anomalies, AnomalyEvent), registry),
            trusted_years(what_if_receipts, records(what_if.anomalies, AnomalyEvent), registry),
            result,
        )  # fmt: skip
    print(render(result, base_prefix, args.against, args.examples))
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json_obj(), indent=2) + "\n", encoding="utf-8")
    if args.plot is not None:
        plot(result, base_prefix, args.against, args.plot)
    return 0


def plot(result: Any, base: str, what_if: str, path: Path) -> None:
    """Bars: anomalies opened and closed by kind, OK labels granted and denied, judgments moved."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CliError("--plot needs matplotlib (pip install matplotlib)") from None
    kinds = sorted(set(result.opened) | set(result.closed))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    positions = range(len(kinds))
    left.bar([p - 0.2 for p in positions], [result.opened[k] for k in kinds], 0.4, label="opened",
             color="#c0392b")  # fmt: skip
    left.bar([p + 0.2 for p in positions], [result.closed[k] for k in kinds], 0.4, label="closed",
             color="#27ae60")  # fmt: skip
    left.set_xticks(list(positions), kinds, rotation=30, ha="right")
    left.set_title("open anomalies, what-if against base")
    left.set_ylabel("anomalies")
    left.legend()
    labels = ["OK label\ngranted", "OK label\ndenied", "Trusted\ngained", "Trusted\nlost"]
    values = [result.ok_granted, result.ok_denied, len(result.trusted_gained), len(result.trusted_lost)]
    right.bar(labels, values, color=["#27ae60", "#c0392b", "#2980b9", "#8e44ad"])
    right.set_title(f"{sum(result.judgments.values()):,} judgments change")
    for x, v in enumerate(values):
        right.annotate(f"{v:,}", (x, v), ha="center", va="bottom")
    figure.suptitle(f"carpass diff: {what_if!r} against {base!r} ({result.vehicles_compared:,} vehicles)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
