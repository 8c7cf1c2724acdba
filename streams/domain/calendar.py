"""Belgian calendar arithmetic for R2 (timeliness in working days) and for "the same day" (R17).

Days are ``int`` days since 1970-01-01 (the records' ``date`` convention); instants are epoch milliseconds
(UTC). A Belgian *working day* is Monday to Friday except the ten legal public holidays: New Year's Day,
Easter Monday, Labour Day (1 May), Ascension Day (Easter + 39), Whit Monday (Easter + 50), National Day
(21 July), Assumption (15 August), All Saints' Day (1 November), Armistice Day (11 November) and Christmas.
The movable feasts are computed from Easter (Gregorian computus), so the calendar needs no table.

The calendar day of an instant is taken in Brussels time: CET (UTC+1), or CEST (UTC+2) from the last Sunday
of March to the last Sunday of October, switching at 01:00 UTC (the EU rule since 1996, applied to every
year: older readings only come from foreign histories, which are not checked for timeliness).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000
_EPOCH = date(1970, 1, 1)


def day_of(d: date) -> int:
    """Days since 1970-01-01 of calendar date ``d``."""
    return (d - _EPOCH).days


def date_of(day: int) -> date:
    """The calendar date of ``day`` (days since 1970-01-01)."""
    return _EPOCH + timedelta(days=day)


def weekday(day: int) -> int:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday of ``year`` (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def belgian_public_holidays(year: int) -> frozenset[int]:
    """The ten Belgian legal public holidays of ``year``, as days since 1970-01-01."""
    easter = day_of(easter_sunday(year))
    fixed = ((1, 1), (5, 1), (7, 21), (8, 15), (11, 1), (11, 11), (12, 25))
    days = {day_of(date(year, month, dom)) for month, dom in fixed}
    days.update((easter + 1, easter + 39, easter + 50))
    return frozenset(days)


def is_working_day(day: int) -> bool:
    """True for Monday to Friday that is not a Belgian public holiday."""
    return weekday(day) < 5 and day not in belgian_public_holidays(date_of(day).year)


def working_days_after(start_day: int, end_day: int) -> int:
    """The number of working days ``d`` with ``start_day < d <= end_day`` (0 when ``end_day <= start_day``).

    "Within 5 working days after the day of the work" (R2, before 2019-03-01) is
    ``working_days_after(work_day, submission_day) <= 5``.
    """
    if end_day <= start_day:
        return 0
    first = start_day + 1
    weeks, rest = divmod(end_day - first + 1, 7)
    count = 5 * weeks
    for day in range(end_day - rest + 1, end_day + 1):
        if weekday(day) < 5:
            count += 1
    for year in range(date_of(first).year, date_of(end_day).year + 1):
        for holiday in belgian_public_holidays(year):
            if first <= holiday <= end_day and weekday(holiday) < 5:
                count -= 1
    return count


@lru_cache(maxsize=256)
def _summer_time_bounds(year: int) -> tuple[int, int]:
    """UTC instants (ms) at which Brussels summer time starts and ends in ``year``."""

    def last_sunday(month: int) -> int:
        last = day_of(date(year, month + 1, 1)) - 1
        return last - (weekday(last) + 1) % 7

    return (last_sunday(3) * MS_PER_DAY + MS_PER_HOUR, last_sunday(10) * MS_PER_DAY + MS_PER_HOUR)


def brussels_offset_ms(instant_ms: int) -> int:
    """Brussels' offset from UTC at ``instant_ms``: one hour, or two in summer time."""
    start, end = _summer_time_bounds(date_of(instant_ms // MS_PER_DAY).year)
    return 2 * MS_PER_HOUR if start <= instant_ms < end else MS_PER_HOUR


def brussels_day(instant_ms: int) -> int:
    """The Brussels calendar day (days since 1970-01-01) of the UTC instant ``instant_ms``."""
    return (instant_ms + brussels_offset_ms(instant_ms)) // MS_PER_DAY
