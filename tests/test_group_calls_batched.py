"""Group calls that go out at the same time are written down in one statement, each before
its own call goes out."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.methods import SendMessage

from bench.counters import SqlCensus, census_between
from bot.ratelimit import GroupCallLog
from bot.storage import GroupCall
from core.clock import FrozenClock

GROUP = -1001234567891
BOT = Bot("4343:secret")


async def test_calls_at_the_same_time_are_written_down_together(db, clock: FrozenClock):
    log = GroupCallLog(GROUP, clock)
    written: list[int] = []

    async def request(bot: Bot, method: Any) -> str:
        written.append(await GroupCall.filter(bot_id=BOT.id).count())
        return "answered"

    census = SqlCensus()
    census.install()
    try:
        before = census.snapshot()
        calls = [log(request, BOT, SendMessage(chat_id=GROUP, text=f"{n}")) for n in range(5)]
        assert await asyncio.gather(*calls) == ["answered"] * 5
        shapes = census_between(before["by_text"], census.snapshot()["by_text"])
    finally:
        census.uninstall()
    inserts = sum(n for text, n in shapes.items() if text.startswith('INSERT INTO "groupcall"'))
    assert inserts == 1, shapes
    assert written and min(written) == 5  # every call was written down before any went
