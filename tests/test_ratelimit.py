"""The per-bot sliding window and the request middleware that keeps it, on a clock tests move."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessages,
    CreateForumTopic,
    EditMessageText,
    GetMe,
    GetUpdates,
    PinChatMessage,
    SendMediaGroup,
    SendMessage,
)
from aiogram.types import InputMediaPhoto

from tgapi.limits import BOT_CALLS_PER_SECOND, BotRateLimit, SlidingWindow, counted


class FakeTime:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def window(limit: int, time: FakeTime) -> SlidingWindow:
    return SlidingWindow(limit, 1.0, clock=time.clock, sleep=time.sleep)


async def test_the_limit_is_telegrams_thirty_a_second() -> None:
    assert BOT_CALLS_PER_SECOND == 30
    assert BotRateLimit().window.limit == 30 and BotRateLimit().window.span == 1.0


async def test_calls_within_the_limit_do_not_wait() -> None:
    time = FakeTime()
    w = window(3, time)
    for _ in range(3):
        await w.acquire()
        w.release(1)
    assert time.slept == [] and time.now == 1000.0


async def test_the_next_call_waits_until_the_oldest_is_a_second_old() -> None:
    time = FakeTime()
    w = window(3, time)
    for step in range(3):
        await w.acquire()
        w.release(1)
        time.now += 0.25 if step < 2 else 0.0
    # finished at 1000.0, 1000.25, 1000.5: the fourth may go at 1001.0
    await w.acquire()
    assert time.now == 1001.0 and time.slept == [0.5]


async def test_a_running_call_holds_its_slot_until_a_second_after_it_ends() -> None:
    time = FakeTime()
    w = window(1, time)
    await w.acquire()  # sent, no answer yet
    waiting = asyncio.create_task(w.acquire())
    await asyncio.sleep(0)
    time.now += 5.0
    await asyncio.sleep(0)
    assert not waiting.done()  # however long the answer takes
    w.release(1)  # answered at 1005.0
    await waiting
    assert time.now == 1006.0


async def test_an_album_counts_each_item_and_never_more_than_the_limit() -> None:
    time = FakeTime()
    w = window(5, time)
    assert await w.acquire(4) == 4
    w.release(4)
    await w.acquire(2)  # only one slot left in this second
    assert time.now == 1001.0
    w.release(2)
    assert await w.acquire(50) == 5  # a batch larger than the limit waits for an empty window
    assert time.now == 1002.0


async def test_a_burst_never_puts_more_than_the_limit_into_one_second() -> None:
    time = FakeTime()
    w = window(4, time)
    spans: list[tuple[float, float]] = []

    async def call() -> None:
        await w.acquire()
        start = time.now
        await time.sleep(0.1)  # the request's round trip
        spans.append((start, time.now))
        w.release(1)

    await asyncio.gather(*(call() for _ in range(20)))
    assert len(spans) == 20
    starts = sorted(start for start, _ in spans)
    ends = sorted(end for _, end in spans)
    # The call after each 4 starts a full second after the one 4 before it ended.
    for i in range(4, 20):
        assert starts[i] >= ends[i - 4] + 1.0 - 1e-9, (i, starts, ends)


def test_only_calls_telegram_counts_are_counted() -> None:
    chat = -1001
    assert counted(SendMessage(chat_id=chat, text="hi")) == 1
    assert counted(EditMessageText(chat_id=chat, message_id=1, text="hi")) == 1
    assert counted(CreateForumTopic(chat_id=chat, name="Ann")) == 1
    album = [InputMediaPhoto(media="id1"), InputMediaPhoto(media="id2")]
    assert counted(SendMediaGroup(chat_id=chat, media=album)) == 2
    assert counted(CopyMessages(chat_id=chat, from_chat_id=5, message_ids=[1, 2, 3])) == 3
    for free in (
        GetUpdates(),
        GetMe(),
        AnswerCallbackQuery(callback_query_id="1"),
        PinChatMessage(chat_id=chat, message_id=1),
    ):
        assert counted(free) == 0, free


async def test_the_middleware_waits_for_sending_calls_only() -> None:
    time = FakeTime()
    limit = BotRateLimit(window(2, time))
    made: list[str] = []

    async def make_request(bot: Any, method: Any) -> str:
        made.append(method.__api_method__)
        return "answer"

    for _ in range(3):
        assert await limit(make_request, None, SendMessage(chat_id=1, text="x")) == "answer"
    assert time.now == 1001.0  # the third waited for the first to be a second old
    for _ in range(5):
        await limit(make_request, None, GetUpdates())
    assert time.now == 1001.0 and made.count("getUpdates") == 5
    assert limit.window.running == 0


async def test_a_failed_call_gives_its_slot_back_a_second_later() -> None:
    time = FakeTime()
    limit = BotRateLimit(window(1, time))

    async def failing(bot: Any, method: Any) -> Any:
        raise RuntimeError("network")

    with pytest.raises(RuntimeError):
        await limit(failing, None, SendMessage(chat_id=1, text="x"))
    assert limit.window.running == 0

    async def answering(bot: Any, method: Any) -> str:
        return "ok"

    assert await limit(answering, None, SendMessage(chat_id=1, text="x")) == "ok"
    assert time.now == 1001.0
