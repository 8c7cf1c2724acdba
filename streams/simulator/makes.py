"""What a simulated vehicle is: make and model, technical data for the certificate (R11), VIN and plates.

* Makes weighted by their share of the Belgian fleet (model, after the usual registration tables), each with
  its ISO 3780 world manufacturer identifier and a few models (M1 cars, N1 vans).
* Fuel, Euro norm, CO2 and its test procedure follow the first-registration date: NEDC before September
  2018, WLTP after; the diesel share falls and the electric share rises from 2019.
* VINs are 17 ISO 3779 characters (no I, O, Q) with a valid North-American check digit at position 9 and
  the model-year code at position 10; unique per vehicle index.
* Belgian plates: ``ABC-123`` before 16 November 2010, ``1-ABC-123`` after, ``2-ABC-123`` from 2021.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from schemas.records import Co2TestProcedure
from streams.domain.calendar import date_of, day_of

VIN_CHARACTERS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_TRANSLITERATION = {c: int(c) for c in "0123456789"} | dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_POSITION_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY"
"""Model-year codes from 2010 (and 1980); 2001-2009 are the digits 1-9."""
_PLATE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DAY_2010_11_16 = day_of(date(2010, 11, 16))
DAY_2021_01_01 = day_of(date(2021, 1, 1))
DAY_2018_09_01 = day_of(date(2018, 9, 1))


@dataclass(frozen=True, slots=True)
class Make:
    name: str
    wmi: str
    share: float
    manufacturer: str
    """The group whose connected-vehicle feed and recalls cover the make."""
    cars: tuple[str, ...]
    vans: tuple[str, ...] = ()


MAKES: tuple[Make, ...] = (
    Make(
        "Volkswagen",
        "WVW",
        9.0,
        "Volkswagen Group",
        ("Golf", "Polo", "Passat", "Tiguan", "ID.3"),
        ("Transporter", "Caddy"),
    ),
    Make("BMW", "WBA", 8.0, "BMW Group", ("1 Series", "3 Series", "5 Series", "X1", "i4")),
    Make(
        "Mercedes-Benz",
        "WDD",
        7.0,
        "Mercedes-Benz Group",
        ("A-Class", "C-Class", "E-Class", "GLC"),
        ("Vito", "Sprinter"),
    ),
    Make("Peugeot", "VF3", 7.0, "Stellantis", ("208", "308", "2008", "3008"), ("Partner", "Expert")),
    Make("Renault", "VF1", 6.0, "Renault Group", ("Clio", "Megane", "Captur", "Zoe"), ("Kangoo", "Trafic")),
    Make("Audi", "WAU", 6.0, "Volkswagen Group", ("A3", "A4", "A6", "Q3", "Q5")),
    Make("Toyota", "SB1", 6.0, "Toyota", ("Yaris", "Corolla", "C-HR", "RAV4"), ("Proace",)),
    Make("Volvo", "YV1", 5.0, "Geely", ("XC40", "XC60", "V60", "V90")),
    Make("Skoda", "TMB", 5.0, "Volkswagen Group", ("Fabia", "Octavia", "Superb", "Kodiaq")),
    Make("Ford", "WF0", 5.0, "Ford", ("Fiesta", "Focus", "Kuga", "Puma"), ("Transit", "Transit Connect")),
    Make("Citroen", "VF7", 5.0, "Stellantis", ("C3", "C4", "C5 Aircross"), ("Berlingo", "Jumpy")),
    Make("Opel", "W0L", 5.0, "Stellantis", ("Corsa", "Astra", "Mokka"), ("Combo", "Vivaro")),
    Make("Kia", "KNA", 4.0, "Hyundai Motor Group", ("Picanto", "Ceed", "Niro", "Sportage")),
    Make("Hyundai", "KMH", 4.0, "Hyundai Motor Group", ("i10", "i20", "i30", "Tucson", "Kona")),
    Make("Dacia", "UU1", 4.0, "Renault Group", ("Sandero", "Duster", "Jogger")),
    Make("Fiat", "ZFA", 3.0, "Stellantis", ("500", "Panda", "Tipo"), ("Doblo", "Ducato")),
    Make("Nissan", "SJN", 3.0, "Renault Group", ("Micra", "Qashqai", "Juke", "Leaf")),
    Make("Tesla", "LRW", 2.0, "Tesla", ("Model 3", "Model Y")),
)

MAKE_WEIGHTS = tuple(m.share for m in MAKES)
MANUFACTURERS: tuple[str, ...] = tuple(sorted({m.manufacturer for m in MAKES}))
_ELECTRIC_ONLY = {"ID.3", "i4", "Zoe", "Leaf", "Model 3", "Model Y"}


@dataclass(frozen=True, slots=True)
class TechnicalData:
    """The registration's technical facts (R11), constant over the vehicle's life."""

    make: str
    model: str
    vehicle_category: str
    fuel_type: str | None
    euro_norm: str | None
    co2_g_km: int | None
    co2_test_procedure: Co2TestProcedure | None
    electric_motor: bool | None
    electric_range_km: int | None


def pick_make(rng: random.Random) -> Make:
    return rng.choices(MAKES, weights=MAKE_WEIGHTS)[0]


def technical_data(make: Make, van: bool, first_day: int, rng: random.Random) -> TechnicalData:
    """Model, fuel, Euro norm and CO2 of a vehicle of ``make`` first registered on ``first_day``."""
    van = van and bool(make.vans)
    model = rng.choice(make.vans if van else make.cars)
    year = date_of(first_day).year
    if model in _ELECTRIC_ONLY or make.name == "Tesla":
        fuel = "ELECTRIC"
    else:
        fuel = rng.choices(*_fuel_mix(year, van))[0]
    electric = fuel in ("ELECTRIC", "HYBRID", "PLUGIN_HYBRID")
    wltp = first_day >= DAY_2018_09_01
    euro: str | None
    electric_range: int | None
    if fuel == "ELECTRIC":
        co2, euro, electric_range = 0, None, rng.randint(250, 550)
    else:
        low, high = _CO2_RANGES[fuel]
        co2 = rng.randint(low, high) + (25 if wltp else 0) + (40 if van else 0)
        euro = _euro_norm(first_day)
        electric_range = rng.randint(40, 90) if fuel == "PLUGIN_HYBRID" else None
    unknown = year < 2010 and rng.random() < 0.1  # older records lack some technical data
    return TechnicalData(
        make=make.name,
        model=model,
        vehicle_category="N1" if van else "M1",
        fuel_type=fuel,
        euro_norm=None if unknown else euro,
        co2_g_km=None if unknown else co2,
        co2_test_procedure=None if unknown else (Co2TestProcedure.WLTP if wltp else Co2TestProcedure.NEDC),
        electric_motor=electric,
        electric_range_km=electric_range,
    )


_CO2_RANGES = {
    "DIESEL": (95, 180),
    "PETROL": (100, 190),
    "LPG": (110, 170),
    "HYBRID": (85, 120),
    "PLUGIN_HYBRID": (25, 60),
}


def _fuel_mix(year: int, van: bool) -> tuple[tuple[str, ...], tuple[float, ...]]:
    if van:
        return ("DIESEL", "PETROL", "ELECTRIC"), ((0.9, 0.08, 0.02) if year < 2021 else (0.8, 0.08, 0.12))
    fuels = ("DIESEL", "PETROL", "LPG", "HYBRID", "PLUGIN_HYBRID", "ELECTRIC")
    if year < 2015:
        return fuels, (0.65, 0.33, 0.02, 0.0, 0.0, 0.0)
    if year < 2019:
        return fuels, (0.5, 0.44, 0.01, 0.05, 0.0, 0.0)
    if year < 2022:
        return fuels, (0.3, 0.5, 0.0, 0.1, 0.05, 0.05)
    return fuels, (0.12, 0.4, 0.0, 0.15, 0.13, 0.2)


def _euro_norm(first_day: int) -> str:
    for until, norm in _EURO_NORMS:
        if first_day < until:
            return norm
    return "Euro 6e"


_EURO_NORMS = (
    (day_of(date(2009, 9, 1)), "Euro 4"),
    (day_of(date(2014, 9, 1)), "Euro 5"),
    (day_of(date(2017, 9, 1)), "Euro 6b"),
    (day_of(date(2019, 9, 1)), "Euro 6d-TEMP"),
    (day_of(date(2024, 9, 1)), "Euro 6d"),
)


def model_year_code(year: int) -> str:
    if 2001 <= year <= 2009:
        return str(year - 2000)
    return _YEAR_CODES[(year - 2010) % len(_YEAR_CODES)]


def make_vin(make: Make, year: int, index: int, rng: random.Random) -> str:
    """A valid, unique VIN for vehicle number ``index`` (< 33 million)."""
    vds = "".join(rng.choice(VIN_CHARACTERS) for _ in range(5))
    plant_index, serial = divmod(index, 1_000_000)
    serial = serial * 7_919 % 1_000_000  # a bijection on 0..999,999: unique, not sequential
    body = f"{make.wmi}{vds}0{model_year_code(year)}{VIN_CHARACTERS[plant_index + 10]}{serial:06d}"
    total = sum(_TRANSLITERATION[c] * w for c, w in zip(body, _POSITION_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


def plate_for(number: int, day: int) -> str:
    """The ``number``-th fresh plate issued on ``day`` (unique per number within a format)."""
    digits = number % 1000
    letters = ""
    rest = number // 1000
    for _ in range(3):
        rest, position = divmod(rest, 26)
        letters = _PLATE_LETTERS[position] + letters
    if day < DAY_2010_11_16:
        return f"{letters}-{digits:03d}"
    series = 2 if day >= DAY_2021_01_01 else 1
    return f"{series}-{letters}-{digits:03d}"
