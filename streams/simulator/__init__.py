"""A realistic, deterministic Belgian fleet for demos, load tests and detection-quality measurements.

::

    simulate(vehicles, seed, …) ──► records in arrival order (JSON Lines or Avro on Kafka: carpass simulate)
                                └─► GroundTruth: every injected fault and the reading it concerns (truth.py)
    judge(resolve_plates(records)) ──► AnomalyEvents ─┐
    naive_flags(records) ─────────────────────────────┼─► score(…, truth) ──► QualityReport (score.py)

Layout: ``config`` (calibrated rates and their sources), ``makes`` (vehicles, VINs, plates),
``providers`` (who sends readings), ``world`` (run state), ``agenda`` (actions and intervals), ``life``
(a vehicle's everyday actions), ``ownership`` (entering, sales, rollbacks, replacements, leaving),
``readings`` (one reading and its faults), ``resending`` (duplicates, malformed copies), ``faults`` (keying
errors, malformed bytes), ``fleet`` (``simulate``), ``truth``, ``plates`` (plate readings to VIN readings
for offline judging), ``naive``, ``score``, ``report``, ``evaluate``.
"""

from streams.simulator.fleet import Simulation, SimulatorError, simulate
from streams.simulator.truth import Cause, Fault, FaultKind, GroundTruth
from streams.simulator.world import MalformedRecord, SimRecord

__all__ = [
    "Cause",
    "Fault",
    "FaultKind",
    "GroundTruth",
    "MalformedRecord",
    "SimRecord",
    "Simulation",
    "SimulatorError",
    "simulate",
]
