"""Plate resolution (R1): a reading sent with a plate is judged on the VIN that held the plate at
``observed_at``. Plates move between vehicles, and registrations can arrive after the readings.

::

    vehicle.registrations (VIN key) ──► timeline agent ── table registration-plates: VIN -> its plates over
                                          │                time ((effective_at, event_id, plate) entries)
                                          ▼ for each plate whose holding by this VIN changed
    carpass.plate-intervals (plate key): {"vin", "plate", "intervals": [[from, to | null], …]}
                                         and {"tick": 1} clock ticks (the worker's timer, each partition)
    odometer.plate-readings (plate key) ─► plate agent ── table plates: plate -> holders, pending readings,
                                          │                expired ids; key "\\x00pending" per partition:
                                          │                plate -> earliest deadline
                                          ├─► carpass.plate-resolved-readings (VIN key): an OdometerReading,
                                          │   same event_id ──► vehicle agent (judged like any reading)
                                          └─► odometer.receipts: PLATE_NOT_RESOLVED once the wait is over

The holder of plate P at t is, among the VINs whose intervals on P cover t, the one whose interval began
last (a plate handed to a new car ends the previous car's holding even if that car's own re-registration
has not arrived).

Registrations reach this agent one hop later than plate readings (through the timeline agent), and in a
bulk load or a replay that hop can lag minutes behind: a reading resolved on arrival would go to the
plate's previous holder, whose history it then breaks. So a reading is resolved only once the
**registration watermark** has passed its Kafka timestamp: every worker tells every plate partition, twice a
second, how far its timeline agent has come on each registrations partition it owns (``{"tick": 1,
"wm": {"<partition>": ms}}``: the Kafka timestamp of the last registration handled, or the wall clock less
``MARK_MARGIN_MS`` once the partition is caught up); the plate agent keeps the largest mark per
registrations partition (key ``\x00registrations`` per partition) and the watermark is their minimum
over all partitions. Every registration produced before the reading is then known.

A reading still without a holder (or whose watermark never comes: a registrations partition without a
worker) waits ``settings.plate_wait_s`` from its Kafka timestamp, and is then resolved with what is known
or answered PLATE_NOT_RESOLVED; expiry is decided in event time (the largest Kafka timestamp of the
partition's batch), and the timer's ticks are what moves event time on a partition that receives nothing
else. A registration arriving after a reading was resolved does not re-judge it. Unresolved receipts have
``vin = ""`` and the plate as their Kafka key (there is no VIN).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.limits import too_long
from schemas.records import PlateOdometerReading, VehicleRegistration
from streams.domain.catalogue import IssueCode, make_issue
from streams.domain.evaluation import receipt
from streams.domain.intake import iso_instant
from streams.domain.plates import Entry, Interval, add_registration, holder_at, intervals_of, resolved_reading
from streams.kafka.topics import PipelineTopics
from streams.worker.batch import (
    BatchResult,
    Outputs,
    OutputSink,
    RawMessage,
    StateStore,
    dead_letter,
    oversized,
)
from streams.worker.metrics import WorkerMetrics

PENDING_INDEX_KEY = "\x00pending"
"""The reserved key, one per partition of the plates table, of the plates that have waiting readings."""
BOOK_PENDING_BYTES = 512 * 1024
"""The waiting readings of one plate's book, at most (their stored bytes): the book is one table value,
written to the changelog, and must stay well under Kafka's 1 MB record limit."""
MARKS_KEY = "\x00registrations"
"""The reserved key, one per partition of the plates table: registrations partition -> its mark (ms)."""
TICK = b'{"tick":1}'
MARK_MARGIN_MS = 1_500
"""A caught-up registrations partition is marked at the wall clock less this: the high watermark the
consumer knows can be a fetch behind, and producers' clocks a little off."""

