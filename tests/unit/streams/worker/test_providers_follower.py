"""The gate of the registry of providers: when a batch stamped T may be judged (no broker: the follower's
progress is set as its thread would set it)."""

from __future__ import annotations

from schemas.codec import Codec
from streams.settings import Settings
from streams.worker.providers import ProviderFollower

NOW = 1_800_000_000_000


def follower() -> ProviderFollower:
    made = ProviderFollower(Settings.from_env({}), "providers.registry", Codec(), clock_ms=lambda: NOW)
    made._positions = {0: 0, 1: 0}
    return made


def test_nothing_passes_before_the_registry_is_followed() -> None:
    assert not follower().ready_through(0)


def test_a_batch_passes_once_every_partition_is_read_past_it_or_to_an_end_learnt_after_it() -> None:
    f = follower()
    f._started = True
    assert not f.ready_through(NOW - 5_000)  # no end known yet: the registry may hold anything
    f._positions = {0: 10, 1: 3}
    f._stamps = {0: NOW - 1_000}  # partition 0 read past NOW - 1 s
    f._ends = {1: (3, NOW - 2_000)}  # partition 1 at its end, as a fetch begun 2 s ago reported
    assert f.ready_through(NOW - 5_000)  # both: nothing older can still come
    assert not f.ready_through(NOW - 1_500)  # partition 1's end is older than that: wait for a fetch
    f._ends[1] = (3, NOW)
    assert not f.ready_through(NOW - 500)  # partition 0: read to NOW - 1 s only, its end not known
    assert not f.caught_up()
    f._ends[0] = (10, NOW)
    assert f.ready_through(NOW - 500) and f.caught_up()
    f._ends[1] = (4, NOW)  # one more record on the broker, not read yet
    assert not f.ready_through(NOW - 5_000) and not f.caught_up()
    f._ends[1] = (3, NOW)
    assert f.ready_through(NOW + 3_600_000)  # stamped in the future: taken as stamped now
