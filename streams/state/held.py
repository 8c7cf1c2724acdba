"""The decoded vehicle states a replay holds in memory between batches (see :class:`HeldStates`)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from streams.domain.state import VehicleState


class HeldStates:
    """VIN -> its latest decoded state, held instead of stored after every batch: a replay (``carpass
    replay``) reads a VIN's whole history in one pass, so encoding and storing its state after each of its
    events, as the live worker must, is wasted work; only the last state of each VIN is stored.

    At most ``capacity`` states are held; beyond, the least recently changed ones go (:meth:`overflow`) and
    are stored then (read back from the store, and decoded, if the VIN comes again). Each entry remembers
    the input message of the last event that changed it: the store writes on its behalf (its partition),
    and its Kafka timestamp is the ``as_of`` of the views published for the state, as in the live worker.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._entries: OrderedDict[str, tuple[VehicleState, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, vin: str) -> VehicleState | None:
        entry = self._entries.get(vin)
        return None if entry is None else entry[0]

    def keep(self, vin: str, state: VehicleState, last: Any) -> None:
        """``state`` is ``vin``'s newest, changed by the event of message ``last``."""
        entries = self._entries
        entries[vin] = (state, last)
        entries.move_to_end(vin)

    def overflow(self) -> list[tuple[str, VehicleState, Any]]:
        """Take the least recently changed states beyond the capacity (to be stored now)."""
        entries, out = self._entries, []
        while len(entries) > self.capacity:
            vin, (state, last) = entries.popitem(last=False)
            out.append((vin, state, last))
        return out

    def drain(self) -> list[tuple[str, VehicleState, Any]]:
        """Take every held state, least recently changed first (the end of a replay)."""
        out = [(vin, state, last) for vin, (state, last) in self._entries.items()]
        self._entries.clear()
        return out
