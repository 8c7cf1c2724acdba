"""Golden bytes of the stored state: what a worker writes today is pinned, and what older workers wrote
still reads (the files of older versions are never regenerated; see ``golden_states``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.state.codec import decode_state, encode_state
from tests.unit.streams.state.golden_states import GOLDEN, GOLDEN_DIR, VIN, golden_bytes

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
