from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.snooze import (
    FOREVER,
    PHRASES,
    SNOOZE_USAGE,
    Forever,
    SnoozeError,
    describe_error,
    describe_until,
    parse_snooze,
    snooze_presets,
)

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3, no DST
BERLIN = ZoneInfo("Europe/Berlin")  # DST: 2026-03-29 02:00→03:00, 2026-10-25 03:00→02:00

# Wednesday 2026-03-04 12:00 in Moscow.
NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def moscow(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def parse(text: str, now: datetime = NOW, tz: ZoneInfo = MOSCOW) -> datetime | Forever:
    return parse_snooze(text, now, tz)


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("2H", timedelta(hours=2)),
        ("2ч", timedelta(hours=2)),
        ("30 мин", timedelta(minutes=30)),
        ("3д", timedelta(days=3)),
        ("in 2 hours", timedelta(hours=2)),
        ("In 2 Hours", timedelta(hours=2)),
        ("2 hours", timedelta(hours=2)),
        ("1 hour", timedelta(hours=1)),
        ("an hour", timedelta(hours=1)),
        ("in an hour", timedelta(hours=1)),
        ("for 45 minutes", timedelta(minutes=45)),
        ("30 minutes", timedelta(minutes=30)),
        ("3 days", timedelta(days=3)),
        ("a day", timedelta(days=1)),
        ("a week", timedelta(weeks=1)),
        ("in a week", timedelta(weeks=1)),
        ("2 weeks", timedelta(weeks=2)),
        ("1 hour and 30 minutes", timedelta(hours=1, minutes=30)),
        ("half an hour", timedelta(minutes=30)),
        ("через 2 часа", timedelta(hours=2)),
        ("Через 2 часа", timedelta(hours=2)),
        ("2 часа", timedelta(hours=2)),
        ("5 часов", timedelta(hours=5)),
        ("через час", timedelta(hours=1)),
        ("час", timedelta(hours=1)),
        ("30 минут", timedelta(minutes=30)),
        ("через 1 минуту", timedelta(minutes=1)),
        ("3 дня", timedelta(days=3)),
        ("5 дней", timedelta(days=5)),
        ("1 день", timedelta(days=1)),
        ("сутки", timedelta(days=1)),
        ("неделю", timedelta(weeks=1)),
        ("на неделю", timedelta(weeks=1)),
        ("через неделю", timedelta(weeks=1)),
        ("2 недели", timedelta(weeks=2)),
        ("1 час 30 минут", timedelta(hours=1, minutes=30)),
        ("2 часа и 15 минут", timedelta(hours=2, minutes=15)),
        ("полчаса", timedelta(minutes=30)),
    ],
)
def test_durations_are_added_to_now(text: str, span: timedelta) -> None:
    result = parse(text)
    assert result == NOW + span
    assert isinstance(result, datetime)
    assert result.tzinfo is UTC


def test_durations_are_exact_spans_across_dst() -> None:
    # Saturday 2026-03-28 12:00 CET; the clocks go forward that night.
    now = berlin(2026, 3, 28, 12, 0)
    assert parse("1d", now, BERLIN) == now + timedelta(hours=24)
    assert parse("1d", now, BERLIN) == berlin(2026, 3, 29, 13, 0)  # 24 h, not 12:00 again


# --- forever -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "forever",
        "Forever",
        "FOREVER!",
        "until reply",
        "until the client writes",
        "навсегда",
        "Навсегда",
        "до ответа",
        "пока клиент не напишет",
        "  пока   клиент не напишет ",
    ],
)
def test_forever(text: str) -> None:
    assert parse(text) is FOREVER