def registration_mark(next_offset: int, last_ms: int | None, high: int, now_ms: int) -> int | None:
    """How far a registrations partition has been handled: the wall clock less the margin once everything
    up to the high watermark is (``next_offset`` >= ``high``: an empty partition is at once), else the
    Kafka timestamp of the last registration handled; ``None`` when neither is known yet."""
    if next_offset >= high:
        return now_ms - MARK_MARGIN_MS
    return last_ms


def mark_message(marks: dict[int, int]) -> bytes:
    """The tick carrying registration marks (registrations partition -> ms)."""
    return _dump({"tick": 1, "wm": {str(p): ms for p, ms in sorted(marks.items())}})


def watermark(marks: dict[str, int], partitions: int) -> int:
    """The registration watermark: the lowest mark over all ``partitions`` (0 until each has one)."""
    return min((marks.get(str(p), 0) for p in range(partitions)), default=0)


# --- stored forms (rare, small: JSON) -------------------------------------------------------------------


def _load(data: bytes | None) -> Any:
    return None if data is None else json.loads(data)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class PlateTimelineProcessor:
    """Registrations (VIN key) -> the VIN's plate timeline -> interval messages re-keyed by plate.

    Undecodable registrations are skipped here: the vehicle agent reads the same topic and dead-letters
    them once."""

    def __init__(
        self, *, codec: Codec, topics: PipelineTopics, store: StateStore, sink: OutputSink,
        max_input_bytes: int = 65_536,
    ) -> None:  # fmt: skip
        """``max_input_bytes``: a larger registration is skipped (the vehicle agent dead-letters it)."""
        self.codec, self.topics, self.store, self.sink = codec, topics, store, sink
        self.max_input_bytes = max_input_bytes

    def process(self, batch: Sequence[RawMessage]) -> int:
        """Handle a batch; the number of interval messages sent."""
        timelines: dict[str, tuple[list[Entry], list[Entry], RawMessage]] = {}
        for message in batch:
            if message.value is None or oversized(message, self.max_input_bytes) is not None:
                continue
            try:
                event = self.codec.decode(message.value, VehicleRegistration)
            except DecodeError as exc:
                if exc.transient:
                    raise
                continue
            if message.key != event.vin.encode():
                continue
            if event.vin in timelines:
                before, timeline, _ = timelines[event.vin]
            else:
                stored = _load(self.store.get(event.vin, message)) or []
                before = timeline = [(e[0], e[1], e[2]) for e in stored]
            updated = add_registration(timeline, event)
            timelines[event.vin] = (before, updated if updated is not None else timeline, message)
        sent = 0
        writes = []
        for vin, (before, after, message) in timelines.items():
            if after is before:
                continue
            old, new = intervals_of(before), intervals_of(after)
            for plate in sorted(old.keys() | new.keys()):
                if old.get(plate) != new.get(plate):
                    body = {"vin": vin, "plate": plate, "intervals": new.get(plate, [])}
                    self.sink.send(self.topics.plate_intervals, plate.encode(), _dump(body))
                    sent += 1
            writes.append((vin, after, message))
        self.sink.flush()
        for vin, after, message in writes:
            self.store.put(vin, _dump(after), message)
        self.store.flush()
        return sent


