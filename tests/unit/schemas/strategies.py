"""Hypothesis strategies for every contract record, derived from its Avro schema (so a new field is covered
without touching this file). Timestamps and dates stay within years 1–9999 so the JSON form can show them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from schemas.catalog import ENUM_TYPES, NESTED_TYPES, SCHEMAS, AnyRecord

MIN_TS_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_TS_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MIN_DAYS = -719_162  # 0001-01-01
MAX_DAYS = 2_932_896  # 9999-12-31

_text = st.text(max_size=20)


def _for(node: Any) -> st.SearchStrategy[Any]:
    if isinstance(node, list):
        inner = _for(next(b for b in node if b != "null"))
        return st.none() | inner
    kind = node if isinstance(node, str) else node["type"]
    logical = None if isinstance(node, str) else node.get("logicalType")
    if logical == "timestamp-millis":
        return st.integers(MIN_TS_MS, MAX_TS_MS)
    if logical == "date":
        return st.integers(MIN_DAYS, MAX_DAYS)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "string": _text,
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=30),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(list(ENUM_TYPES[node["name"]]))
    if kind == "array":
        return st.lists(_for(node["items"]), max_size=3).map(tuple)
    if kind == "record":
        return _record(NESTED_TYPES[node["name"]], node)
    raise TypeError(f"no strategy for {node!r}")


def _record(cls: type, node: Any) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{f["name"]: _for(f["type"]) for f in node["fields"]})


def records(record_type: type) -> st.SearchStrategy[AnyRecord]:
    """Any valid record of ``record_type``."""
    rs = SCHEMAS[record_type]
    return _record(record_type, rs.expanded)
