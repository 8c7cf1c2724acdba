"""The commit guard: the worker never commits an input offset that an agent reading it has not processed
and stored; holes are sought back to, once per partition whichever agent finds them."""

from __future__ import annotations

from streams.worker.offsets import AgentWatermarks, CommitGuard, StandbyStalls

TP = ("t.odometer.readings", 1)
REGISTRATIONS = ("t.vehicle.registrations", 1)


def agent(topics: tuple[str, ...] = (TP[0],)) -> tuple[CommitGuard, AgentWatermarks]:
    guard = CommitGuard()
    return guard, guard.agent("vehicles", topics)


def test_contiguous_processing_moves_the_ceiling_once_stored_and_other_topics_are_not_guarded() -> None:
    guard, w = agent()
    guard.reset({TP: 100, REGISTRATIONS: 7})
    assert guard.ceiling(TP) == 100  # from the assignment: nothing Faust skipped is committed
    assert all(w.admit(TP, offset) for offset in range(100, 105))
    assert guard.ceiling(TP) == 100  # admitted, not yet stored: nothing of it may be committed
    w.stored()
    assert guard.ceiling(TP) == 105 and guard.take_holes(0.0) == {}
    assert w.admit(TP, 103)  # a redelivery changes nothing
    w.stored()
    assert guard.ceiling(TP) == 105
    assert guard.ceiling(REGISTRATIONS) is None  # not the agent's topic


def test_a_hole_holds_the_ceiling_and_asks_for_one_seek_back_that_fills_it() -> None:
    guard, w = agent()
    guard.reset({TP: 100})
    assert w.admit(TP, 100)
    assert not w.admit(TP, 102) and not w.admit(TP, 103)  # 101 was skipped by the stream
    w.stored()
    assert guard.ceiling(TP) == 101
    assert guard.take_holes(0.0) == {TP: 101} and guard.take_holes(0.1) == {}
    assert not w.admit(TP, 104)  # fetched before the seek: still waits, and no second seek yet
    assert guard.take_holes(0.2) == {} and guard.inputs.holes_found == 1
    assert all(w.admit(TP, offset) for offset in (101, 102, 103, 104))  # the re-fetch after the seek
    w.stored()
    assert guard.ceiling(TP) == 105 and w.gaps_skipped == 0


def test_a_hole_still_there_after_the_seek_back_is_a_real_gap() -> None:
    guard, w = agent()
    guard.reset({TP: 100})
    for attempt in range(3):  # 100-101: a transaction marker, say; each re-fetch starts past it again
        assert not w.admit(TP, 102)
        assert guard.take_holes(attempt * 10.0) == {TP: 100} and guard.ceiling(TP) == 100
        assert not w.admit(TP, 102) and guard.take_holes(attempt * 10.0 + 1) == {}  # within retry_s: wait
    assert not w.admit(TP, 102)
    assert guard.take_holes(40.0) == {}  # three seeks did not bring it: a real gap
    assert w.admit(TP, 102)
    assert w.last_gap == (TP, 100, 102)
    assert guard.ceiling(TP) == 100  # 102 itself is not stored yet
    w.stored()
    assert guard.ceiling(TP) == 103 and w.gaps_skipped == 1 and guard.take_holes(50.0) == {}


def test_an_unknown_start_is_learnt_from_the_first_message_and_reset_forgets_all() -> None:
    guard, w = agent()
    guard.reset({TP: None})
    assert w.admit(TP, 40)
    assert guard.ceiling(TP) == 40
    w.stored()
    assert guard.ceiling(TP) == 41
    assert not w.admit(TP, 45)
    guard.reset({TP: 41})
    assert guard.take_holes(0.0) == {} and guard.ceiling(TP) == 41


def test_a_partition_that_stops_delivering_with_messages_waiting_is_sought_back() -> None:
    guard, w = agent()
    guard.reset({TP: 100, ("t.vehicle.recalls", 0): 5})
    assert guard.stalled(("t.vehicle.recalls", 0), 9) is None  # nothing since the assignment: recovery
    assert all(w.admit(TP, offset) for offset in range(100, 110))
    assert guard.stalled(TP, 110) is None  # caught up
    assert guard.stalled(TP, 130) is None  # messages wait: first check
    assert w.admit(TP, 110)
    assert guard.stalled(TP, 130) is None  # progress since: count again
    assert guard.stalled(TP, 130) == 111  # no progress for two checks: seek back to 111
    assert guard.stalled(TP, 130) is None  # and give the seek time


