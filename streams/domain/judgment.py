"""The judgment of a vehicle's history, after the Dutch RDW/NAP: LOGICAL, ILLOGICAL or NO_JUDGMENT.

* ILLOGICAL: an open trend break (ROLLBACK, SPIKE, DIP, IMPLAUSIBLE_RATE, CONFLICTING_DUPLICATE, R9);
  the reasons are the kinds of the open breaks.
* NO_JUDGMENT, with every reason that applies (like RDW's "geen oordeel"): the odometer was replaced (R6);
  a 5-digit counter (R7); imported second-hand (R8); fewer than two readings.
* LOGICAL otherwise: the readings increase in time (within the tolerances of the trend engine).

Evidence wins over inability: a break found in a history that also has a no-judgment reason is ILLOGICAL
(its reasons then list the break kinds, then the no-judgment reasons). RDW would say "no judgment" for a
replaced or imported car; but 0.9 % of imports are rolled back (Car-Pass's reports), and hiding a found
rollback behind "imported" would help exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.records import Judgment
from streams.domain.history import is_five_digit
from streams.domain.state import VehicleState


class NoJudgmentReason(StrEnum):
    ODOMETER_REPLACED = "ODOMETER_REPLACED"  # R6
    FIVE_DIGIT_COUNTER = "FIVE_DIGIT_COUNTER"  # R7
    IMPORTED_USED = "IMPORTED_USED"  # R8
    TOO_FEW_READINGS = "TOO_FEW_READINGS"


MIN_READINGS = 2
"""A history of one reading cannot increase or decrease."""


@dataclass(frozen=True, slots=True)
class VehicleJudgment:
    judgment: Judgment
    reasons: tuple[str, ...] = ()


def no_judgment_reasons(state: VehicleState) -> tuple[NoJudgmentReason, ...]:
    """Every reason (in declaration order) why the history cannot be judged on its own."""
    registered_five = state.five_digit_registered
    reasons: list[NoJudgmentReason] = []
    if any(r.odometer_replaced for r in state.readings):
        reasons.append(NoJudgmentReason.ODOMETER_REPLACED)
    if registered_five or any(is_five_digit(r, registered_five) for r in state.readings):
        reasons.append(NoJudgmentReason.FIVE_DIGIT_COUNTER)
    if state.registration is not None and state.registration.imported_second_hand:
        reasons.append(NoJudgmentReason.IMPORTED_USED)
    if len(state.readings) < MIN_READINGS:
        reasons.append(NoJudgmentReason.TOO_FEW_READINGS)
    return tuple(reasons)


def judge_state(state: VehicleState) -> VehicleJudgment:
    """The judgment of ``state``'s history with its reasons (stable codes, not prose)."""
    breaks = sorted({a.kind.value for a in state.anomalies if not a.is_marker})
    others = tuple(reason.value for reason in no_judgment_reasons(state))
    if breaks:
        return VehicleJudgment(Judgment.ILLOGICAL, (*breaks, *others))
    if others:
        return VehicleJudgment(Judgment.NO_JUDGMENT, others)
    return VehicleJudgment(Judgment.LOGICAL)
