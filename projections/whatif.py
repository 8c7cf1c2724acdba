"""What a rule change would do: the views and receipts of two prefixes compared (``carpass diff``).

::

    base prefix (the registry as it runs)        what-if prefix (``carpass replay --to-prefix --policy``)
    ok-labels, certificates: last per VIN   ──┐  ok-labels, certificates: last per VIN
    receipts: by event id                   ──┼─ receipts: by event id
    receipts + anomalies + registry ─► tallies┘  receipts + anomalies + the base's registry ─► tallies
                                              ▼
    WhatIf: per VIN (judgment, OK label, open anomalies) and in totals; judgments per reading;
            Trusted Provider years gained and lost

Pure: the caller reads the topics (``streams.cli.diff``) and hands decoded records in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from projections.quality import ProviderTally, counts_as_reading, evolve, provider_key, quality_view
from schemas.records import AnomalyEvent, ProviderRegistration, Receipt
from schemas.views import CertificateView, OkLabelView


@dataclass(frozen=True, slots=True)
class VehicleChange:
    """One VIN whose views differ between the base and the what-if."""

    vin: str
    judgment: tuple[str, str] | None = None
    """(base, what-if) when the judgment changes."""
    ok_label: tuple[bool, bool] | None = None
    """(base eligible, what-if eligible) when it changes."""
    opened: tuple[str, ...] = ()
    """Anomaly kinds open in the what-if and not in the base (``KIND`` or ``KIND@event id`` blamed)."""
    closed: tuple[str, ...] = ()


@dataclass(slots=True)
class WhatIf:
    """The differences, per VIN and in totals."""

    vehicles_base: int = 0
    vehicles_what_if: int = 0
    vehicles_compared: int = 0
    changes: list[VehicleChange] = field(default_factory=list)
    judgments: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(base, what-if) -> VINs whose certificate judgment moved so."""
    ok_granted: int = 0
    ok_denied: int = 0
    opened: Counter[str] = field(default_factory=Counter)
    """Anomaly kind -> anomalies open in the what-if only."""
    closed: Counter[str] = field(default_factory=Counter)
    readings_compared: int = 0
    receipts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(base status, what-if status) -> readings whose receipt status changes."""
    trusted_gained: list[tuple[str, int]] = field(default_factory=list)
    """(provider id, year) Trusted Provider in the what-if only."""
    trusted_lost: list[tuple[str, int]] = field(default_factory=list)

    def to_json_obj(self, examples: int = 20) -> dict[str, object]:
        return {
            "vehicles": {"base": self.vehicles_base, "what_if": self.vehicles_what_if,
                         "compared": self.vehicles_compared, "changed": len(self.changes)},
            "judgments": {f"{a} -> {b}": n for (a, b), n in sorted(self.judgments.items())},
            "ok_label": {"granted": self.ok_granted, "denied": self.ok_denied},
            "anomalies": {"opened": dict(sorted(self.opened.items())),
                          "closed": dict(sorted(self.closed.items()))},
            "receipts": {"readings_compared": self.readings_compared,
                         "changed": {f"{a} -> {b}": n for (a, b), n in sorted(self.receipts.items())}},
            "trusted_provider": {"gained": [list(x) for x in self.trusted_gained],
                                 "lost": [list(x) for x in self.trusted_lost]},
            "examples": [
                {"vin": c.vin, "judgment": list(c.judgment) if c.judgment else None,
                 "ok_label": list(c.ok_label) if c.ok_label else None, "opened": list(c.opened),
                 "closed": list(c.closed)}
                for c in self.changes[:examples]
            ],
        }  # fmt: skip


def _open(view: CertificateView | None) -> set[str]:
    if view is None:
        return set()
    return {f"{a.kind.value}@{a.blamed_event_id}" if a.blamed_event_id else a.kind.value
            for a in view.open_anomalies}  # fmt: skip


def compare_vehicles(
    base_certificates: Mapping[str, CertificateView], what_if_certificates: Mapping[str, CertificateView],
    base_labels: Mapping[str, OkLabelView], what_if_labels: Mapping[str, OkLabelView], into: WhatIf,
) -> None:  # fmt: skip
    """Per VIN present in both: the judgment, the OK label, the open anomalies (kind and blamed reading)."""
    into.vehicles_base, into.vehicles_what_if = len(base_certificates), len(what_if_certificates)
    for vin in sorted(base_certificates.keys() & what_if_certificates.keys()):
        into.vehicles_compared += 1
        before, after = base_certificates[vin], what_if_certificates[vin]
        judgment = None
        if before.judgment != after.judgment:
            judgment = (before.judgment.value, after.judgment.value)
            into.judgments[judgment] += 1
        label = None
        was, now = base_labels.get(vin), what_if_labels.get(vin)
        if was is not None and now is not None and was.eligible != now.eligible:
            label = (was.eligible, now.eligible)
            if now.eligible:
                into.ok_granted += 1
            else:
                into.ok_denied += 1
        open_before, open_after = _open(before), _open(after)
        opened, closed = tuple(sorted(open_after - open_before)), tuple(sorted(open_before - open_after))
        for each in opened:
            into.opened[each.split("@")[0]] += 1
        for each in closed:
            into.closed[each.split("@")[0]] += 1
        if judgment or label or opened or closed:
            into.changes.append(VehicleChange(vin, judgment, label, opened, closed))


def compare_receipts(base: Mapping[str, Receipt], what_if: Mapping[str, Receipt], into: WhatIf) -> None:
    """Readings (by event id) with a receipt in both: how their status moves."""
    for event_id in base.keys() & what_if.keys():
        into.readings_compared += 1
        a, b = base[event_id].status.value, what_if[event_id].status.value
        if a != b:
            into.receipts[(a, b)] += 1


def trusted_years(
    receipts: Iterable[Receipt], anomalies: Iterable[AnomalyEvent], registry: Iterable[ProviderRegistration]
) -> set[tuple[str, int]]:
    """(provider id, year Y+1) for every provider-year that earns Trusted Provider (R10), folded from the
    receipts (each event id once), the anomalies and the registry as the provider-quality agent does."""
    tallies: dict[str, ProviderTally] = {}
    events: list[Receipt | AnomalyEvent | ProviderRegistration] = [*registry]
    seen: set[str] = set()
    for receipt in receipts:
        if counts_as_reading(receipt) and receipt.event_id in seen:
            continue
        seen.add(receipt.event_id)
        events.append(receipt)
    events.extend(anomalies)
    for event in events:
        key = provider_key(event)
        if key is not None:
            tallies[key] = evolve(tallies.get(key) or ProviderTally(key), event)
    return {(provider, year.year + 1) for provider, tally in tallies.items()
            for year in quality_view(tally).years if year.trusted_provider_next_year}  # fmt: skip


def compare_trusted(base: set[tuple[str, int]], what_if: set[tuple[str, int]], into: WhatIf) -> None:
    into.trusted_gained = sorted(what_if - base)
    into.trusted_lost = sorted(base - what_if)


def render(what: WhatIf, base: str, what_if: str, examples: int = 10) -> str:
    """The report in words."""

    def counted(counter: Mapping[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1])) or "none"

    lines = [
        f"what-if {what_if!r} against {base!r}: {what.vehicles_compared:,} vehicles compared "
        f"({what.vehicles_base:,} in the base, {what.vehicles_what_if:,} in the what-if), "
        f"{len(what.changes):,} change",
        "  judgments: " + (", ".join(f"{a} -> {b} {n:,}" for (a, b), n in what.judgments.most_common())
                           or "none change"),
        f"  OK label: {what.ok_granted:,} granted, {what.ok_denied:,} denied "
        f"(net {what.ok_granted - what.ok_denied:+,})",
        f"  anomalies opened: {counted(what.opened)}",
        f"  anomalies closed: {counted(what.closed)}",
    ]  # fmt: skip
    if what.readings_compared:
        moved = ", ".join(f"{a} -> {b} {n:,}" for (a, b), n in what.receipts.most_common()) or "none"
        lines.append(f"  receipts of {what.readings_compared:,} readings: {moved}")
    else:
        lines.append("  receipts: none compared (the what-if was replayed --without-receipts)")
    lines.append(f"  Trusted Provider (provider-years): {len(what.trusted_gained):,} gained, "
                 f"{len(what.trusted_lost):,} lost")  # fmt: skip
    for provider, year in what.trusted_gained[:examples]:
        lines.append(f"    + {provider} {year}")
    for provider, year in what.trusted_lost[:examples]:
        lines.append(f"    - {provider} {year}")
    if what.changes:
        lines.append(f"  the first {min(examples, len(what.changes))} vehicles that change:")
    for change in what.changes[:examples]:
        parts = []
        if change.judgment:
            parts.append(f"{change.judgment[0]} -> {change.judgment[1]}")
        if change.ok_label:
            parts.append("OK label " + ("granted" if change.ok_label[1] else "denied"))
        parts += [f"+{k}" for k in change.opened] + [f"-{k}" for k in change.closed]
        lines.append(f"    {change.vin}: " + "; ".join(parts))
    return "\n".join(lines)
