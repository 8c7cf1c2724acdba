"""Golden bytes of the stored state: what a worker writes today is pinned, and what older workers wrote
still reads (the files of older versions are never regenerated; see ``golden_states``)."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import msgspec
import pytest

from streams.state.codec import VERSION, decode_state, encode_state
from streams.state.schema import StoredState
from tests.unit.streams.state.golden_states import DAY, GOLDEN, GOLDEN_DIR, T0, VIN, golden_bytes

FILES = sorted(GOLDEN_DIR.glob("*.v*.hex"))


def _name_and_version(path: Path) -> tuple[str, int]:
    name, version = path.name.removesuffix(".hex").rsplit(".v", 1)
    return name, int(version)


def test_every_golden_file_is_of_a_golden_state() -> None:
    assert FILES and {_name_and_version(p)[0] for p in FILES} == set(GOLDEN)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden_bytes_read_as_their_state(path: Path) -> None:
    name, version = _name_and_version(path)
    stored = golden_bytes(name, version)
    assert stored[0] == version
    assert decode_state(VIN, stored) == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_encoding_today_equals_the_golden_bytes(name: str) -> None:
    stored = encode_state(GOLDEN[name])
    assert stored == golden_bytes(name, stored[0])


def test_the_current_golden_bytes_are_the_documented_messagepack() -> None:
    # Read with an untyped MessagePack reader and the layout of streams/state/schema.py, not the codec.
    state = GOLDEN["typical"]
    stored = golden_bytes("typical", VERSION)
    fields = msgspec.msgpack.decode(stored[1:])
    assert stored[0] == VERSION and len(fields) == 3  # the sections after the registration are unset
    sources, readings, registration = fields
    assert sources == [[412345678, 0, 0], [200000101, 5, 1]]  # GARAGE/WORKSHOP, INSPECTION_BODY/INSPECTION
    ids, gap_high, gap_low, values, submitted, source_column = readings  # no extras, no absolute values
    assert ids == b"".join(uuid.UUID(r.event_id).bytes for r in state.readings)
    observed = list(itertools.accumulate(h * 2**32 + low for h, low in zip(gap_high, gap_low, strict=True)))
    assert observed == [r.observed_at for r in state.readings]
    assert list(itertools.accumulate(values)) == [r.value for r in state.readings]
    assert [o + delay for o, delay in zip(observed, submitted, strict=True)] == [
        r.submitted_at for r in state.readings
    ]
    assert source_column == [0, 0, 1, 0, 0, 1]
    assert registration == [0, T0 - 30 * DAY, 16_400, True, "Volkswagen", "Golf", "M1", "1-ABC-123", 16_401,
                            "DE", "Euro 6", 118, 1, "DIESEL", False, 0, 6]  # fmt: skip
    names = [f.name for f in msgspec.structs.fields(StoredState)]
    assert names[:3] == ["sources", "readings", "registration"]
