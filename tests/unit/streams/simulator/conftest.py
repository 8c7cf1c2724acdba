"""Shared simulations for the simulator tests: each is generated once per session (they take a second)."""

from __future__ import annotations

import os

import pytest

from streams.simulator.config import FleetConfig
from streams.simulator.evaluate import Evaluation, evaluate
from streams.simulator.fleet import simulate
from streams.simulator.world import SimRecord

E2E_VEHICLES = 500
E2E_MULTIPLIER = 10.0


@pytest.fixture(autouse=True)
def cleared_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CARPASS_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def boosted() -> tuple[list[SimRecord], object]:
    """400 vehicles, faults x20, Kafka mode (malformed messages included): records and the simulation."""
    simulation = simulate(400, 11, fault_rate_multiplier=20.0, malformed=True)
    return list(simulation), simulation


@pytest.fixture(scope="session")
def rollbacks() -> Evaluation:
    """400 vehicles where a quarter of the sales of cars over 120,000 km are rolled back (and 3 % of imports:
    ~20 rollbacks); every other fault at its real rate."""
    config = FleetConfig(rollback_per_domestic_sale=0.08, rollback_per_import=0.03)
    return evaluate(simulate(400, 1, config=config))


@pytest.fixture(scope="session")
def judged() -> Evaluation:
    """500 vehicles with faults x10 (and malformed messages) through the offline judge and the naive rule."""
    return evaluate(simulate(E2E_VEHICLES, 5, fault_rate_multiplier=E2E_MULTIPLIER, malformed=True))
