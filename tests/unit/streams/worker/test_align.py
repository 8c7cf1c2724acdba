"""Event-time order across a VIN's topics (``streams.worker.align``): what is held, what goes, and when."""

from __future__ import annotations

from dataclasses import dataclass

from streams.worker.align import EventTimeAligner

REG, READ, CORR = "vehicle.registrations", "odometer.readings", "odometer.corrections"


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: int


def recs(topic: str, partition: int, *stamps: int, first: int = 0) -> list[Rec]:
    return [Rec(topic, partition, first + i, ts) for i, ts in enumerate(stamps)]


def names(records: list[Rec]) -> list[tuple[str, int]]:
    return [(r.topic, r.offset) for r in records]


def everywhere(topic: str, partition: int) -> bool:
    return True


def nothing_lags(topic: str, partition: int) -> bool:
    return False


def test_a_reading_waits_for_its_registration_still_on_the_broker_then_both_go_in_time_order() -> None:
    aligner = EventTimeAligner([REG, READ, CORR], max_wait_s=2.0)
    aligner.add([recs(READ, 0, 200, 300)])  # the fetch brought the readings first
    lags = {REG: True}

    def lagging(topic: str, partition: int) -> bool:
        return lags.get(topic, False)

    assert aligner.release(0.0, lagging, everywhere) == [] and aligner.held() == 2
    aligner.add([recs(REG, 0, 100)])  # the registration, sent before them
    lags[REG] = False
    assert names(aligner.release(0.5, lagging, everywhere)) == [(REG, 0), (READ, 0), (READ, 1)]
    assert aligner.held() == 0 and aligner.waits_expired == 0


def test_records_go_at_once_when_no_topic_has_more_to_read() -> None:
    aligner = EventTimeAligner([REG, READ], max_wait_s=2.0)
    aligner.add([recs(READ, 0, 300, 400), recs(REG, 0, 350)])
    assert names(aligner.release(0.0, nothing_lags, everywhere)) == [(READ, 0), (REG, 0), (READ, 1)]


def test_a_topic_that_never_catches_up_holds_its_partition_for_the_wait_at_most() -> None:
    expired: list[int] = []
    aligner = EventTimeAligner([REG, READ], max_wait_s=2.0, on_wait_expired=lambda: expired.append(1))
    aligner.add([recs(READ, 0, 100), recs(READ, 1, 100)])

    def reg_0_lags(topic: str, partition: int) -> bool:
        return (topic, partition) == (REG, 0)

    assert names(aligner.release(0.0, reg_0_lags, everywhere)) == [(READ, 0)]  # partition 1 is free
    assert aligner.release(1.9, reg_0_lags, everywhere) == []
    aligner.add([recs(READ, 0, 150, first=1)])
    assert names(aligner.release(2.0, reg_0_lags, everywhere)) == [(READ, 0), (READ, 1)]
    aligner.add([recs(READ, 0, 160, first=2)])
    assert names(aligner.release(2.1, reg_0_lags, everywhere)) == [(READ, 2)]  # still going on
    assert aligner.waits_expired == 1 and expired == [1]  # one wait, counted (and told) once


def test_on_a_tie_the_first_topic_goes_first_and_a_partition_keeps_its_offset_order() -> None:
    aligner = EventTimeAligner([REG, READ, CORR], max_wait_s=2.0)
    aligner.add([recs(CORR, 0, 100), recs(READ, 0, 100, 90, 500), recs(REG, 0, 100)])
    released = aligner.release(0.0, nothing_lags, everywhere)
    # Kafka timestamps may go back within a partition (producers' clocks): offsets keep their order.
    assert names(released) == [(REG, 0), (READ, 0), (READ, 1), (CORR, 0), (READ, 2)]


def test_a_fetch_after_a_seek_back_replaces_what_was_held_and_a_partition_gone_is_dropped() -> None:
    aligner = EventTimeAligner([REG, READ], max_wait_s=2.0)
    aligner.add([recs(READ, 0, 100, 200, 300), recs(READ, 1, 100)])

    def reg_lags(topic: str, partition: int) -> bool:
        return topic == REG

    assert aligner.release(0.0, reg_lags, everywhere) == []
    aligner.add([recs(READ, 0, 200, 300, 400, first=1)])  # sought back to offset 1 (a rebalance)
    assert aligner.held() == 5 and aligner.received[(READ, 0)] == 4

    def only_partition_0(topic: str, partition: int) -> bool:
        return partition == 0

    aligner.add([recs(REG, 0, 50)])
    released = aligner.release(0.1, nothing_lags, only_partition_0)
    assert names(released) == [(REG, 0), (READ, 0), (READ, 1), (READ, 2), (READ, 3)]
    assert aligner.held() == 0 and (READ, 1) not in aligner.received
