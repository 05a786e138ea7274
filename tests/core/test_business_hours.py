"""BUSINESS_HOURS: parsing (with a message that shows the right form) and counting business
seconds between two instants, across days, nights and clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, Settings, describe_problem
from core.business_hours import BusinessHoursError, business_seconds, parse_business_hours

H = 3600
BERLIN = ZoneInfo("Europe/Berlin")


def local(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def test_empty_is_always_business_time() -> None:
    hours = parse_business_hours("", "Europe/Moscow")
    start = datetime(2026, 11, 7, 23, 0, tzinfo=UTC)  # a Saturday night
    assert hours.always
    assert business_seconds(hours, start, start + timedelta(hours=5)) == 5 * H
    assert hours.is_open(start)


def test_weekdays_count_only_their_hours() -> None:
    hours = parse_business_hours("mon-fri 09:00-18:00; sat 10:00-14:00", BERLIN)
    # Friday 17:00 -> Monday 10:00: 1 h on Friday, 4 h on Saturday, none on Sunday, 1 h Monday.
    assert business_seconds(hours, local("2026-11-06 17:00"), local("2026-11-09 10:00")) == 6 * H
    # Inside one day, and wholly outside the hours.
    assert business_seconds(hours, local("2026-11-09 10:00"), local("2026-11-09 10:30")) == 1800
    assert business_seconds(hours, local("2026-11-08 10:00"), local("2026-11-08 20:00")) == 0
    assert hours.is_open(local("2026-11-07 13:59")) and not hours.is_open(local("2026-11-07 14:00"))


def test_overnight_hours_run_into_the_next_day() -> None:
    hours = parse_business_hours("fri 22:00-02:00", BERLIN)
    # Friday 23:00 -> Saturday 03:00: 23-24 and 00-02 count.
    assert business_seconds(hours, local("2026-11-06 23:00"), local("2026-11-07 03:00")) == 3 * H
    assert hours.is_open(local("2026-11-07 01:00"))
    assert not hours.is_open(local("2026-11-08 01:00"))  # Saturday night: not on Sundays


def test_a_day_when_the_clocks_move_has_the_hours_it_really_had() -> None:
    hours = parse_business_hours("mon-sun 00:00-24:00", BERLIN)
    # 29 March 2026: clocks go forward at 02:00 (a 23-hour day); 25 October: back (25 hours).
    spring = business_seconds(hours, local("2026-03-29 00:00"), local("2026-03-30 00:00"))
    autumn = business_seconds(hours, local("2026-10-25 00:00"), local("2026-10-26 00:00"))
    assert (spring, autumn) == (23 * H, 25 * H)
    night = parse_business_hours("sun 01:00-04:00", BERLIN)
    # 01:00-04:00 on the spring day holds only two real hours (02:00-03:00 does not exist).
    assert business_seconds(night, local("2026-03-29 00:00"), local("2026-03-29 12:00")) == 2 * H


def test_several_ranges_lists_and_russian_days() -> None:
    hours = parse_business_hours("пн,ср 09:00-13:00, 14:00-18:00", BERLIN)
    assert business_seconds(hours, local("2026-11-09 08:00"), local("2026-11-09 20:00")) == 8 * H
    assert business_seconds(hours, local("2026-11-10 08:00"), local("2026-11-10 20:00")) == 0


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("weekdays 9-18", "'weekdays 9-18', which does not start with days"),
        ("mon-fri 9am-6pm", "'9am-6pm', which is not hours like 09:00-18:00"),
        ("mon 25:00-26:00", "'25:00-26:00', which is not a time of day"),
        ("mon 09:00-09:00", "'09:00-09:00', which is no time at all"),
    ],
)
def test_a_mistake_names_the_part_and_the_right_form(value: str, said: str) -> None:
    with pytest.raises(BusinessHoursError, match="like mon-fri 09:00-18:00") as caught:
        parse_business_hours(value)
    assert said in str(caught.value)


def test_the_setting_is_checked_at_start() -> None:
    with pytest.raises(Exception) as caught:
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            BOT_TOKEN="1:abc",
            TEAM_CHAT_ID=-1001,
            BUSINESS_HOURS="weekdays",
        )
    error = caught.value
    lines = error.problems if isinstance(error, ConfigError) else [
        describe_problem(e) for e in error.errors()  # type: ignore[attr-defined]
    ]  # fmt: skip
    assert any(
        line.startswith("BUSINESS_HOURS='weekdays' has 'weekdays'")
        and "mon-fri 09:00-18:00" in line
        for line in lines
    ), lines
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        BOT_TOKEN="1:abc",
        TEAM_CHAT_ID=-1001,
        TIMEZONE="Europe/Berlin",
        BUSINESS_HOURS="mon-fri 09:00-18:00",
    )
    assert settings.business_hours.tz == BERLIN and not settings.business_hours.always
