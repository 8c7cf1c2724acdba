"""Which input offsets the agents have really processed *and stored*: the ceiling of what the worker may
commit.

The worker's data plane hands whole fetches to the batch steps (``streams.worker.faust.patches.
deliver_in_bulk``); Faust acknowledges nothing of them, and the offset committed for an input partition is
the ceiling kept here. Before that, Faust committed the offsets its streams acknowledged and filled "gaps"
(offsets it never delivered) as if acknowledged; two ways that committed an input nobody stored, which the
watermarks still guard against (a fetch can still come past a hole after a rebalance or a seek):

- ``Stream.take_events`` acknowledges a whole batch when the agent's loop leaves it, whether the batch was
  stored or the batch step raised (then Faust restarts the agent on the next events, and the failed batch's
  offsets are committed with them: an oversized record once took the seven good readings of its batch
  with it, silently);
- around a rebalance it can deliver a partition's messages past a hole: messages fetched for the old
  consumer generation are skipped by the stream (neither processed nor acknowledged) while its fetcher
  already counts them as read, and a re-fetch from the committed offset is then dropped as "already read".
  The failover test caught the result: an input never processed, with the group's committed offset past it.

:class:`InputWatermarks` keeps, for one agent and per input partition, two positions: the next offset to
*admit* (advanced only by contiguous offsets, before the batch step runs) and the next offset whose
predecessors are all *stored* (advanced by :meth:`InputWatermarks.stored` once the batch step has put the
batch's outputs and state on Kafka and RocksDB). The worker never commits past the stored one
(``streams.worker.faust.adapters.guard_commits``). On a hole it leaves the messages past it unprocessed (they
cannot be committed, and the re-fetch brings them again, in order) and seeks the partition back to the
missing offset. If the same hole is still there after three seeks, it is taken as real (a transaction
marker, a compacted or deleted range) and skipped, as Faust would, unless a batch failed there
(:meth:`InputWatermarks.failed`): those offsets are never skipped.

:class:`CommitGuard` holds the watermarks of every agent of a worker; a topic read by two agents (the
registrations) is committed only as far as both have stored it. Pure: no Kafka, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Partition = tuple[str, int]
"""``(topic, partition)``; Faust's ``TP`` named tuple compares and hashes equal."""