class PlateProcessor:
    """Plate readings and interval messages (plate key) -> resolved readings or, after the wait, a
    PLATE_NOT_RESOLVED receipt."""

    def __init__(
        self, *, codec: Codec, topics: PipelineTopics, store: StateStore, sink: OutputSink,
        metrics: WorkerMetrics, wait_ms: int, registration_partitions: int = 0, max_input_bytes: int = 65_536,
        pending_max: int = 100, answered_ids_max: int = 1_000, pending_plates_max: int = 10_000,
    ) -> None:  # fmt: skip
        """``registration_partitions``: the partition count of the registrations topic, whose marks make
        the watermark a reading waits for; 0 resolves readings as soon as their plate has a holder.
        ``max_input_bytes``: a larger plate reading (key and value) is a dead letter, not decoded.
        ``pending_max``: readings one plate may have waiting; beyond it (or beyond ``BOOK_PENDING_BYTES``
        of waiting readings) the oldest is answered at once, resolved with what is known or
        PLATE_NOT_RESOLVED. ``answered_ids_max``: the ids of answered readings one plate remembers to
        answer a redelivery once (the newest kept). ``pending_plates_max``: plates of one partition with
        readings waiting (its index is one stored value); beyond it, the plates waiting longest have
        their readings answered at once."""
        self.codec, self.topics, self.store, self.metrics = codec, topics, store, metrics
        self.max_input_bytes = max_input_bytes
        self.pending_max = max(1, pending_max)
        self.answered_ids_max = max(1, answered_ids_max)
        self.pending_plates_max = max(1, pending_plates_max)
        self.wait_ms = wait_ms
        self.registration_partitions = registration_partitions
        self.outputs = Outputs(codec, topics, sink, metrics)
        self._pending_counts: dict[int, int] = {}
        self._marks: dict[int, dict[str, int]] = {}

    def process(self, batch: Sequence[RawMessage]) -> BatchResult:
        result = BatchResult()
        self.outputs.begin()
        books: dict[tuple[int, str], dict[str, Any]] = {}
        changed: dict[tuple[int, str], RawMessage] = {}
        now: dict[int, RawMessage] = {}
        self._marks = {}
        advanced: set[int] = set()
        for message in batch:
            latest = now.get(message.partition)
            if latest is None or message.timestamp_ms >= latest.timestamp_ms:
                now[message.partition] = message
            if message.topic == self.topics.plate_readings:
                self._reading(message, books, changed, result)
            elif message.value is not None and message.value.startswith(b'{"tick":'):
                if self._tick(message):
                    advanced.add(message.partition)
            else:
                self._intervals(message, books, changed, result)
        indexes = self._expire(now, books, changed, advanced, result)
        self.outputs.flush()
        for (_, plate), message in changed.items():
            self.store.put(plate, _dump(books[(message.partition, plate)]), message)
        for partition, index in indexes.items():
            self.store.put(PENDING_INDEX_KEY, _dump(index), now[partition])
            self._pending_counts[partition] = len(index)
        for partition in advanced:
            self.store.put(MARKS_KEY, _dump(self._marks[partition]), now[partition])
        self.store.flush()
        self.outputs.stored()
        self.metrics.plates_pending.set(sum(self._pending_counts.values()))
        return result

    # --- the registration watermark -----------------------------------------------------------------

    def _partition_marks(self, message: RawMessage) -> dict[str, int]:
        if message.partition not in self._marks:
            self._marks[message.partition] = _load(self.store.get(MARKS_KEY, message)) or {}
        return self._marks[message.partition]

    def _tick(self, message: RawMessage) -> bool:
        """Take a tick's marks; whether any mark moved forward."""
        try:
            body = json.loads(message.value or b"")
            offered = {str(int(p)): int(ms) for p, ms in (body.get("wm") or {}).items()}
        except (ValueError, TypeError, AttributeError):
            return False
        marks = self._partition_marks(message)
        moved = False
        for partition, ms in offered.items():
            if ms > marks.get(partition, -1):
                marks[partition] = ms
                moved = True
        return moved

    def _released(self, message: RawMessage, at_ms: int) -> bool:
        """Whether every registration produced up to ``at_ms`` is known on ``message``'s partition."""
        if self.registration_partitions <= 0:
            return True
        return watermark(self._partition_marks(message), self.registration_partitions) >= at_ms

    def _book(self, plate: str, message: RawMessage, books: dict[tuple[int, str], dict[str, Any]]) -> Any:
        key = (message.partition, plate)
        if key not in books:
            empty: dict[str, Any] = {"holders": {}, "pending": [], "expired": []}
            books[key] = _load(self.store.get(plate, message)) or empty
        return books[key]

    def _reading(self, message: RawMessage, books: Any, changed: Any, result: BatchResult) -> None:
        if message.value is None:
            letter = dead_letter(message, "null value (tombstone): not an event", "null-value")
            self.outputs.dead(result, letter)
            return
        too_big = oversized(message, self.max_input_bytes)
        if too_big is not None:
            self.outputs.dead(result, too_big)
            return
        try:
            reading = self.codec.decode(message.value, PlateOdometerReading)
        except DecodeError as exc:
            if exc.transient:  # the registry is down: the batch is tried again, never dead-lettered
                raise
            self.outputs.dead(result, dead_letter(message, str(exc), exc.problem.value))
            return
        if message.key != reading.plate.encode():
            problem = f"key {message.key!r} is not the record's plate {reading.plate!r}"
            self.outputs.dead(result, dead_letter(message, problem, "key-mismatch"))
            return
        long = too_long(reading)
        if long is not None:
            self.outputs.dead(result, dead_letter(message, long, "field-too-long"))
            return
        self.outputs.event_in(message.topic, reading.origin.value)
        book = self._book(reading.plate, message, books)
        eid = reading.event_id
        if eid in book["expired"] or any(item["event_id"] == eid for item in book["pending"]):
            return
        vin = holder_at(_holders(book), reading.observed_at)
        if vin is not None and self._released(message, message.timestamp_ms):
            self._resolve(reading, vin, result, message)
            return
        deadline = message.timestamp_ms + self.wait_ms
        value = base64.b64encode(message.value).decode()
        item = {"event_id": eid, "deadline": deadline, "value": value, "at": message.timestamp_ms}
        book["pending"].append(item)
        self._bound(book, result, message.timestamp_ms)
        changed[(message.partition, reading.plate)] = message

    def _bound(self, book: Any, result: BatchResult, now_ms: int) -> None:
        """Keep one plate's book within its bounds: its waiting readings (count and bytes: the book is one
        stored value, under the record limits of Kafka) and the answered ids it remembers. A reading
        pushed out is answered now, with what is known: one plate sent to by many cannot stall the
        plates of its partition."""
        self._push_out(book, result, now_ms, self.pending_max)

    def _push_out(self, book: Any, result: BatchResult, now_ms: int, keep: int) -> None:
        """Answer the oldest waiting readings of ``book`` now until ``keep`` (and 512 KiB) are left."""
        pending = book["pending"]
        size = sum(len(item["value"]) for item in pending)
        while len(pending) > keep or (size > BOOK_PENDING_BYTES and len(pending) > 1):
            oldest = pending.pop(0)
            size -= len(oldest["value"])
            self.metrics.plates_pushed_out.inc()
            reading = self.codec.decode(base64.b64decode(oldest["value"]), PlateOdometerReading)
            holder = holder_at(_holders(book), reading.observed_at)
            if holder is not None:
                self._resolve(reading, holder, result, None)
            else:
                self._unresolved(oldest, result, now_ms)
                book["expired"].append(oldest["event_id"])
        if len(book["expired"]) > self.answered_ids_max:
            del book["expired"][: len(book["expired"]) - self.answered_ids_max]

    def _intervals(self, message: RawMessage, books: Any, changed: Any, result: BatchResult) -> None:
        try:
            body = json.loads(message.value or b"")
            vin, plate, intervals = body["vin"], body["plate"], body["intervals"]
        except (ValueError, KeyError, TypeError) as exc:
            reason = f"not a plate interval message: {exc!r}"
            self.outputs.dead(result, dead_letter(message, reason, "internal"))
            return
        book = self._book(plate, message, books)
        if intervals:
            book["holders"][vin] = intervals
        else:
            book["holders"].pop(vin, None)
        self._settle(book, message, result)
        changed[(message.partition, plate)] = message

    def _settle(self, book: Any, clock: RawMessage, result: BatchResult) -> bool:
        """Resolve the book's waiting readings that have a holder and are past the watermark, and those
        past their deadline (with a holder, else PLATE_NOT_RESOLVED); whether any left the book."""
        waiting = []
        for item in book["pending"]:
            reading = self.codec.decode(base64.b64decode(item["value"]), PlateOdometerReading)
            holder = holder_at(_holders(book), reading.observed_at)
            expired = item["deadline"] <= clock.timestamp_ms
            sent_at = item.get("at", item["deadline"] - self.wait_ms)  # items stored before "at" existed
            if holder is not None and (expired or self._released(clock, sent_at)):
                self._resolve(reading, holder, result, None)
            elif expired:
                self._unresolved(item, result)
                book["expired"].append(item["event_id"])
            else:
                waiting.append(item)
        left = len(waiting) != len(book["pending"])
        book["pending"] = waiting
        return left

    def _resolve(
        self, reading: PlateOdometerReading, vin: str, result: BatchResult, source: RawMessage | None
    ) -> None:
        resolved = resolved_reading(reading, vin)
        self.outputs.record(result, self.topics.resolved_readings, resolved, vin, source)

    def _expire(
        self, now: dict[int, RawMessage], books: Any, changed: dict[tuple[int, str], RawMessage],
        advanced: set[int], result: BatchResult,
    ) -> dict[int, dict[str, int]]:  # fmt: skip
        """Settle the readings whose wait is over or whose watermark came (on plates touched in the batch,
        due, or, where the watermark moved, with a reading older than it); the pending indexes that
        changed."""
        indexes: dict[int, dict[str, int]] = {}
        for partition, clock in now.items():
            index: dict[str, int] = _load(self.store.get(PENDING_INDEX_KEY, clock)) or {}
            touched = {plate for (p, plate) in changed if p == partition}
            due = {plate for plate, deadline in index.items() if deadline <= clock.timestamp_ms}
            if partition in advanced:  # the earliest deadline is the earliest reading's time + the wait
                mark = watermark(self._partition_marks(clock), self.registration_partitions)
                due |= {plate for plate, deadline in index.items() if deadline - self.wait_ms <= mark}
            updated = dict(index)
            for plate in sorted(touched | due):
                book = self._book(plate, clock, books)
                if self._settle(book, clock, result):
                    changed.setdefault((partition, plate), clock)
                keep = book["pending"]
                if keep:
                    updated[plate] = min(item["deadline"] for item in keep)
                else:
                    updated.pop(plate, None)
            if len(updated) > self.pending_plates_max:  # the plates waiting longest are answered now
                excess = len(updated) - self.pending_plates_max
                for plate in sorted(updated, key=lambda p: (updated[p], p))[:excess]:
                    self._push_out(self._book(plate, clock, books), result, clock.timestamp_ms, 0)
                    changed.setdefault((partition, plate), clock)
                    del updated[plate]
            if updated != index:
                indexes[partition] = updated
        return indexes

    def _unresolved(self, item: dict[str, Any], result: BatchResult, at_ms: int | None = None) -> None:
        """The PLATE_NOT_RESOLVED receipt of a waiting reading, processed at its deadline (or ``at_ms``)."""
        reading = self.codec.decode(base64.b64decode(item["value"]), PlateOdometerReading)
        issue = make_issue(
            reading.event_id, IssueCode.PLATE_NOT_RESOLVED,
            plate=reading.plate, observed=iso_instant(reading.observed_at),
        )  # fmt: skip
        processed = item["deadline"] if at_ms is None else at_ms
        answer = receipt(reading.event_id, "", reading.provider_id, (issue,), processed)
        self.outputs.receipt(result, answer, reading.submitted_at, None, key=reading.plate)


def _holders(book: dict[str, Any]) -> dict[str, list[Interval]]:
    return {vin: [(start, end) for start, end in intervals] for vin, intervals in book["holders"].items()}

