"""The group's budget outlives a restart: each message into the team group is written down
before it goes out (bot.storage.GroupCall), and a new process starts its budget from the
last minute's rows. On SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (the real
migrations make the table there)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.methods import GetChatMember, PinChatMessage, SendMediaGroup, SendMessage
from aiogram.types import InputMediaPhoto

from bot.ratelimit import GroupCallLog, recent_group_calls
from bot.storage import GroupCall
from core.clock import FrozenClock
from tgapi.limits import GroupBudget

GROUP = -1001234567890
BOT = Bot("4242:secret")


async def make_request(bot: Bot, method: Any) -> str:
    return "answered"


class Monotonic:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


async def test_messages_into_the_group_are_written_down_before_they_go(db, clock: FrozenClock):
    log = GroupCallLog(GROUP, clock)
    written: list[int] = []

    async def request(bot: Bot, method: Any) -> str:
        written.append(await GroupCall.filter(bot_id=BOT.id).count())
        return "answered"

    assert await log(request, BOT, SendMessage(chat_id=GROUP, text="hi")) == "answered"
    assert written == [1]  # already there when the call went out
    album = [InputMediaPhoto(media="file-1"), InputMediaPhoto(media="file-2")]
    await log(make_request, BOT, SendMediaGroup(chat_id=GROUP, media=album))
    # Not counted by Telegram, or not in the group: not written down.
    await log(make_request, BOT, PinChatMessage(chat_id=GROUP, message_id=5))
    await log(make_request, BOT, GetChatMember(chat_id=GROUP, user_id=1))
    await log(make_request, BOT, SendMessage(chat_id=777, text="to a client"))
    assert await GroupCall.filter(bot_id=BOT.id).count() == 3  # an album: one per item


async def test_a_new_process_starts_the_budget_from_the_last_minute(db, clock: FrozenClock):
    log = GroupCallLog(GROUP, clock)
    for _ in range(20):
        await log(make_request, BOT, SendMessage(chat_id=GROUP, text="burst"))
    clock.advance(timedelta(seconds=15))

    monotonic = Monotonic()
    budget = GroupBudget(20, monotonic=monotonic)
    assert budget.wait_time() == 0  # a fresh budget knows nothing
    budget.restore(await recent_group_calls(BOT.id, clock.now()))
    assert budget.used_last_minute() == 20
    assert budget.take() == 45.0  # the burst leaves the minute 45 s from now
    monotonic.now += 45.0
    assert budget.take() == 0
    # Another bot's budget (a relay) is its own.
    assert await recent_group_calls(9999, clock.now()) == []


async def test_rows_older_than_the_minute_are_ignored_and_dropped(db, clock: FrozenClock):
    log = GroupCallLog(GROUP, clock)
    await log(make_request, BOT, SendMessage(chat_id=GROUP, text="old"))
    clock.advance(timedelta(seconds=61))
    await log(make_request, BOT, SendMessage(chat_id=GROUP, text="new"))
    clock.advance(timedelta(seconds=1))
    assert await recent_group_calls(BOT.id, clock.now()) == [1.0]
    clock.advance(timedelta(minutes=3))
    assert await recent_group_calls(BOT.id, clock.now()) == []
    assert await GroupCall.all().count() == 0  # pruned, the table stays small
