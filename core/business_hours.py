"""Business hours: when the team works, as `BUSINESS_HOURS` says, in the team's time zone.

The form: day ranges with their hours, separated by `;`:
`mon-fri 09:00-18:00; sat 10:00-14:00`. Days are `mon`…`sun` (or `пн`…`вс`), ranges of days
`mon-fri`, lists `mon,wed`; several hour ranges of one day `mon-fri 09:00-13:00, 14:00-18:00`;
`24:00` ends a day, and an end before its start runs past midnight into the next day
(`fri 22:00-02:00`). Empty: always business hours.

`business_seconds` counts the working seconds between two instants: each day's hours are
placed on that day's calendar in the time zone, so a day when the clocks move counts the
hours it really had (a 09:00-18:00 day has 8 or 10 hours then).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HINT = "write days and hours like mon-fri 09:00-18:00; sat 10:00-14:00 (empty: always)"

DAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "пн": 0, "вт": 1, "ср": 2, "чт": 3, "пт": 4, "сб": 5, "вс": 6,
}  # fmt: skip

_DAY = "|".join(sorted(DAYS, key=len, reverse=True))
_DAYS_PART = re.compile(
    rf"^((?:{_DAY})(?:\s*-\s*(?:{_DAY}))?(?:\s*,\s*(?:{_DAY})(?:\s*-\s*(?:{_DAY}))?)*)\s+(.+)$"
)
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")

DAY = 24 * 60


class BusinessHoursError(ValueError):
    """What is wrong with a BUSINESS_HOURS value; its message completes "BUSINESS_HOURS=… "."""


@dataclass(frozen=True)
class BusinessHours:
    """Per weekday (0 = Monday) the working minutes of the local day, as sorted, merged
    [start, end) ranges within 0..1440. `always`: no hours given, every second counts."""

    days: tuple[tuple[tuple[int, int], ...], ...] = field(default_factory=lambda: ((),) * 7)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    always: bool = True

    def seconds(self, start: datetime, end: datetime) -> int:
        return business_seconds(self, start, end)

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` falls within the hours."""
        if self.always:
            return True
        local = moment.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.days[local.weekday()])


def _minutes(hours: str, minutes: str, source: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        raise BusinessHoursError(f"has {source!r}, which is not a time of day: {HINT}")
    return h * 60 + m


def _day_set(text: str, source: str) -> list[int]:
    days: list[int] = []
    for item in re.split(r"\s*,\s*", text.strip()):
        first, _, last = (part.strip() for part in item.partition("-"))
        a = DAYS[first]
        b = DAYS[last] if last else a
        day = a
        while True:
            if day not in days:
                days.append(day)
            if day == b:
                break
            day = (day + 1) % 7
    if not days:
        raise BusinessHoursError(f"has {source!r} with no days: {HINT}")
    return days


def parse_business_hours(text: str, tz: ZoneInfo | str = "UTC") -> BusinessHours:
    """`mon-fri 09:00-18:00; sat 10:00-14:00` in `tz`; "" means always. Raises
    BusinessHoursError naming the part it could not read and the right form."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    source = text.strip()
    if not source:
        return BusinessHours(tz=zone)
    ranges: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for part in (p.strip() for p in source.split(";")):
        if not part:
            continue
        match = _DAYS_PART.match(part.lower())
        if match is None:
            raise BusinessHoursError(f"has {part!r}, which does not start with days: {HINT}")
        days = _day_set(match.group(1), part)
        for span in re.split(r"\s*,\s*", match.group(2).strip()):
            hours = _HOURS.match(span.strip())
            if hours is None:
                raise BusinessHoursError(
                    f"has {span!r}, which is not hours like 09:00-18:00: {HINT}"
                )
            start = _minutes(hours.group(1), hours.group(2), span)
            end = _minutes(hours.group(3), hours.group(4), span)
            if start in (end, DAY):
                raise BusinessHoursError(f"has {span!r}, which is no time at all: {HINT}")
            for day in days:
                if end > start:
                    ranges[day].append((start, end))
                else:  # past midnight: the rest of this day and the start of the next
                    ranges[day].append((start, DAY))
                    if end:
                        ranges[(day + 1) % 7].append((0, end))
    if not any(ranges):
        return BusinessHours(tz=zone)
    return BusinessHours(days=tuple(_merged(r) for r in ranges), tz=zone, always=False)


def _merged(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def _at(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The instant of `minute` into the local `day` (1440: the next day's midnight)."""
    if minute >= DAY:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).astimezone(UTC)


def business_seconds(hours: BusinessHours, start: datetime, end: datetime) -> int:
    """The working seconds between two aware instants (0 when `end` is not after `start`)."""
    if end <= start:
        return 0
    if hours.always:
        return int((end - start).total_seconds())
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    day = start.astimezone(hours.tz).date()
    last = end.astimezone(hours.tz).date()
    total = 0.0
    while day <= last:
        for a, b in hours.days[day.weekday()]:
            lo, hi = max(start, _at(day, a, hours.tz)), min(end, _at(day, b, hours.tz))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(total)
