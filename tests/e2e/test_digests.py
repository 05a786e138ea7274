"""Digests (#16): at DIGEST_TIME (in TIMEZONE) each manager who started the bot gets yesterday's
numbers in private, in their own language, and on Mondays also the last week's; an operator
who is not a manager gets none; after a restart a digest whose time passed that day comes at
start, and never twice; DIGEST_TIME=off sends none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.clock import FrozenClock
from core.digests import DigestKind, due_periods, parse_digest_time
from core.lifecycle import DialogStatus
from core.models import Message
from tests.e2e.conftest import Desk, running_desk, team_and_client
from tests.e2e.teamwork import new_topic, private_has, start_private, teamwork_desk

MOSCOW = ZoneInfo("Europe/Moscow")
DAILY_EN = "☀️ Yesterday's numbers"
WEEKLY_EN = "🗓 Last week's numbers"
DAILY_RU = "☀️ Итоги вчерашнего дня"


def at(text: str) -> datetime:
    """A moment in Moscow."""
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW)


async def answer_and_close(desk: Desk, thread: int, reply_at: str, close_at: str) -> None:
    """Olga answers the client in the topic, then closes the dialog."""
    desk.clock.set(at(reply_at))
    await desk.in_topic(thread, "Hi Ann")

    async def answered() -> bool:
        return await Message.filter(author__user_id=desk.operator["id"]).exists()

    await desk.wait(answered)
    desk.clock.set(at(close_at))
    await desk.in_topic(thread, "/close")

    async def closed() -> bool:
        return await desk.status() is DialogStatus.CLOSED

    await desk.wait(closed)


async def digests(desk: Desk, who: dict[str, Any], header: str) -> list[dict[str, Any]]:
    return await private_has(desk, who, header)


@pytest.fixture
async def sunday_desk(emulator: Any) -> AsyncIterator[Desk]:
    """Sunday 11.01.2026, 08:00 in Moscow; digests at 09:00."""
    clock = FrozenClock(at("2026-01-11 08:00"))
    async for desk in teamwork_desk(emulator, DIGEST_TIME="09:00", clock=clock):
        yield desk


async def test_managers_get_yesterdays_numbers_and_on_monday_the_weeks(
    sunday_desk: Desk,
) -> None:
    desk = sunday_desk
    olga, pavel = desk.operator, desk.colleague  # an administrator (a manager); a member
    await start_private(desk, olga)
    await start_private(desk, pavel)
    # Sunday: Ann asks at 08:10, Olga answers at 08:30 and closes at 08:40.
    desk.clock.set(at("2026-01-11 08:10"))
    thread = await new_topic(desk)
    await answer_and_close(desk, thread, "2026-01-11 08:30", "2026-01-11 08:40")
    # Sunday's own digest time passes: Saturday's (empty) digest; nobody was told of it yet.
    desk.clock.set(at("2026-01-11 09:00"))
    assert await desk.app.core.digests.send_due() == 1
    await desk.wait(lambda: digests(desk, olga, DAILY_EN))
    # Monday, a minute before the time: nothing yet.
    desk.clock.set(at("2026-01-12 08:59"))
    assert await desk.app.core.digests.send_due() == 0
    desk.clock.set(at("2026-01-12 09:00"))
    assert await desk.app.core.digests.send_due() == 2

    async def two_daily() -> list[dict[str, Any]] | None:
        found = await digests(desk, olga, DAILY_EN)
        return found if len(found) == 2 else None

    daily = (await desk.wait(two_daily))[-1]["text"]
    lines = daily.splitlines()
    assert lines[:3] == [DAILY_EN, "📊 Statistics for 11.01.2026", "compared with 10.01.2026"]
    assert "New episodes: 1 ▲1" in lines
    assert "Closed: 1 ▲1" in lines
    assert "First response: median 20m, 90% 20m" in lines
    assert "Resolution: median 30m, 90% 30m" in lines
    assert "• Olga: closed 1, first response 20m (1)" in lines
    assert "/stats week" in lines[-1]

    [weekly] = await desk.wait(lambda: digests(desk, olga, WEEKLY_EN))
    lines = weekly["text"].splitlines()
    assert lines[:3] == [
        WEEKLY_EN,
        "📊 Statistics for 05.01–11.01.2026",
        "compared with 29.12.2025–04.01.2026",
    ]
    assert "New episodes: 1 ▲1" in lines and "Closed: 1 ▲1" in lines
    # The header is bold.
    entities = weekly.get("entities") or []
    assert any(e["type"] == "bold" and e["offset"] == 0 for e in entities), entities

    # Once only: the sweep again sends nothing; Pavel (no manager) got none.
    assert await desk.app.core.digests.send_due() == 0
    await desk.settle()
    assert len(await digests(desk, olga, DAILY_EN)) == 2
    assert len(await digests(desk, olga, WEEKLY_EN)) == 1
    assert not [m for m in await desk.operator_private(pavel) if "📊" in (m.get("text") or "")]


async def test_a_digest_arrives_at_its_time_after_a_restart_and_not_twice(
    emulator: Any, tmp_path: Path
) -> None:
    chat_id, people = await team_and_client(emulator)
    olga, pavel = people[:2]
    # Pavel, a member, is a manager by MANAGERS: he reads his in Russian.
    settings = {
        "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite3'}",
        "DIGEST_TIME": "09:00",
        "MANAGERS": "@pavel",
        "GROUP_MESSAGES_PER_MINUTE": 600,
    }

    # Tuesday morning, before the time: a client is answered; eadesk stops at 08:50.
    clock = FrozenClock(at("2026-01-06 08:00"))
    async with running_desk(emulator, chat_id, *people, clock=clock, **settings) as desk:
        await start_private(desk, olga)
        await start_private(desk, pavel)
        desk.clock.set(at("2026-01-06 08:10"))
        thread = await new_topic(desk)
        await answer_and_close(desk, thread, "2026-01-06 08:20", "2026-01-06 08:50")
        assert await desk.app.core.digests.send_due() == 0

    # Down over 09:00; back on Wednesday at 10:00: Tuesday's digest comes at the start.
    clock = FrozenClock(at("2026-01-07 10:00"))
    async with running_desk(emulator, chat_id, *people, clock=clock, **settings) as desk:
        [english] = await desk.wait(lambda: digests(desk, olga, DAILY_EN))
        assert "📊 Statistics for 06.01.2026" in english["text"]
        assert "New episodes: 1 ▲1" in english["text"]
        [russian] = await desk.wait(lambda: digests(desk, pavel, DAILY_RU))
        assert "📊 Статистика за 06.01.2026" in russian["text"]
        assert "Закрыто: 1 ▲1" in russian["text"]
        # Wednesday is no Monday: no weekly one.
        assert not await digests(desk, olga, WEEKLY_EN)
        assert await desk.app.core.digests.send_due() == 0

    # Started again the same day: nothing twice. Next morning it comes at its time.
    clock = FrozenClock(at("2026-01-07 11:00"))
    async with running_desk(emulator, chat_id, *people, clock=clock, **settings) as desk:
        assert await desk.app.core.digests.send_due() == 0
        await desk.settle()
        assert len(await digests(desk, olga, DAILY_EN)) == 1
        assert len(await digests(desk, pavel, DAILY_RU)) == 1
        desk.clock.set(at("2026-01-08 08:59"))
        assert await desk.app.core.digests.send_due() == 0
        desk.clock.set(at("2026-01-08 09:00"))
        assert await desk.app.core.digests.send_due() == 1
        found = await desk.wait(lambda: _at_least(desk, olga, DAILY_EN, 2))
        assert "📊 Statistics for 07.01.2026" in found[-1]["text"]

    # Down from Thursday 09:00 to Saturday 10:00: Saturday's digest (Friday's numbers) comes at
    # the start; Friday's (Thursday's numbers), whose day is over, is not sent late.
    clock = FrozenClock(at("2026-01-10 10:00"))
    async with running_desk(emulator, chat_id, *people, clock=clock, **settings) as desk:
        found = await desk.wait(lambda: _at_least(desk, olga, DAILY_EN, 3))
        assert "📊 Statistics for 09.01.2026" in found[-1]["text"]
        await desk.settle()
        texts = [m["text"] for m in await digests(desk, olga, DAILY_EN)]
        assert len(texts) == 3
        assert not any("Statistics for 08.01.2026" in text for text in texts)


async def _at_least(
    desk: Desk, who: dict[str, Any], header: str, count: int
) -> list[dict[str, Any]] | None:
    found = await digests(desk, who, header)
    return found if len(found) >= count else None


@pytest.fixture
async def off_desk(emulator: Any) -> AsyncIterator[Desk]:
    clock = FrozenClock(at("2026-01-12 10:00"))  # a Monday, after any usual time
    async for desk in teamwork_desk(emulator, DIGEST_TIME="off", clock=clock):
        yield desk


async def test_digest_time_off_sends_none(off_desk: Desk) -> None:
    desk = off_desk
    await start_private(desk, desk.operator)
    for moment in ("2026-01-12 23:59", "2026-01-13 09:00"):
        desk.clock.set(at(moment))
        assert await desk.app.core.digests.send_due() == 0
    await desk.settle()
    assert not [m for m in await desk.operator_private() if "📊" in (m.get("text") or "")]


# ---- the schedule, read directly -------------------------------------------------------------


def test_digest_time_reads_hh_mm_or_off() -> None:
    assert parse_digest_time("09:00") == time(9, 0)
    assert parse_digest_time(" 7:30 ") == time(7, 30)
    assert parse_digest_time("OFF") is None
    for wrong in ("24:00", "9", "9am", "09:60"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_digest_time(wrong)


def test_what_is_due_yesterday_and_on_mondays_the_week() -> None:
    nine = time(9, 0)
    assert due_periods(at("2026-01-07 08:59"), nine, MOSCOW) == []
    [daily] = due_periods(at("2026-01-07 09:00"), nine, MOSCOW)
    assert (daily.kind, str(daily.first_day), str(daily.last_day)) == (
        DigestKind.DAILY,
        "2026-01-06",
        "2026-01-06",
    )
    # Monday 00:30 in Moscow is still Sunday in UTC: the day is Moscow's.
    daily, weekly = due_periods(at("2026-01-12 00:30"), time(0, 0), MOSCOW)
    assert str(daily.first_day) == "2026-01-11"
    assert (weekly.kind, str(weekly.first_day), str(weekly.last_day)) == (
        DigestKind.WEEKLY,
        "2026-01-05",
        "2026-01-11",
    )
