"""The calibrated thresholds of the judgment core, in one frozen value passed down to every rule.

Nothing in the core has a threshold of its own: a replay with the same ``Policy`` gives the same outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from schemas.records import Origin, ProviderKind
from streams.domain.calendar import MS_PER_HOUR
from streams.domain.points import TrendPolicy

DAY_2019_03_01 = 17_956
"""R2: readings of work done from this day on must be sent at once (earlier: within 5 working days)."""
DAY_2024_01_01 = 19_723
"""R1: workshop readings of work done from this day on must describe the work."""


ORIGINS_OF_KIND: Mapping[ProviderKind, frozenset[Origin]] = {
    ProviderKind.GARAGE: frozenset({Origin.WORKSHOP}),
    ProviderKind.BODY_SHOP: frozenset({Origin.WORKSHOP}),
    ProviderKind.TYRE_CENTRE: frozenset({Origin.WORKSHOP}),
    ProviderKind.FAST_FIT: frozenset({Origin.WORKSHOP}),
    ProviderKind.DEALER: frozenset({Origin.WORKSHOP}),
    ProviderKind.INSPECTION_BODY: frozenset({Origin.INSPECTION}),
    ProviderKind.MANUFACTURER: frozenset({Origin.CONNECTED_VEHICLE, Origin.FOREIGN_HISTORY}),
    ProviderKind.IMPORTER: frozenset({Origin.FOREIGN_HISTORY}),
    ProviderKind.RDW: frozenset({Origin.FOREIGN_HISTORY}),
    ProviderKind.OTHER: frozenset({Origin.MANUAL}),
}
"""The origins a provider of each kind sends readings from, unless its registration says otherwise: a
workshop reads in its workshop, an inspection body at inspection, a manufacturer from its connected cars or
the vehicle's history before import, the RDW and importers from foreign histories. The origin and the kind
set a reading's weight (``SourceWeights``), so a sender may not choose them: the gateway takes both from the
API key's registered provider (``streams.http.auth``)."""


