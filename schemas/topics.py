"""Every topic name of carpass-streams, in one place: the contract's and the worker's own.

::

    inputs (the event store: infinite retention)   READINGS, PLATE_READINGS, CORRECTIONS, CONFIRMATIONS,
                                                  REGISTRATIONS, RECALLS, ACCIDENT_INSPECTIONS, PROVIDERS
    outputs                                       RECEIPTS, ANOMALIES, DEAD_LETTERS
    views (compacted)                             CERTIFICATES, OK_LABELS, PROVIDER_QUALITY
    records (the registry's acts: kept forever)   CERTIFICATES_ISSUED
    internal (between the worker's agents)        PLATE_INTERVALS, RESOLVED_READINGS, PROVIDER_EVENTS

Names only, without the environment's prefix (``CARPASS_TOPIC_PREFIX``). Which record each contract
topic carries is said by ``schemas.records.INPUT_TOPICS`` / ``OUTPUT_TOPICS`` and
``schemas.views.VIEW_RECORD_TOPICS``; the role, key and broker configuration of each topic, and the
prefixed names a worker uses, by ``streams.kafka.topics``. A new VIN-keyed input is a record (its schema,
its entry in ``INPUT_TOPICS``), a name here, and what the domain does with it.
"""

from __future__ import annotations

# --- inputs: the event store -------------------------------------------------------------------------
READINGS = "odometer.readings"
PLATE_READINGS = "odometer.plate-readings"
CORRECTIONS = "odometer.corrections"
CONFIRMATIONS = "odometer.confirmations"
REGISTRATIONS = "vehicle.registrations"
RECALLS = "vehicle.recalls"
ACCIDENT_INSPECTIONS = "vehicle.accident-inspections"
PROVIDERS = "providers.registry"

# --- outputs -----------------------------------------------------------------------------------------
RECEIPTS = "odometer.receipts"
ANOMALIES = "odometer.anomalies"
DEAD_LETTERS = "dead-letters"

# --- views -------------------------------------------------------------------------------------------
CERTIFICATES = "carpass.certificates"
OK_LABELS = "carpass.ok-labels"
PROVIDER_QUALITY = "providers.quality"

# --- records: the registry's own acts, written by the workers, kept forever ------------------------
CERTIFICATES_ISSUED = "certificates.issued"

# --- internal: the worker's agents talk through these ----------------------------------------------
PLATE_INTERVALS = "carpass.plate-intervals"
"""Registrations re-keyed by plate (the holders of each plate over time), and the plate agent's ticks."""
RESOLVED_READINGS = "carpass.plate-resolved-readings"
"""Plate readings with the VIN that held the plate, keyed by VIN (judged like any reading)."""
PROVIDER_EVENTS = "carpass.provider-events"
"""Each vehicle batch's readings counted per provider, anomalies and provider registrations, keyed by
provider id (provider quality)."""