# --- today, tomorrow, bare times -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow", moscow(2026, 3, 5, 10, 0)),
        ("Tomorrow", moscow(2026, 3, 5, 10, 0)),
        ("завтра", moscow(2026, 3, 5, 10, 0)),
        ("tomorrow 15:00", moscow(2026, 3, 5, 15, 0)),
        ("tomorrow at 15:00", moscow(2026, 3, 5, 15, 0)),
        ("15:00 tomorrow", moscow(2026, 3, 5, 15, 0)),
        ("tomorrow 9:30", moscow(2026, 3, 5, 9, 30)),
        ("tomorrow 3pm", moscow(2026, 3, 5, 15, 0)),
        ("tomorrow 10.00", moscow(2026, 3, 5, 10, 0)),
        ("tomorrow 10", moscow(2026, 3, 5, 10, 0)),
        ("завтра в 15:00", moscow(2026, 3, 5, 15, 0)),
        ("завтра 15:00", moscow(2026, 3, 5, 15, 0)),
        ("завтра в 10", moscow(2026, 3, 5, 10, 0)),
        ("послезавтра", moscow(2026, 3, 6, 10, 0)),
        ("today 18:00", moscow(2026, 3, 4, 18, 0)),
        ("сегодня 18:00", moscow(2026, 3, 4, 18, 0)),
        ("сегодня в 18:00", moscow(2026, 3, 4, 18, 0)),
        ("18:00", moscow(2026, 3, 4, 18, 0)),
        ("в 18:00", moscow(2026, 3, 4, 18, 0)),
        ("at 18:00", moscow(2026, 3, 4, 18, 0)),
        ("в 18.00", moscow(2026, 3, 4, 18, 0)),
        ("at 6pm", moscow(2026, 3, 4, 18, 0)),
        ("6 PM", moscow(2026, 3, 4, 18, 0)),
        ("12:30", moscow(2026, 3, 4, 12, 30)),
        ("11:00", moscow(2026, 3, 5, 11, 0)),  # already gone today → tomorrow
        ("12:00", moscow(2026, 3, 5, 12, 0)),  # exactly now is not ahead
        ("09:00", moscow(2026, 3, 5, 9, 0)),
        ("0:15", moscow(2026, 3, 5, 0, 15)),
        ("at 10", moscow(2026, 3, 5, 10, 0)),
        ("в 10", moscow(2026, 3, 5, 10, 0)),
        ("в 13", moscow(2026, 3, 4, 13, 0)),
    ],
)
def test_days_and_times(text: str, expected: datetime) -> None:
    result = parse(text)
    assert result == expected
    assert isinstance(result, datetime)
    assert result.tzinfo is UTC


def test_local_date_not_utc_date() -> None:
    # 2026-03-04 22:30 UTC is already Thursday 01:30 in Moscow.
    now = datetime(2026, 3, 4, 22, 30, tzinfo=UTC)
    assert parse("today 18:00", now) == moscow(2026, 3, 5, 18, 0)
    assert parse("tomorrow", now) == moscow(2026, 3, 6, 10, 0)
    assert parse("09:00", now) == moscow(2026, 3, 5, 9, 0)
    assert parse("thu", now) == moscow(2026, 3, 12, 10, 0)  # Thursday already: next week


# --- weekdays ------------------------------------------------------------------------------

WEEKDAY_SPELLINGS = [
    # (day offset from Wednesday 2026-03-04 → next such day, spellings)
    (5, ["mon", "monday", "Monday", "пн", "понедельник", "в понедельник", "on monday"]),
    (6, ["tue", "tuesday", "вт", "вторник", "во вторник"]),
    (7, ["wed", "wednesday", "ср", "среда", "в среду"]),
    (1, ["thu", "thursday", "чт", "четверг", "в четверг"]),
    (2, ["fri", "friday", "пт", "пятница", "в пятницу", "next fri"]),
    (3, ["sat", "saturday", "сб", "суббота", "в субботу"]),
    (4, ["sun", "sunday", "вс", "воскресенье", "в воскресенье"]),
]


@pytest.mark.parametrize(
    ("text", "offset"),
    [(text, offset) for offset, texts in WEEKDAY_SPELLINGS for text in texts],
)
def test_weekdays_at_ten(text: str, offset: int) -> None:
    assert parse(text) == moscow(2026, 3, 4 + offset, 10, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon 9:30", moscow(2026, 3, 9, 9, 30)),
        ("monday at 9:30", moscow(2026, 3, 9, 9, 30)),
        ("mon 9", moscow(2026, 3, 9, 9, 0)),
        ("пн 9:30", moscow(2026, 3, 9, 9, 30)),
        ("в понедельник в 9:30", moscow(2026, 3, 9, 9, 30)),
        ("во вторник в 9", moscow(2026, 3, 10, 9, 0)),
        ("в среду 18:00", moscow(2026, 3, 11, 18, 0)),  # never today, even if still ahead
        ("пт 17.30", moscow(2026, 3, 6, 17, 30)),
    ],
)
def test_weekdays_with_time(text: str, expected: datetime) -> None:
    assert parse(text) == expected


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.12 10:00", moscow(2026, 12, 25, 10, 0)),
        ("25.12", moscow(2026, 12, 25, 10, 0)),
        ("25.12 18:30", moscow(2026, 12, 25, 18, 30)),
        ("25.12 в 18:30", moscow(2026, 12, 25, 18, 30)),
        ("25.12 18.30", moscow(2026, 12, 25, 18, 30)),
        ("25.12 18", moscow(2026, 12, 25, 18, 0)),
        ("5.4", moscow(2026, 4, 5, 10, 0)),
        ("25.12.2026 10:00", moscow(2026, 12, 25, 10, 0)),
        ("25.12.2026", moscow(2026, 12, 25, 10, 0)),
        ("25.12.26", moscow(2026, 12, 25, 10, 0)),
        ("25.12.2027 9:00", moscow(2027, 12, 25, 9, 0)),
        ("2026-12-25 10:00", moscow(2026, 12, 25, 10, 0)),
        ("2026-12-25", moscow(2026, 12, 25, 10, 0)),
        ("2026-12-25T10:00", moscow(2026, 12, 25, 10, 0)),
        ("01.02", moscow(2027, 2, 1, 10, 0)),  # passed this year → next year
        ("03.03 15:00", moscow(2027, 3, 3, 15, 0)),  # yesterday → next year
        ("04.03 15:00", moscow(2026, 3, 4, 15, 0)),  # today, still ahead
        ("29.02", moscow(2028, 2, 29, 10, 0)),  # the next leap year
    ],
)
def test_dates(text: str, expected: datetime) -> None:
    assert parse(text) == expected


