"""What operators type after /snooze, and how the answer reads back. Pure: time is passed in.

`parse_snooze` turns "2h", "завтра в 15:00", "mon 9:30", "25.12", "навсегда" … into an aware
UTC moment strictly in the future, or FOREVER ("until the client writes").

Rules worth knowing:
- durations ("2h", "через 2 часа", "a week") are exact spans added to `now`, so "3d" across a
  DST switch lands an hour off the wall clock; everything named ("tomorrow", "mon",
  "25.12 10:00") is wall-clock time in `tz`;
- a day without a time means 10:00; a bare time ("18:00") is today if still ahead, else
  tomorrow; a weekday is the next such day, never today;
- a day-month without a year whose day has passed this year means next year; a moment today
  that has already passed, or an explicit date in the past, is an error, not a guess;
- times are `H:MM`/`HH:MM` (or `HH.MM` after a day or "в"/"at"), `3pm`, or a bare hour only where it
  cannot be mistaken for anything else ("завтра в 10", "mon 9", "at 10"); a lone "10" is
  rejected, as are "9:5", "24:00" and "99:00";
- a wall-clock time that does not exist (skipped by a spring-forward) moves forward by the
  gap; one that happens twice means the first.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.i18n import SUPPORTED, catalog
from core.durations import parse_duration


class Forever(enum.Enum):
    """The type of FOREVER: snoozed until the client writes, with no wake-up time."""

    FOREVER = "forever"

    def __repr__(self) -> str:
        return "FOREVER"


FOREVER = Forever.FOREVER

Until = datetime | Forever

DEFAULT_TIME = time(10, 0)

SnoozeReason = Literal["empty", "invalid", "past"]


class SnoozeError(ValueError):
    """The text is not a snooze moment. `reason`: "empty", "invalid" or "past"."""

    def __init__(self, reason: SnoozeReason, text: str = "") -> None:
        self.reason: SnoozeReason = reason
        self.text = text
        messages = {
            "empty": "no moment given",
            "invalid": f"not a snooze moment: {text!r}",
            "past": f"already in the past: {text!r}",
        }
        super().__init__(messages[reason])


# The words live in bot/locales/<lang>/snooze.json like every other UI text.
PHRASES: dict[str, dict[str, str]] = {
    lang: {
        key.removeprefix("snooze.phrase."): text
        for key, text in catalog(lang).items()
        if key.startswith("snooze.phrase.")
    }
    for lang in SUPPORTED
}

# Weekday names as describe_until uses them: English plain, Russian in the genitive ("до среды").
WEEKDAY_NAMES: dict[str, tuple[str, ...]] = {
    lang: tuple(catalog(lang)[f"snooze.weekday.{day}"] for day in range(7)) for lang in SUPPORTED
}

SNOOZE_USAGE: dict[str, str] = {lang: catalog(lang)["snooze.usage"] for lang in SUPPORTED}

_FOREVER_WORDS = frozenset(
    {
        "forever",
        "until reply",
        "until replied",
        "until a reply",
        "until the reply",
        "until client replies",
        "until the client replies",
        "until client writes",
        "until the client writes",
        "навсегда",
        "бессрочно",
        "до ответа",
        "до ответа клиента",
        "пока клиент не напишет",
        "пока клиент не ответит",
        "пока не напишет",
        "пока не ответит",
    }
)

_WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("mon", "monday", "пн", "пон", "понедельник"),
        ("tue", "tues", "tuesday", "вт", "вторник"),
        ("wed", "wednesday", "ср", "среда", "среду"),
        ("thu", "thur", "thurs", "thursday", "чт", "четверг"),
        ("fri", "friday", "пт", "пятница", "пятницу"),
        ("sat", "saturday", "сб", "суббота", "субботу"),
        ("sun", "sunday", "вс", "воскресенье"),
    )
):
    for _name in _names:
        _WEEKDAYS[_name] = _index

_DAY_WORDS = {
    "today": 0,
    "сегодня": 0,
    "tomorrow": 1,
    "завтра": 1,
    "послезавтра": 2,
}

# Words that only glue a phrase together: "в понедельник", "on monday at 9", "next mon",
# "в следующую среду", "завтра утром в 9" is not supported (no "утром").
_FILLERS = frozenset(
    {"at", "on", "next", "в", "во", "к", "следующий", "следующую", "следующее", "следующая"}
)
# Of those, the ones that mark the number after them as a time of day ("at 10", "в 10").
_TIME_MARKERS = frozenset({"at", "в", "во", "к"})

_DURATION_UNITS: dict[str, timedelta] = {}
for _span, _names in (
    (
        timedelta(minutes=1),
        ("minute", "minutes", "min", "mins", "минута", "минуты", "минут", "минуту"),
    ),
    (timedelta(hours=1), ("hour", "hours", "hr", "hrs", "час", "часа", "часов")),
    (timedelta(days=1), ("day", "days", "день", "дня", "дней", "сутки", "суток")),
    (timedelta(weeks=1), ("week", "weeks", "неделя", "недели", "недель", "неделю")),
):
    for _name in _names:
        _DURATION_UNITS[_name] = _span

_DURATION_PREFIXES = ("in ", "for ", "через ", "на ")
_COUNT = re.compile(r"\d+|an?|one")
_DURATION_JOINERS = frozenset({"and", "и"})

_TIME = re.compile(r"(\d{1,2})[:.](\d{2})")
_AMPM = re.compile(r"(\d{1,2})(?::(\d{2}))?(am|pm)")
_HOUR = re.compile(r"\d{1,2}")
_DAY_MONTH = re.compile(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{2}|\d{4}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_snooze(text: str, now: datetime, tz: ZoneInfo) -> datetime | Forever:
    """An aware UTC moment strictly after `now`, or FOREVER; SnoozeError for anything else."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    source = _normalize(text)
    if not source:
        raise SnoozeError("empty", text)
    if source in _FOREVER_WORDS:
        return FOREVER
    try:
        moment = _parse_duration(source, now)
        if moment is None:
            moment = _parse_wall_clock(source, now, tz, text)
    except OverflowError:
        raise SnoozeError("invalid", text) from None
    if moment is None:
        raise SnoozeError("invalid", text)
    if moment <= now:
        raise SnoozeError("past", text)
    return moment.astimezone(UTC)


