"""The decoded vehicle states a worker wrote last (see :class:`StateCache`)."""

from __future__ import annotations

from collections import OrderedDict

from streams.domain.state import VehicleState


class StateCache:
    """The decoded states a worker wrote last, so that the next event of a VIN skips ``decode_state``.

    Keyed by ``(partition, VIN)``, each entry holds the state *and the bytes it was stored as*; a lookup
    must bring the bytes the store holds now, and an entry whose bytes differ (another worker wrote the
    VIN since, a restore from the changelog) is dropped and the stored bytes are decoded. So the cache can
    never make the worker judge with a state other than the stored one: encoding is deterministic and
    ``decode_state(encode_state(s)) == s`` (tested), and a hit is exactly what decoding would give.

    It pays where a VIN's events follow each other while the entry is still held: history imports (RDW,
    manufacturers), connected vehicles, a garage's repeat submissions, replays of a small fleet. In a
    national live stream a VIN's readings are months apart and most lookups of a small cache miss;
    ``carpass_state_cache_lookups_total{result}`` tells which case a worker is in. Least recently used
    entries go first once ``capacity`` is reached (0 disables the cache).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, capacity)
        self._entries: OrderedDict[tuple[int, str], tuple[bytes, VehicleState]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, partition: int, vin: str, stored: bytes) -> VehicleState | None:
        key = (partition, vin)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] != stored:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, partition: int, vin: str, stored: bytes, state: VehicleState) -> None:
        if not self.capacity:
            return
        key = (partition, vin)
        entries = self._entries
        entries[key] = (stored, state)
        entries.move_to_end(key)
        while len(entries) > self.capacity:
            entries.popitem(last=False)