class InputWatermarks:
    """The worker's input partitions: the next offset to admit (contiguous, whichever agent admits it),
    holes to seek back to."""

    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}
        self._seen: set[Partition] = set()
        self._holes: dict[Partition, int] = {}
        self._sought: dict[Partition, tuple[int, int, float]] = {}
        self._gaps: dict[Partition, int] = {}
        self._pinned: dict[Partition, int] = {}
        self.seeks_before_gap = 3
        """Seeks back to the same hole before it is taken as a real gap ..."""
        self.retry_s = 5.0
        """... each at least this long after the previous one: events fetched before a seek keep coming
        (Faust buffers thousands) and must not pass for the re-fetch."""
        self.holes_found = 0
        """Holes seen (each asks for one seek back)."""
        self.gaps_skipped = 0
        """Holes still there after the seek back, taken as real gaps."""
        self.last_gap: tuple[Partition, int, int] | None = None
        """The last gap taken: (partition, first offset skipped, first offset after it), for the log."""
        self._idle: dict[Partition, tuple[int, int]] = {}

    def reset(self, starts: Mapping[Partition, int | None]) -> None:
        """After an assignment's seek: where each partition's stream resumes (``None``: unknown, the first
        message processed tells). Forgets everything else."""
        self._next = {(tp[0], tp[1]): start for tp, start in starts.items() if start is not None}
        self._seen.clear()
        self._holes.clear()
        self._sought.clear()
        self._gaps.clear()
        self._pinned.clear()
        self._idle.clear()

    def admit(self, tp: Partition, offset: int) -> bool:
        """Whether an agent may process ``offset`` of ``tp`` now (called in offset order per partition and
        agent): yes in order or again (a redelivery, or the second agent of a topic); no past a hole,
        which is then to be sought back to."""
        key = (tp[0], tp[1])
        self._seen.add(key)
        expected = self._next.get(key)
        if expected is None or offset == expected:
            self._next[key] = offset + 1
            return True
        if offset < expected:  # a redelivery, or what another agent of the topic admitted first
            return True
        if self._gaps.get(key) == expected:  # sought back to it often enough: the hole is real
            del self._gaps[key]
            self._sought.pop(key, None)
            self._next[key] = offset + 1
            self.gaps_skipped += 1
            self.last_gap = (key, expected, offset)
            return True
        if key not in self._holes and self._sought.get(key, (-1,))[0] != expected:
            self.holes_found += 1
        self._holes[key] = expected
        return False

    def rewind(self, firsts: Mapping[Partition, int]) -> None:
        """A batch failed for good from ``firsts`` (partition -> offset): admission goes back there (later
        messages wait past a hole), and that hole is never taken as a real gap."""
        for tp, first in firsts.items():
            key = (tp[0], tp[1])
            self._seen.add(key)
            floor = min(first, self._next.get(key, first))
            self._next[key] = floor
            self._pinned[key] = floor

    def stalled(
        self, tp: Partition, highwater: int, position: int | None = None, checks: int = 2
    ) -> int | None:
        """Called periodically with ``tp``'s high watermark (and the consumer's fetch ``position`` when
        known): the offset to seek back to when messages wait past the next offset to process and nothing
        of ``tp`` was processed for ``checks`` calls in a row (the fetcher took them as read and never
        delivered them), else ``None``. Only partitions an agent processed since the assignment are watched
        (table recovery delivers nothing for a while). A position not past the next offset to process means
        the fetcher has not taken them yet (a busy consumer, a backlog on other partitions): not stalled, and
        a seek would only make aiokafka fetch again (and once crashed its fetcher, a race)."""
        key = (tp[0], tp[1])
        expected = self._next.get(key)
        not_taken = position is not None and expected is not None and position <= expected
        if key not in self._seen or expected is None or highwater <= expected or not_taken:
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
        ``seeks_before_gap`` seeks the hole is taken as a real gap instead (never one where a batch
        failed: that one is sought back to every ``retry_s``)."""
        holes, self._holes = self._holes, {}
        due: dict[Partition, int] = {}
        for key, offset in holes.items():
            sought, tries, at = self._sought.get(key, (-1, 0, 0.0))
            if sought != offset:
                self._sought[key] = (offset, 1, now)
                due[key] = offset
            elif now - at < self.retry_s:
                continue  # the seek is under way: what still comes was fetched before it
            elif tries >= self.seeks_before_gap and self._pinned.get(key) != offset:
                self._gaps[key] = offset
            else:
                self._sought[key] = (offset, tries + 1, now)
                due[key] = offset
        return due


class AgentWatermarks:
    """One agent's view: admission through the worker's :class:`InputWatermarks`, and per partition of
    its ``topics`` the next offset whose predecessors it has all stored (its commit ceiling)."""

    def __init__(self, shared: InputWatermarks, topics: Iterable[str] = ()) -> None:
        self.shared = shared
        self.topics = frozenset(topics)
        self._admitted: dict[Partition, int] = {}
        self._stored: dict[Partition, int] = {}

    @property
    def gaps_skipped(self) -> int:
        return self.shared.gaps_skipped

    @property
    def last_gap(self) -> tuple[Partition, int, int] | None:
        return self.shared.last_gap

    @property
    def seeks_before_gap(self) -> int:
        return self.shared.seeks_before_gap

    def reset(self, starts: Mapping[Partition, int | None]) -> None:
        """After an assignment's seek: where each partition of the agent's topics resumes (``None``:
        unknown, the first message admitted tells); that is also the ceiling until a batch is stored, so
        nothing Faust skipped while it recovered is committed."""
        mine = {(tp[0], tp[1]): start for tp, start in starts.items()
                if start is not None and (not self.topics or tp[0] in self.topics)}  # fmt: skip
        self._admitted = dict(mine)
        self._stored = dict(mine)

    def admit(self, tp: Partition, offset: int) -> bool:
        """:meth:`InputWatermarks.admit`, remembering how far this agent has admitted."""
        if not self.shared.admit(tp, offset):
            return False
        key = (tp[0], tp[1])
        self._stored.setdefault(key, offset)
        if offset + 1 > self._admitted.get(key, -1):
            self._admitted[key] = offset + 1
        return True

    def stored(self) -> None:
        """Everything this agent admitted so far is stored: its ceiling moves up to it. The agent calls it
        after each batch step that returned; its batches run one after the other, so what it admitted
        before the call belongs to stored batches."""
        for key, admitted in self._admitted.items():
            if admitted > self._stored.get(key, 0):
                self._stored[key] = admitted

    def failed(self, firsts: Mapping[Partition, int]) -> None:
        """The batch step failed for good; ``firsts``: the first offset of the batch in each partition. The
        batch must be processed again: the ceiling stays at or below it (also when an assignment reset
        the watermarks while the step was being retried), and admission goes back to it."""
        floors: dict[Partition, int] = {}
        for tp, first in firsts.items():
            key = (tp[0], tp[1])
            floor = min(first, self._stored.get(key, first))
            self._stored[key] = self._admitted[key] = floors[key] = floor
        self.shared.rewind(floors)

    def ceiling(self, tp: Partition) -> int | None:
        """The highest offset this agent lets the worker commit for ``tp`` (the next one it has not
        stored), or ``None`` for a partition it does not read or knows nothing of since the assignment."""
        return self._stored.get((tp[0], tp[1]))


class CommitGuard:
    """The worker's :class:`InputWatermarks` and the :class:`AgentWatermarks` of each agent, by name."""

    def __init__(self) -> None:
        self.inputs = InputWatermarks()
        self.agents: dict[str, AgentWatermarks] = {}

    def agent(self, name: str, topics: Iterable[str] = ()) -> AgentWatermarks:
        """The watermarks of agent ``name`` reading ``topics`` (made on first use: before the worker
        starts, so that the first assignment's :meth:`reset` reaches them)."""
        watermarks = self.agents.get(name)
        if watermarks is None:
            watermarks = self.agents[name] = AgentWatermarks(self.inputs, topics)
        return watermarks

    def reset(self, starts: Mapping[Partition, int | None]) -> None:
        self.inputs.reset(starts)
        for watermarks in self.agents.values():
            watermarks.reset(starts)

    def owns(self, topic: str) -> bool:
        """Whether an agent reads ``topic`` (its commits are then this guard's :meth:`ceiling` alone)."""
        return any(topic in watermarks.topics for watermarks in self.agents.values())

    def ceiling(self, tp: Partition) -> int | None:
        """The lowest ceiling of the agents that read ``tp`` (``None``: none knows it)."""
        ceilings = [c for w in self.agents.values() if (c := w.ceiling(tp)) is not None]
        return min(ceilings) if ceilings else None

    def stalled(self, tp: Partition, highwater: int, position: int | None = None) -> int | None:
        """:meth:`InputWatermarks.stalled`."""
        return self.inputs.stalled(tp, highwater, position)

    def take_holes(self, now: float) -> dict[Partition, int]:
        """:meth:`InputWatermarks.take_holes`."""
        return self.inputs.take_holes(now)