# Longer snoozes are cut to this: a dialog forgotten for longer is lost, not snoozed.
MAX_SNOOZE = timedelta(days=365)


def cap_snooze(moment: datetime | Forever, now: datetime) -> tuple[datetime | Forever, bool]:
    """`moment`, or now + MAX_SNOOZE when it lies further ahead; and whether it was cut."""
    if moment is FOREVER or moment - now <= MAX_SNOOZE:
        return moment, False
    return (now + MAX_SNOOZE).astimezone(UTC), True


def snooze_presets(now: datetime, tz: ZoneInfo) -> list[tuple[str, datetime | Forever]]:
    """The keyboard choices in order: 1h, 3h, tomorrow 10:00, next Monday 10:00, forever."""
    today = now.astimezone(tz).date()
    return [
        ("1h", (now + timedelta(hours=1)).astimezone(UTC)),
        ("3h", (now + timedelta(hours=3)).astimezone(UTC)),
        ("tomorrow", _at(today + timedelta(days=1), DEFAULT_TIME, tz)),
        ("monday", _at(_next_weekday(today, 0), DEFAULT_TIME, tz)),
        ("forever", FOREVER),
    ]


def describe_until(moment: datetime | Forever, now: datetime, tz: ZoneInfo, lang: str) -> str:
    """A short phrase: "until tomorrow 10:00", "до понедельника 10:00", "до 25.12 10:00"."""
    language = _language(lang)
    phrases = PHRASES[language]
    if moment is FOREVER:
        return phrases["forever"]
    local = moment.astimezone(tz)
    today = now.astimezone(tz).date()
    clock = local.strftime("%H:%M")
    days = (local.date() - today).days
    if days == 0:
        return phrases["today"].format(time=clock)
    if days == 1:
        return phrases["tomorrow"].format(time=clock)
    if 1 < days < 7:
        weekday = WEEKDAY_NAMES[language][local.weekday()]
        return phrases["weekday"].format(weekday=weekday, time=clock)
    day = local.strftime("%d.%m") if local.year == today.year else local.strftime("%d.%m.%Y")
    return phrases["date"].format(date=day, time=clock)


def describe_error(error: SnoozeError, lang: str) -> str:
    """What went wrong, followed by SNOOZE_USAGE, in `lang`."""
    language = _language(lang)
    problem = PHRASES[language][f"error_{error.reason}"].format(text=error.text.strip())
    return f"{problem}\n{SNOOZE_USAGE[language]}"


def _language(lang: str) -> str:
    code = (lang or "").split("-")[0].lower()
    return code if code in PHRASES else "en"


def _normalize(text: str) -> str:
    source = " ".join(text.lower().replace("ё", "е").split())
    source = source.rstrip(".!?,; ")
    source = re.sub(r"(\d)\s+(am|pm)\b", r"\1\2", source)
    source = re.sub(r"(\d{4}-\d{1,2}-\d{1,2})t(\d)", r"\1 \2", source)
    return source