# --- DST -----------------------------------------------------------------------------------


def test_berlin_spring_forward() -> None:
    now = berlin(2026, 3, 28, 12, 0)  # Saturday, CET (UTC+1)
    assert parse("tomorrow", now, BERLIN) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # CEST
    assert parse("завтра 15:00", now, BERLIN) == datetime(2026, 3, 29, 13, 0, tzinfo=UTC)
    assert parse("mon", now, BERLIN) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert parse("29.03 10:00", now, BERLIN) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert parse("today 18:00", now, BERLIN) == datetime(2026, 3, 28, 17, 0, tzinfo=UTC)
    # 02:30 does not exist that night: it lands after the gap, at 03:30 CEST.
    skipped = parse("tomorrow 2:30", now, BERLIN)
    assert skipped == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert isinstance(skipped, datetime)
    assert skipped.astimezone(BERLIN).strftime("%H:%M") == "03:30"


def test_berlin_fall_back() -> None:
    now = berlin(2026, 10, 24, 12, 0)  # Saturday, CEST (UTC+2)
    assert parse("tomorrow", now, BERLIN) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # CET
    assert parse("вс", now, BERLIN) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    assert parse("2026-10-26 10:00", now, BERLIN) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    # 02:30 happens twice: the first one (CEST).
    assert parse("tomorrow 2:30", now, BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_berlin_bare_time_on_switch_night() -> None:
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET, the clocks jump at 02:00
    assert parse("09:00", now, BERLIN) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # CEST
    assert parse("01:00", now, BERLIN) == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "blah",
        "25.13",
        "32.01",
        "31.02",
        "31.02.2027",
        "2026-13-01",
        "99:00",
        "24:00",
        "12:60",
        "9:5",
        "10",
        "10.00",
        "13pm",
        "-2h",
        "-2 hours",
        "0m",
        "0 минут",
        "2",
        "today",
        "сегодня",
        "tomorrow mon",
        "mon tue",
        "tomorrow 10:00 11:00",
        "25.12 26.12",
        "через",
        "2 hours blah",
        "1h 1h",
        "blah tomorrow",
        "999999999 weeks",
    ],
)
def test_nonsense_rejected(text: str) -> None:
    with pytest.raises(SnoozeError) as caught:
        parse(text)
    assert caught.value.reason == "invalid"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", ["", "   ", "!"])
def test_empty_rejected(text: str) -> None:
    with pytest.raises(SnoozeError) as caught:
        parse(text)
    assert caught.value.reason == "empty"


@pytest.mark.parametrize(
    "text",
    [
        "today 11:00",
        "сегодня 12:00",  # exactly now is not in the future
        "сегодня в 9",
        "04.03",  # today at 10:00, already gone
        "04.03 11:59",
        "04.03.2026 11:00",
        "03.03.2026",
        "01.01.2020 10:00",
        "2025-12-25",
        "2026-03-04 11:00",
    ],
)
def test_past_rejected(text: str) -> None:
    with pytest.raises(SnoozeError) as caught:
        parse(text)
    assert caught.value.reason == "past"


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_snooze("2h", datetime(2026, 3, 4, 12, 0), MOSCOW)