class StandbyStalls:
    """Standby changelog partitions the fetcher took past what was applied.

    A standby copy is applied from the fetches of its changelog partition
    (``streams.worker.faust.patches.apply_standby``); a fetch dropped on the way (records fetched while the
    consumer's flow was stopped, or for a partition paused meanwhile) moves the consumer's position past
    records never applied, and nothing fetches them again: Faust seeks only input partitions back to their
    committed offsets, a changelog has none. The standby copy then stays behind for good (a CI run saw one
    33 records behind for 45 s, its lag gauge flat). Called periodically with each standby partition's next
    offset to apply, its high watermark and the consumer's position: the offset to seek back to once the
    position is past the next offset to apply and nothing was applied for ``checks`` calls in a row."""

    def __init__(self, checks: int = 2) -> None:
        self.checks = checks
        self._idle: dict[Partition, tuple[int, int]] = {}

    def check(self, tp: Partition, next_to_apply: int, highwater: int, position: int | None) -> int | None:
        key = (tp[0], tp[1])
        if position is None or position <= next_to_apply or highwater <= next_to_apply:
            self._idle.pop(key, None)
            return None
        last, count = self._idle.get(key, (-1, 0))
        count = count + 1 if last == next_to_apply else 1
        if count >= self.checks:
            self._idle.pop(key, None)
            return next_to_apply
        self._idle[key] = (next_to_apply, count)
        return None

    def forget(self, keep: Iterable[Partition]) -> None:
        """Drop the partitions no longer standby here."""
        kept = {(tp[0], tp[1]) for tp in keep}
        for key in [k for k in self._idle if k not in kept]:
            del self._idle[key]