def _parse_duration(source: str, now: datetime) -> datetime | None:
    """`2h`, `1h30m` via parse_duration; `in 2 hours`, `через 2 часа`, `неделю` by words."""
    try:
        return now + parse_duration(source)
    except ValueError as error:
        if source.startswith("-"):
            raise SnoozeError("invalid", source) from error
    span = _word_duration(source)
    return None if span is None else now + span


def _word_duration(source: str) -> timedelta | None:
    rest = source
    for prefix in _DURATION_PREFIXES:
        if rest.startswith(prefix):
            rest = rest[len(prefix) :]
            break
    if rest in ("полчаса", "half an hour", "half hour"):
        return timedelta(minutes=30)
    words = rest.split()
    total = timedelta()
    seen: set[timedelta] = set()
    position = 0
    while position < len(words):
        word = words[position]
        if seen and word in _DURATION_JOINERS:
            position += 1
            continue
        count = 1
        if _COUNT.fullmatch(word) and position + 1 < len(words):
            count = int(word) if word.isdigit() else 1
            position += 1
            word = words[position]
        unit = _DURATION_UNITS.get(word)
        if unit is None or unit in seen:
            return None
        seen.add(unit)
        total += count * unit
        position += 1
    if not seen:
        return None
    if total <= timedelta():
        raise SnoozeError("invalid", source)
    return total


def _parse_wall_clock(source: str, now: datetime, tz: ZoneInfo, text: str) -> datetime | None:
    """Days, weekdays, dates and times of day as wall-clock time in `tz`.

    A dotted `D.M` is a date while no day is named yet and a time (`HH.MM`) after one or after
    "at"/"в"; a bare number is an hour only after a day or after "at"/"в".
    """
    today = now.astimezone(tz).date()
    day: date | None = None
    day_is_today = False
    clock: time | None = None
    bare_hour: str | None = None
    bare_hour_marked = False
    marked = False  # the previous word was "at"/"в"
    for token in source.split():
        if token in _FILLERS:
            marked = token in _TIME_MARKERS
            continue
        was_marked, marked = marked, False
        if token in _DAY_WORDS or token in _WEEKDAYS:
            if day is not None:
                return None
            if token in _DAY_WORDS:
                day = today + timedelta(days=_DAY_WORDS[token])
                day_is_today = _DAY_WORDS[token] == 0
            else:
                day = _next_weekday(today, _WEEKDAYS[token])
        elif _HOUR.fullmatch(token):
            if bare_hour is not None:
                return None
            bare_hour, bare_hour_marked = token, was_marked
        elif (iso := _ISO_DATE.fullmatch(token)) and day is None:
            day = _make_date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)), text)
        elif was_marked and day is None and (parsed := _parse_time(token)) is not None:
            if clock is not None:
                return None
            clock = parsed  # "в 18.00": after "at"/"в" a dotted pair is a time, not a date
        elif (dotted := _DAY_MONTH.fullmatch(token)) and day is None:
            day_number, month = int(dotted.group(1)), int(dotted.group(2))
            if dotted.group(3) is None:
                day = _next_day_month(day_number, month, today, text)
            else:
                year = int(dotted.group(3))
                year += 2000 if year < 100 else 0
                day = _make_date(year, month, day_number, text)
        else:
            parsed = _parse_time(token)
            if parsed is None or clock is not None:
                return None
            clock = parsed
    if bare_hour is not None:
        if clock is not None or not (day is not None or bare_hour_marked):
            return None
        if int(bare_hour) > 23:
            return None
        clock = time(int(bare_hour))
    if day is None:
        if clock is None:
            return None
        moment = _at(today, clock, tz)
        return moment if moment > now else _at(today + timedelta(days=1), clock, tz)
    if clock is None:
        if day_is_today:
            return None  # "today" alone names no moment
        clock = DEFAULT_TIME
    return _at(day, clock, tz)


def _parse_time(token: str) -> time | None:
    """`9:30`, `09:30`, `9.30`, `3pm`, `3:30pm`; None for anything else, `9:5` and `24:00` too."""
    if match := _AMPM.fullmatch(token):
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        return time(hour % 12 + (12 if match.group(3) == "pm" else 0), minute)
    if match := _TIME.fullmatch(token):
        hour, minute = int(match.group(1)), int(match.group(2))
        return time(hour, minute) if hour <= 23 and minute <= 59 else None
    return None


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise SnoozeError("invalid", text) from None


def _next_day_month(day: int, month: int, today: date, text: str) -> date:
    """This year's day-month unless that day has passed; 29.02 waits for a leap year."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise SnoozeError("invalid", text)
    for year in range(today.year, today.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise SnoozeError("invalid", text)


def _next_weekday(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """Wall-clock `day clock` in `tz` as UTC; fold=0 shifts a skipped time past the gap."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
