"""Exceptions of the judgment core, under one root.

::

    DomainError             anything the core refuses (a programming error of its caller, never bad data:
    │                       bad data becomes a receipt issue)
    └── WrongVehicleError   an event was decided against the state of another VIN
"""

from __future__ import annotations


class DomainError(Exception):
    """Root of ``streams.domain``'s exceptions."""


class WrongVehicleError(DomainError):
    """``decide`` was given an event whose VIN is not the state's."""
