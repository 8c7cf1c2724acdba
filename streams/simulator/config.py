"""The calibration of the fleet simulator, in one frozen value: every rate, with where it comes from.

``(src)`` marks a figure the registries published (public Car-Pass / RDW reports); ``(model)`` marks an
assumption of this simulator where no public figure exists, chosen to be plausible and stated here so that it
can be argued with. Rates are probabilities per event of the population named (per reading, per sale, per
vehicle-year). The ``fault_rate_multiplier`` scales every *fault* rate (and the shares of the rare vehicle
traits that faults need: 5-digit and miles counters), so that a demo of 20,000 vehicles shows enough cases;
a scaled probability never exceeds ``MAX_SCALED_P``.

Volumes the defaults reproduce (measured by ``tests/unit/streams/simulator``, reported by
``carpass simulate``): about 3.2 readings per vehicle-year in 2024 (src: 21.9 M readings / ~6.9 M cars and
vans), of which about 20 % from connected vehicles (src: 4.3 M of 21.9 M in 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MAX_SCALED_P = 0.25
"""No scaled fault probability goes above this: beyond it histories become mostly noise."""


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Rates of the simulated Belgian fleet and of the faults injected into its readings."""

    # --- fleet --------------------------------------------------------------------------------------------
    median_km_per_year: float = 13_500.0
    """Lognormal median of a car's yearly distance; with ``sigma_km_per_year`` the mean is ~15,000 km
    (src: Belgian average ~15,000 km, TrendPolicy.typical_km_per_year)."""
    sigma_km_per_year: float = 0.45
    high_mileage_share: float = 0.04
    """Taxis, delivery vans and company cars at 40,000-60,000 km a year (model)."""
    van_share: float = 0.12
    """Light commercial vehicles (N1) among Car-Pass vehicles (src-derived: ~0.8 M of ~6.9 M)."""
    import_share: float = 0.10
    """Vehicles imported second-hand (model; NL, DE and FR are the main sources)."""
    miles_share_of_imports: float = 0.05
    """GB and US imports whose dashboard counts miles (model); scaled with the faults."""
    five_digit_share_before_2010: float = 0.02
    """Vehicles first registered before 2010 with a 5-digit odometer (model, R7); scaled with the faults."""
    sales_per_year: float = 0.12
    """Used-vehicle sales per vehicle-year (src-derived: ~850,000 certificates / ~6.9 M vehicles)."""
    export_share_of_sales: float = 0.05
    """Sales that export the vehicle (DEREGISTRATION; model)."""
    sale_inspection_share: float = 0.9
    """Sales with an inspection before re-registration (model: required for most used-car sales)."""
    dealer_reading_share_of_sales: float = 0.3
    seasonal_tyre_share: float = 0.15
    """Owners who swap summer/winter tyres twice a year (model)."""
    tyre_interval_km: float = 45_000.0
    service_interval_km: float = 25_000.0
    repairs_per_year: float = 0.2
    body_repairs_per_year: float = 0.1
    recalls_per_year: float = 0.05
    recall_completed_share: float = 0.75
    recall_withdrawn_share: float = 0.05
    accidents_per_year: float = 0.004
    """Accidents that need a post-accident inspection (model: ~0.4 % of vehicles a year)."""
    total_loss_share: float = 0.1
    plate_changes_per_year: float = 0.01
    plate_reuse_share: float = 0.5
    """A (re-)registration takes a plate its owner released before (Belgian plates follow the owner)."""
    plate_reading_share: float = 0.15
    """Workshop readings sent with the plate instead of the VIN since 2023-07-01 (model, R1)."""
    plate_readings_from: date = date(2023, 7, 1)
    delivery_reading_share: float = 0.4
    """New cars whose dealer sends a reading at delivery (model)."""
    connected_share_2017: float = 0.2
    """Cars first registered 2017-2019 whose manufacturer sends connected readings once its feed runs."""
    connected_share_2020: float = 0.33
    """The same for cars first registered since 2020 (calibrated on src: 1.7 M / 2.8 M / 4.3 M connected
    readings in 2022 / 2023 / 2024)."""
    connected_per_year: int = 4
    """Connected-vehicle readings a year (src: "at least 4 a year")."""
    lifetime_min_years: float = 12.0
    lifetime_mean_extra_years: float = 6.0
    """Scrapping: a car lives ``min + Exp(mean extra)`` years (model; Belgian scrapping age ~15-18)."""

    # --- faults (scaled by fault_rate_multiplier) ---------------------------------------------------------
    rollback_per_domestic_sale: float = 0.0009
    """(src) 0.09 % of domestic sales are rolled back."""
    rollback_per_import: float = 0.009
    """(src) 0.9 % of imports are rolled back (abroad, before the first Belgian reading)."""
    rollback_min_counter_km: float = 120_000.0
    """Fraud pays on high-mileage cars, and an average rollback of ~100,000 km (src) needs a counter well
    above it: only cars over this are rolled back (model)."""
    rollback_eligible_sale_share: float = 0.34
    rollback_eligible_import_share: float = 0.14
    """Shares of sales / imports of cars over ``rollback_min_counter_km`` in the simulated fleet (measured);
    the rates above are divided by them, so that the rollbacks per sale and per import stay the sources'."""
    rollback_median_km: float = 95_000.0
    rollback_sigma: float = 0.55
    """Lognormal rollback size (mean ~110,000 km before the caps at 85 % of the counter and 450,000 km;
    ~100,000 km after them, src: "average rollback about 100,000 km")."""
    good_provider_typo_rate: float = 0.0008
    average_provider_typo_rate: float = 0.003
    sloppy_provider_typo_rate: float = 0.015
    average_provider_share: float = 0.12
    sloppy_provider_share: float = 0.03
    """Per-reading keying-error rates of workshops (model, calibrated so that ~2 % of vehicles get an
    illogical series over a decade, like RDW's 2018 clean-up (src), and most providers stay under R10's
    0.5 % Trusted Provider bar (src))."""
    inspection_typo_rate: float = 0.0002
    """Inspection bodies key values too, with a procedure (model)."""
    duplicate_rate: float = 0.005
    """Same-day resubmission of the same value (model; R17 DMS check "the same data already sent today")."""
    conflicting_duplicate_rate: float = 0.001
    """Same-day resubmission with another value (model); half the time the first value was the wrong one."""
    late_rate: float = 0.01
    """Workshop and inspection readings sent 14-60 days after the work (model; R2)."""
    replacement_per_year: float = 0.001
    """Odometer (instrument cluster) replacements per vehicle-year (model, R6)."""
    unflagged_replacement_share: float = 0.1
    """Replacements sent without the R6 tick box: indistinguishable from a rollback (model)."""
    miles_as_km_rate: float = 0.1
    """Workshop readings of a miles dashboard typed as km (model)."""
    feed_zero_rate: float = 0.002
    feed_stale_rate: float = 0.003
    """Connected-vehicle readings of 0 or repeating the previous value (model; domain error patterns)."""
    malformed_rate: float = 0.0002
    """Readings that also arrive as an undecodable message (Kafka mode only; model)."""

    fault_rate_multiplier: float = 1.0

    def fault_p(self, rate: float) -> float:
        """``rate`` scaled by ``fault_rate_multiplier``, capped at ``MAX_SCALED_P``."""
        return min(MAX_SCALED_P, rate * self.fault_rate_multiplier)

    def trait_share(self, share: float) -> float:
        """A rare vehicle trait's share scaled like the faults that need it (capped at 30 %)."""
        return min(0.3, share * self.fault_rate_multiplier)


KEYING_CAUSE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("MISTYPED_DIGIT", 0.35),
    ("SWAPPED_DIGITS", 0.30),
    ("EXTRA_DIGIT", 0.175),
    ("MISSING_DIGIT", 0.175),
)
"""Mix of keying errors (model; Car-Pass: "errors are typically swapped or mistyped digits", then a
factor of 10). Miles typed as km is drawn separately, on miles dashboards only."""