def test_a_partition_the_fetcher_has_not_taken_yet_is_slow_not_stalled() -> None:
    guard, w = agent()
    guard.reset({TP: 100})
    assert all(w.admit(TP, offset) for offset in range(100, 110))
    for _ in range(5):  # messages wait, nothing processed, but the fetch position is still at 110
        assert guard.stalled(TP, 130, position=110) is None
    assert guard.stalled(TP, 130, position=125) is None  # taken past 110: first check
    assert guard.stalled(TP, 130, position=125) == 110  # and never delivered: seek back


def test_a_failed_batch_is_never_committed_and_what_follows_it_waits_for_it() -> None:
    guard, w = agent()
    guard.reset({TP: 100})
    assert all(w.admit(TP, offset) for offset in range(100, 103))
    w.stored()
    assert all(w.admit(TP, offset) for offset in range(103, 108))  # the batch whose step fails for good
    w.failed({TP: 103})
    assert guard.ceiling(TP) == 103
    assert not w.admit(TP, 108)  # the next batch (a restarted agent) waits past the failed one
    w.stored()
    assert guard.ceiling(TP) == 103
    for attempt in range(6):  # sought back again and again: never taken as a real gap
        assert guard.take_holes(attempt * 10.0) == {TP: 103}
        assert not w.admit(TP, 108)
    assert all(w.admit(TP, offset) for offset in range(103, 109))  # the re-fetch brings it again
    w.stored()
    assert guard.ceiling(TP) == 109 and w.gaps_skipped == 0


def test_a_batch_that_fails_after_a_reassignment_is_still_not_committed() -> None:
    """The step was being retried when a rebalance reset the watermarks (the same partition came back, or
    went to another worker)."""
    guard, w = agent()
    guard.reset({TP: 100})
    assert all(w.admit(TP, offset) for offset in range(100, 110))
    guard.reset({TP: 100})
    w.failed({TP: 100})
    assert guard.ceiling(TP) == 100 and not w.admit(TP, 110)
    guard.reset({})
    w.failed({TP: 100})
    assert guard.ceiling(TP) == 100


def test_a_topic_read_by_two_agents_is_committed_as_far_as_both_stored_it_with_one_seek_per_hole() -> None:
    guard = CommitGuard()
    vehicles = guard.agent("vehicles", [REGISTRATIONS[0], TP[0]])
    timelines = guard.agent("registration-plates", [REGISTRATIONS[0]])
    assert guard.agent("vehicles") is vehicles
    guard.reset({REGISTRATIONS: 10, TP: 0})
    assert guard.ceiling(REGISTRATIONS) == 10 and guard.ceiling(TP) == 0
    assert all(vehicles.admit(REGISTRATIONS, offset) for offset in range(10, 20))
    vehicles.stored()
    assert guard.ceiling(REGISTRATIONS) == 10  # the other agent has not stored it yet
    assert all(timelines.admit(REGISTRATIONS, offset) for offset in range(10, 15))
    timelines.stored()
    assert guard.ceiling(REGISTRATIONS) == 15
    assert all(timelines.admit(REGISTRATIONS, offset) for offset in range(15, 20))
    timelines.stored()
    assert guard.ceiling(REGISTRATIONS) == 20
    assert not vehicles.admit(REGISTRATIONS, 22) and not timelines.admit(REGISTRATIONS, 22)
    assert guard.take_holes(0.0) == {REGISTRATIONS: 20}  # one hole, one seek, for both agents
    guard.reset({REGISTRATIONS: 30})
    assert guard.ceiling(REGISTRATIONS) == 30 and guard.ceiling(("t.other", 0)) is None


CHANGELOG = ("t-worker-vehicles-changelog", 1)


def test_a_standby_fetched_past_what_was_applied_and_stopped_there_is_sought_back() -> None:
    stalls = StandbyStalls(checks=2)
    assert stalls.check(CHANGELOG, 0, 33, None) is None  # position unknown (paused, not fetched yet)
    assert stalls.check(CHANGELOG, 0, 33, 0) is None  # behind, but nothing taken past it: a fetch will come
    assert stalls.check(CHANGELOG, 0, 33, 33) is None  # taken past what was applied: first check
    assert stalls.check(CHANGELOG, 0, 33, 33) == 0  # still nothing applied: seek back to the first unapplied
    assert stalls.check(CHANGELOG, 0, 33, 33) is None  # and give the seek time
    assert stalls.check(CHANGELOG, 20, 40, 40) is None  # applying again: counted afresh
    assert stalls.check(CHANGELOG, 30, 40, 40) is None
    assert stalls.check(CHANGELOG, 40, 40, 40) is None  # caught up
    assert stalls.check(CHANGELOG, 40, 45, 45) is None
    stalls.forget([])  # the partition left this worker: what was counted for it goes
    assert stalls.check(CHANGELOG, 40, 45, 45) is None  # a first check again