def test_every_result_is_utc_and_ahead() -> None:
    texts = ["30m", "tomorrow", "mon 9:30", "18:00", "25.12", "01.01 9:00", "неделю"]
    for now in (
        NOW,
        datetime(2026, 3, 4, 22, 30, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    ):
        for text in texts:
            result = parse(text, now)
            assert isinstance(result, datetime)
            assert result.tzinfo is UTC
            assert result > now


# --- presets -------------------------------------------------------------------------------


def test_presets() -> None:
    presets = snooze_presets(NOW, MOSCOW)
    assert [key for key, _ in presets] == ["1h", "3h", "tomorrow", "monday", "forever"]
    values = dict(presets)
    assert values["1h"] == NOW + timedelta(hours=1)
    assert values["3h"] == NOW + timedelta(hours=3)
    assert values["tomorrow"] == moscow(2026, 3, 5, 10, 0)
    assert values["monday"] == moscow(2026, 3, 9, 10, 0)
    assert values["forever"] is FOREVER
    for _, value in presets[:4]:
        assert isinstance(value, datetime)
        assert value.tzinfo is UTC


def test_presets_match_parsing() -> None:
    values = dict(snooze_presets(NOW, MOSCOW))
    for key in values:
        assert parse(key) == values[key]


def test_presets_monday_is_next_week_on_a_monday() -> None:
    monday_morning = moscow(2026, 3, 9, 8, 0)
    assert dict(snooze_presets(monday_morning, MOSCOW))["monday"] == moscow(2026, 3, 16, 10, 0)


def test_presets_across_dst() -> None:
    values = dict(snooze_presets(berlin(2026, 3, 28, 12, 0), BERLIN))
    assert values["tomorrow"] == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert values["monday"] == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


# --- describe_until ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "en", "ru"),
    [
        (FOREVER, "until the client writes", "пока клиент не напишет"),
        (moscow(2026, 3, 4, 18, 0), "until today 18:00", "до 18:00 сегодня"),
        (moscow(2026, 3, 5, 10, 0), "until tomorrow 10:00", "до завтра 10:00"),
        (moscow(2026, 3, 9, 10, 0), "until Monday 10:00", "до понедельника 10:00"),
        (moscow(2026, 3, 6, 9, 30), "until Friday 09:30", "до пятницы 09:30"),
        (moscow(2026, 3, 11, 10, 0), "until 11.03 10:00", "до 11.03 10:00"),
        (moscow(2026, 12, 25, 10, 0), "until 25.12 10:00", "до 25.12 10:00"),
        (moscow(2027, 2, 1, 10, 0), "until 01.02.2027 10:00", "до 01.02.2027 10:00"),
    ],
)
def test_describe_until(moment: datetime | Forever, en: str, ru: str) -> None:
    assert describe_until(moment, NOW, MOSCOW, "en") == en
    assert describe_until(moment, NOW, MOSCOW, "ru") == ru


def test_describe_until_uses_local_time() -> None:
    now = berlin(2026, 3, 28, 12, 0)
    moment = parse("tomorrow", now, BERLIN)
    assert describe_until(moment, now, BERLIN, "en") == "until tomorrow 10:00"
    assert describe_until(moment, now, MOSCOW, "ru") == "до завтра 11:00"


def test_describe_until_language_fallback() -> None:
    moment = moscow(2026, 3, 5, 10, 0)
    assert describe_until(moment, NOW, MOSCOW, "ru-RU") == "до завтра 10:00"
    assert describe_until(moment, NOW, MOSCOW, "de") == "until tomorrow 10:00"
    assert describe_until(moment, NOW, MOSCOW, "") == "until tomorrow 10:00"


def test_describe_until_round_trip() -> None:
    for text in ("2h", "tomorrow", "mon 9:30", "25.12 10:00", "forever"):
        moment = parse(text)
        assert describe_until(moment, NOW, MOSCOW, "ru")
        assert describe_until(moment, NOW, MOSCOW, "en")


# --- usage and error text ------------------------------------------------------------------


def test_usage() -> None:
    assert set(SNOOZE_USAGE) == set(PHRASES) == {"en", "ru"}
    assert SNOOZE_USAGE["en"] == (
        "Examples: /snooze 2h, /snooze tomorrow, /snooze mon 9:00, /snooze 25.12 10:00, "
        "/snooze forever"
    )
    assert SNOOZE_USAGE["ru"].startswith("Примеры: /snooze 2ч")
    assert "навсегда" in SNOOZE_USAGE["ru"]
    for lang, usage in SNOOZE_USAGE.items():
        for example in usage.split(": ", 1)[1].split(", "):
            assert parse(example.removeprefix("/snooze ")), (lang, example)


def test_phrase_tables_match() -> None:
    assert set(PHRASES["en"]) == set(PHRASES["ru"])


def test_describe_error() -> None:
    with pytest.raises(SnoozeError) as caught:
        parse("blah")
    assert describe_error(caught.value, "en") == f"I don't understand “blah”.\n{SNOOZE_USAGE['en']}"
    assert describe_error(caught.value, "ru") == f"Не понимаю «blah».\n{SNOOZE_USAGE['ru']}"
    with pytest.raises(SnoozeError) as caught:
        parse("today 11:00")
    assert "already in the past" in describe_error(caught.value, "en")
    assert "уже в прошлом" in describe_error(caught.value, "ru")
