"""The hot path's positional constructors build the same values as ``__init__``."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, fields

import pytest

from schemas.records import Receipt, ReceiptStatus, Unit
from streams.domain.evaluation import Decision
from streams.domain.fastbuild import builder
from streams.domain.points import Point
from streams.domain.state import VehicleState


@pytest.mark.parametrize(
    "value",
    [
        Point("e", 1, 2, 3, Unit.MILES, "p", 1.5, 4),
        Receipt("e", "v", "p", ReceiptStatus.ACCEPTED, (), 7),
        VehicleState("WVWZZZ1KZAW123456", anomalies=()),
        Decision(VehicleState("V")),
    ],
)
def test_a_built_value_equals_the_constructed_one(value: object) -> None:
    build = builder(type(value))
    built = build(**{f.name: getattr(value, f.name) for f in fields(value)})  # type: ignore[arg-type]
    assert built == value and type(built) is type(value)
    assert hash(built) == hash(value)
    with pytest.raises(FrozenInstanceError):
        setattr(built, fields(value)[0].name, "x")  # type: ignore[arg-type]


def test_only_slotted_dataclasses_without_post_init() -> None:
    @dataclass(frozen=True)
    class Plain:
        x: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    for cls in (Plain, Checked, int):
        with pytest.raises(TypeError):
            builder(cls)


@dataclass(frozen=True, slots=True)
class _Base:
    x: int


@dataclass(frozen=True, slots=True)
class _Derived(_Base):
    y: str = "b"


def test_a_class_without_a_layout_twin_is_built_through_its_slots() -> None:
    built = builder(_Derived)(x=1, y="c")
    assert built == _Derived(1, "c") and type(built) is _Derived
    with pytest.raises(FrozenInstanceError):
        built.y = "x"  # type: ignore[misc]


def test_fields_are_given_by_keyword_only() -> None:
    build = builder(_Derived)
    with pytest.raises(TypeError):
        build(1, "c")
    with pytest.raises(TypeError):
        build(x=1)  # every field, none defaulted