@dataclass(frozen=True, slots=True)
class SourceWeights:
    """Reliability of a reading by its source, for the trend engine (``Point.weight``; CARFAX weighting).

    Inspection bodies read every car with a procedure and no commercial interest (R1 "high-trust source");
    connected vehicles report the car's own counter without typing; foreign histories (RDW, manufacturers)
    are curated but second-hand; workshops type the value by hand; manual entries are the least checked.
    """

    inspection: float = 3.0
    """``origin`` INSPECTION or ``provider_kind`` INSPECTION_BODY."""
    connected_vehicle: float = 2.0
    foreign_history: float = 1.5
    """``origin`` FOREIGN_HISTORY or ``provider_kind`` RDW."""
    workshop: float = 1.0
    manual: float = 0.5
    by_source: Mapping[Origin, Mapping[ProviderKind, float]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """``rule(origin, kind)`` for every source, computed once: the hot path looks weights up."""

    def __post_init__(self) -> None:
        table = {origin: {kind: self.rule(origin, kind) for kind in ProviderKind} for origin in Origin}
        object.__setattr__(self, "by_source", table)

    def rule(self, origin: Origin, provider_kind: ProviderKind) -> float:
        """The weight of a reading's source: the highest that applies."""
        if origin is Origin.INSPECTION or provider_kind is ProviderKind.INSPECTION_BODY:
            return self.inspection
        if origin is Origin.CONNECTED_VEHICLE:
            return self.connected_vehicle
        if origin is Origin.FOREIGN_HISTORY or provider_kind is ProviderKind.RDW:
            return self.foreign_history
        if origin is Origin.WORKSHOP:
            return self.workshop
        return self.manual


@dataclass(frozen=True, slots=True)
class ReceiptPolicy:
    """Thresholds of the receipt checks (see ``streams.domain.catalogue`` for the codes)."""

    max_km: int = 2_000_000
    """Above any car's life (the highest known passenger-car mileages are about 1.5 to 4.8 million km,
    all outliers); a larger value is a typing error, never evidence."""
    five_digit_limit: int = 100_000
    """A 5-digit counter cannot show this value or more (R7)."""
    future_tolerance_ms: int = 2 * MS_PER_HOUR
    """A reading may look up to 2 h younger than its submission: Brussels is UTC+1/+2, and a DMS that
    writes local time as UTC must not be rejected for it."""
    late_working_days_before_2019: int = 5
    """R2 before 2019-03-01: within 5 working days after the day of the work."""
    late_working_days_since_2019: int = 1
    """R2 since 2019-03-01: "at once, while the vehicle is still in the workshop". A car stays in the
    workshop the day of the work and is often collected the next working day; DMS upload queues run
    overnight. One working day of tolerance flags back-dated entries without flagging those."""
    immediate_from_day: int = DAY_2019_03_01
    work_description_from_day: int = DAY_2024_01_01


@dataclass(frozen=True, slots=True)
class VehicleBounds:
    """What one VIN's state may hold, and how much of it one judgment reads: every collection a provider
    can grow has a cap with a stated pruning policy, so that one VIN's stored state stays far below Kafka's
    1 MB record limit and one event's judgment costs a few milliseconds at most, whatever a sender does.

    The defaults are far above a real vehicle's history (15 readings on average; connected cars report at
    least 4 times a year), and are settings of the worker (``CARPASS_VIN_*``). The largest state they allow,
    every field at its longest, encodes to about 0.6 MB, under Kafka's 1 MB record limit (a test says so)."""

    readings: int = 1_000
    """Accepted readings of one VIN. A further reading is REJECTED with HISTORY_FULL (kept aside like any
    rejected reading): the vehicle's history is frozen until staff look at it; nothing is dropped."""
    rejected: int = 100
    """Rejected readings kept aside for a correction (R5); beyond it the oldest received goes, and its
    error numbers can no longer be corrected (CORRECTION_UNKNOWN_ERROR_NUMBER)."""
    done_ids: int = 256
    """Ids of processed submissions not found in the history (duplicates, corrections, withdrawn and
    re-dated readings) remembered so that a redelivery changes nothing; beyond it the oldest received is
    forgotten. A redelivery comes within a batch or two of the original (inputs are committed once
    stored), far within 256 submissions for one VIN."""
    error_numbers: int = 8
    """Error numbers one reading keeps (each correction by form may add its own); the newest are kept."""
    recalls: int = 100
    """Recall campaigns of one VIN; beyond it the campaign changed longest ago goes, closed ones first."""
    trend_window: int = 128
    """Readings of one counter segment the trend engine reads at once (its programme is O(n²) in them): a
    change is judged in the window of this many readings around it; anomalies blamed on readings outside
    the window stay as they were. Segments this long or shorter are judged whole, as before. At 128 a
    break costs about 2 ms (``benchmarks/bench_trend.py``)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the core is calibrated with."""

    trend: TrendPolicy = field(default_factory=TrendPolicy)
    weights: SourceWeights = field(default_factory=SourceWeights)
    receipts: ReceiptPolicy = field(default_factory=ReceiptPolicy)
    bounds: VehicleBounds = field(default_factory=VehicleBounds)
    fast_path: bool = True
    """Skip the trend engine for a reading appended consistently after a clean history.
    Off only in tests that prove the fast path gives the same result as a full re-evaluation."""


DEFAULT_POLICY = Policy()


class PolicyError(ValueError):
    """A policy override names no setting of the policy, or gives it a value of the wrong type."""


_SECTIONS = ("trend", "weights", "receipts", "bounds")


def policy_with(base: Policy, overrides: Mapping[str, object]) -> Policy:
    """``base`` with some thresholds changed, for a what-if replay: ``{"trend": {"tolerance_km": 200},
    "weights": {"workshop": 0.8}}``. Every section and name must exist and every value must have the type
    of the one it replaces (an int for an int; an int or a float for a float): :class:`PolicyError` says
    which does not."""
    from dataclasses import fields, replace

    changes: dict[str, object] = {}
    for section, values in overrides.items():
        if section not in _SECTIONS:
            known = ", ".join(_SECTIONS)
            raise PolicyError(f"{section!r} is not a section of the policy (sections: {known})")
        if not isinstance(values, Mapping):
            raise PolicyError(f"{section}: a mapping of names to values is expected, not {values!r}")
        current = getattr(base, section)
        settable = {f.name for f in fields(current) if f.init}
        for name, value in values.items():
            if name not in settable:
                known = ", ".join(sorted(settable))
                raise PolicyError(f"{section}.{name} is not a setting of the policy ({section}: {known})")
            old = getattr(current, name)
            allowed = (int, float) if isinstance(old, float) else (type(old),)
            if isinstance(value, bool) != isinstance(old, bool) or not isinstance(value, allowed):
                raise PolicyError(f"{section}.{name}: {value!r} is not of type {type(old).__name__}")
        changes[section] = replace(current, **{k: (float(v) if isinstance(getattr(current, k), float) else v)
                                               for k, v in values.items()})  # type: ignore[arg-type]
    return replace(base, **changes)  # type: ignore[arg-type]
