"""How the simulator damages a value or a message: keying errors (domain "error patterns") and undecodable
Kafka values. Pure functions of their inputs and the RNG handed in.

Keying errors, each the way a person at a keyboard makes it:

* EXTRA_DIGIT: a zero too many (x10, "a factor of 10") or a key pressed twice (a digit doubled);
* MISSING_DIGIT: the last digit lost (/10) or any digit skipped;
* SWAPPED_DIGITS: two adjacent, different digits swapped;
* MISTYPED_DIGIT: one digit replaced by a neighbour on the numeric keypad.

None of them produces a leading zero; a value that cannot take the error (a single digit, all digits equal
for a swap) gives ``None`` and the caller sends the value right.
"""

from __future__ import annotations

import json
import random

from schemas.codec import encode
from schemas.jsonl import to_json_obj
from schemas.records import OdometerReading, PlateOdometerReading
from streams.simulator.config import KEYING_CAUSE_WEIGHTS
from streams.simulator.truth import Cause

_KEYING = tuple(Cause(name) for name, _ in KEYING_CAUSE_WEIGHTS)
_KEYING_WEIGHTS = tuple(weight for _, weight in KEYING_CAUSE_WEIGHTS)

_KEYPAD_NEIGHBOURS: dict[str, str] = {
    "0": "12",
    "1": "0245",
    "2": "1356",
    "3": "256",
    "4": "1578",
    "5": "24689",
    "6": "3597",
    "7": "48",
    "8": "5797",
    "9": "68",
}
"""Digits next to each digit on a numeric keypad (7-8-9 / 4-5-6 / 1-2-3 / 0)."""


def draw_keying_cause(rng: random.Random) -> Cause:
    """One of the four digit errors, drawn with ``config.KEYING_CAUSE_WEIGHTS``."""
    return rng.choices(_KEYING, weights=_KEYING_WEIGHTS)[0]


def keying_error(value: int, cause: Cause, rng: random.Random) -> int | None:
    """``value`` as mistyped with ``cause`` (one of the four digit errors), or ``None`` if it cannot be."""
    text = str(value)
    if value < 10:
        return None
    if cause is Cause.EXTRA_DIGIT:
        if rng.random() < 0.6:
            return value * 10
        i = rng.randrange(len(text))
        return int(text[: i + 1] + text[i:])
    if cause is Cause.MISSING_DIGIT:
        if rng.random() < 0.5:
            return value // 10
        i = rng.randrange(len(text))
        rest = text[:i] + text[i + 1 :]
        return None if rest[0] == "0" else int(rest)
    if cause is Cause.SWAPPED_DIGITS:
        places = [
            i for i in range(len(text) - 1) if text[i] != text[i + 1] and not (i == 0 and text[1] == "0")
        ]
        if not places:
            return None
        i = rng.choice(places)
        return int(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    if cause is Cause.MISTYPED_DIGIT:
        i = rng.randrange(len(text))
        choices = [d for d in _KEYPAD_NEIGHBOURS[text[i]] if not (i == 0 and d == "0")]
        return int(text[:i] + rng.choice(choices) + text[i + 1 :])
    raise ValueError(f"{cause} is not a digit keying error")


MALFORMED_CAUSES = (Cause.TRUNCATED, Cause.TRAILING_BYTES, Cause.NOT_AVRO, Cause.UNKNOWN_SCHEMA)


def malformed_value(
    record: OdometerReading | PlateOdometerReading, cause: Cause, rng: random.Random
) -> bytes:
    """A Kafka value for ``record`` that no consumer can decode, damaged the way ``cause`` says:

    TRUNCATED (cut inside the Avro body), TRAILING_BYTES (garbage after it), NOT_AVRO (the record as JSON
    text, as a misconfigured producer sends it), UNKNOWN_SCHEMA (single-object header with a fingerprint of
    no known schema)."""
    value = encode(record)
    if cause is Cause.TRUNCATED:
        return value[: rng.randrange(11, len(value) - 1)]
    if cause is Cause.TRAILING_BYTES:
        return value + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
    if cause is Cause.NOT_AVRO:
        return json.dumps(to_json_obj(record), separators=(",", ":")).encode("utf-8")
    if cause is Cause.UNKNOWN_SCHEMA:
        return value[:2] + rng.getrandbits(64).to_bytes(8, "little") + value[10:]
    raise ValueError(f"{cause} is not a malformed-message cause")
