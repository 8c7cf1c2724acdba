"""Which input offsets the agents have really processed: the ceiling of what the worker may commit.

Faust commits the offsets its streams acknowledged, and fills "gaps" (offsets it never delivered) as if
acknowledged. Around a rebalance it can deliver a partition's messages past a hole: messages fetched for
the old consumer generation are skipped by the stream (neither processed nor acknowledged) while its
fetcher already counts them as read, and a re-fetch from the committed offset is then dropped as "already
read". The failover test caught the result: an input never processed, with the group's committed offset
past it (and a vehicle judged without its registration).

:class:`InputWatermarks` keeps, per input partition, the next offset the agents must process, advanced only
by contiguous offsets. The worker never commits past it (``streams.faust_adapters.guard_commits``); on a
hole it leaves the messages past it unprocessed (they cannot be committed, and the re-fetch brings them
again, in order) and seeks the partition back once to the missing offset. If the same hole is still there
after that seek, it is taken as real (a transaction marker, a compacted or deleted range) and skipped, as
Faust would. Pure: no Kafka, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping

Partition = tuple[str, int]
"""``(topic, partition)``; Faust's ``TP`` named tuple compares and hashes equal."""


class InputWatermarks:
    """Per input partition: the next offset to process (contiguous), holes to seek back to."""

    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}
        self._seen: set[Partition] = set()
        self._holes: dict[Partition, int] = {}
        self._sought: dict[Partition, tuple[int, int, float]] = {}
        self._gaps: dict[Partition, int] = {}
        self.seeks_before_gap = 3
        """Seeks back to the same hole before it is taken as a real gap ..."""
        self.retry_s = 5.0
        """... each at least this long after the previous one: events fetched before a seek keep coming
        (Faust buffers thousands) and must not pass for the re-fetch."""
        self.holes_found = 0
        """Holes seen (each asks for one seek back)."""
        self.gaps_skipped = 0
        """Holes still there after the seek back, taken as real gaps."""
        self._idle: dict[Partition, tuple[int, int]] = {}

    def reset(self, starts: Mapping[Partition, int | None]) -> None:
        """After an assignment's seek: where each partition's stream resumes (``None``: unknown, the first
        message processed tells). Forgets everything else."""
        self._next = {tp: start for tp, start in starts.items() if start is not None}
        self._seen.clear()
        self._holes.clear()
        self._sought.clear()
        self._gaps.clear()
        self._idle.clear()

    def admit(self, tp: Partition, offset: int) -> bool:
        """Whether an agent may process ``offset`` of ``tp`` now (called in offset order per partition):
        yes in order or again (a redelivery); no past a hole, which is then to be sought back to."""
        key = (tp[0], tp[1])
        self._seen.add(key)
        expected = self._next.get(key)
        if expected is None or offset == expected:
            self._next[key] = offset + 1
            return True
        if offset < expected:  # a redelivery of something already processed
            return True
        if self._gaps.get(key) == expected:  # sought back to it often enough: the hole is real
            del self._gaps[key]
            self._sought.pop(key, None)
            self._next[key] = offset + 1
            self.gaps_skipped += 1
            return True
        if key not in self._holes and self._sought.get(key, (-1,))[0] != expected:
            self.holes_found += 1
        self._holes[key] = expected
        return False

    def stalled(self, tp: Partition, highwater: int, checks: int = 2) -> int | None:
        """Called periodically with ``tp``'s high watermark: the offset to seek back to when messages
        wait past the next offset to process and nothing of ``tp`` was processed for ``checks`` calls in
        a row (the fetcher took them as read and never delivered them), else ``None``. Only partitions an
        agent processed since the assignment are watched (table recovery delivers nothing for a while)."""
        key = (tp[0], tp[1])
        expected = self._next.get(key)
        if key not in self._seen or expected is None or highwater <= expected:
            self._idle.pop(key, None)
            return None
        last, count = self._idle.get(key, (-1, 0))
        count = count + 1 if last == expected else 1
        if count >= checks:
            self._idle.pop(key, None)
            return expected
        self._idle[key] = (expected, count)
        return None

    def take_holes(self, now: float) -> dict[Partition, int]:
        """The partitions to seek back now (``now``: a monotonic clock in seconds), with the offset to seek
        to: a new hole at once, the same hole again only ``retry_s`` after the previous seek, and after
        ``seeks_before_gap`` seeks the hole is taken as a real gap instead."""
        holes, self._holes = self._holes, {}
        due: dict[Partition, int] = {}
        for key, offset in holes.items():
            sought, tries, at = self._sought.get(key, (-1, 0, 0.0))
            if sought != offset:
                self._sought[key] = (offset, 1, now)
                due[key] = offset
            elif now - at < self.retry_s:
                continue  # the seek is under way: what still comes was fetched before it
            elif tries >= self.seeks_before_gap:
                self._gaps[key] = offset
            else:
                self._sought[key] = (offset, tries + 1, now)
                due[key] = offset
        return due

    def ceiling(self, tp: Partition) -> int | None:
        """The highest offset the worker may commit for ``tp`` (the next one to process), or ``None`` when
        no agent processed anything of ``tp`` since the assignment (nothing to guard)."""
        key = (tp[0], tp[1])
        return self._next.get(key) if key in self._seen else None
