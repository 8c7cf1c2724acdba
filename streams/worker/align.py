"""Event-time order across the co-partitioned topics of one agent, the way Kafka Streams synchronises a
task's partitions (``max.task.idle.ms``).

A VIN's events come on six topics (readings, registrations, corrections, ...), each read at its own pace:
a fetch may bring a VIN's readings before its registration, although the registration was sent first, and
the reading is then judged UNKNOWN_VEHICLE. Which one comes first depended on the consumer's fetches, so two
runs of the same demo gave different receipts (30,356 and 0 UNKNOWN_VEHICLE). Here the records of one
partition number are released in timestamp order across its topics, and only while every topic of that
partition is either waiting in the queue or known to have nothing more to read::

    fetch ──add──► a queue per (topic, partition)          partition p of topic t is *lagging* when its queue
                      │                                   is empty and the broker holds records not read yet
                      ▼                                   (the consumer's high watermark is beyond them)
    release: while no queue of p is lagging, the record with the smallest (timestamp, topic rank) goes;
             a lagging queue holds p back, for ``max_wait_s`` at most (then p goes on with what it has)

Ties in timestamp go by topic rank (registrations before readings: a registration and the first reading of a
car sent in the same millisecond are judged registration first). Pure: no Kafka, no clock (``now`` and the
lag are arguments); :class:`streams.worker.faust.app.AppContext` feeds it and processes what it releases.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol


class Record(Protocol):
    """What is queued: an aiokafka ``ConsumerRecord`` or anything with its coordinates and timestamp."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...


class EventTimeAligner:
    """The held records of one agent. ``topics``: the agent's topics, in tie-break rank (first wins)."""

    def __init__(
        self, topics: Sequence[str], max_wait_s: float, on_wait_expired: Callable[[], object] = lambda: None
    ) -> None:
        self.rank = {topic: i for i, topic in enumerate(topics)}
        self.max_wait_s = max_wait_s
        self.on_wait_expired = on_wait_expired
        self._queues: dict[int, dict[str, deque[Any]]] = {}
        self._blocked_since: dict[int, float] = {}
        self._gone_on: set[int] = set()
        self.received: dict[tuple[str, int], int] = {}
        """(topic, partition) -> the offset after the last record added: how far this worker has read."""
        self.waits_expired = 0
        """Times a partition went on after ``max_wait_s`` with a topic still lagging."""

    def held(self) -> int:
        return sum(len(q) for queues in self._queues.values() for q in queues.values())

    def add(self, records: Iterable[Sequence[Any]]) -> None:
        """Queue the records of one fetch (a list per topic partition, in offset order). A list starting at
        or before what is queued for its partition (the consumer was sought back: a rebalance, a hole)
        replaces the queued records from its first offset on."""
        for fetched in records:
            if not fetched:
                continue
            first = fetched[0]
            queue = self._queues.setdefault(first.partition, {}).setdefault(first.topic, deque())
            while queue and queue[-1].offset >= first.offset:
                queue.pop()
            queue.extend(fetched)
            self.received[(first.topic, first.partition)] = fetched[-1].offset + 1

    def release(
        self, now: float, lagging: Callable[[str, int], bool], assigned: Callable[[str, int], bool]
    ) -> list[Any]:
        """The records that may be processed now, in timestamp order per partition (partitions one after
        the other). ``lagging(topic, partition)``: whether the broker holds records of it beyond
        :attr:`received`; ``assigned(topic, partition)``: whether it is still this worker's (the records of
        a partition that went away are dropped: its new owner reads them from the committed offset)."""
        out: list[Any] = []
        for partition in sorted(self._queues):
            queues = self._queues[partition]
            for topic in [t for t in queues if not assigned(t, partition)]:
                del queues[topic]
                self.received.pop((topic, partition), None)
            out.extend(self._release_partition(partition, queues, now, lagging))
            if not queues:
                del self._queues[partition]
        return out

    def _release_partition(
        self, partition: int, queues: dict[str, deque[Any]], now: float, lagging: Callable[[str, int], bool]
    ) -> list[Any]:
        """Pop the heads of ``queues`` in (timestamp, rank) order while no empty queue of the partition is
        lagging (asked once per topic and call: the lag does not change while records are popped)."""
        rank = self.rank
        lags: dict[str, bool] = {}

        def blocked() -> bool:
            for topic in rank:
                if not queues.get(topic):
                    if topic not in lags:
                        lags[topic] = lagging(topic, partition)
                    if lags[topic]:
                        return True
            return False

        heap = [(q[0].timestamp, rank.get(t, len(rank)), t) for t, q in queues.items() if q]
        heapq.heapify(heap)
        out: list[Any] = []
        waited_out = False
        check = True  # whether a queue became empty since the last look
        while heap:
            if check and not waited_out:
                check = False
                if blocked():
                    since = self._blocked_since.setdefault(partition, now)
                    if now - since < self.max_wait_s:
                        break
                    if partition not in self._gone_on:
                        self._gone_on.add(partition)
                        self.waits_expired += 1
                        self.on_wait_expired()
                    waited_out = True  # goes on with what it has, until no topic of it lags
                else:
                    self._blocked_since.pop(partition, None)
                    self._gone_on.discard(partition)
            _, position, topic = heapq.heappop(heap)
            queue = queues[topic]
            out.append(queue.popleft())
            if queue:
                heapq.heappush(heap, (queue[0].timestamp, position, topic))
            else:
                check = True
        for topic in [t for t, q in queues.items() if not q]:
            del queues[topic]
        return out
