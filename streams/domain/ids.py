"""Derived identifiers of the judgment core: ``uuid5`` of their inputs, so a replay gives the same ids.

* ``error_number(event_id, code)``: the unique, stable number of one issue on one receipt (R4), quoted by a
  correction (R5). ``"E"`` + 12 upper-case hex digits (48 bits) of ``uuid5(NAMESPACE, "<event_id>|<code>")``.
* ``anomaly_id(vin, kind, blamed_event_id)``: stable across re-emissions of the same anomaly, so that a
  later ``AnomalyEvent`` with the same id supersedes the earlier one (contracts: ``odometer.anomalies``).
"""

from __future__ import annotations

import uuid

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://www.car-pass.be/carpass-streams")
"""Namespace of every id derived by the core. Changing it renumbers every receipt: never change it."""


def error_number(event_id: str, code: str) -> str:
    """The error number of issue ``code`` on the receipt of submission ``event_id`` (R4)."""
    return "E" + uuid.uuid5(NAMESPACE, f"{event_id}|{code}").hex[:12].upper()


def anomaly_id(vin: str, kind: str, blamed_event_id: str | None) -> str:
    """The stable id of the anomaly of ``kind`` blamed on ``blamed_event_id`` in ``vin``'s history."""
    return str(uuid.uuid5(NAMESPACE, f"{vin}|{kind}|{blamed_event_id or ''}"))
