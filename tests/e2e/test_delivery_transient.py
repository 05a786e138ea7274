"""Transient Telegram trouble on the way into a topic and out to the client.

A 500, a proxy's HTML "502 Bad Gateway" page, a timeout and a dropped connection are retried
with backoff, and the message shows up exactly once, in order with what the dialog said after
it. The outbox's backoff runs on `ctx.wall`, which these tests move instead of waiting.
"TOPIC_CLOSED" is healed by reopening the topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import GetUpdates, TelegramMethod

from bot.storage import TopicLink
from core.models import OutboxItem
from core.outbox import backoff
from tests.e2e.conftest import Desk, bot_says, build_desk, open_topic

# aiogram waits 60 s for an answer; here a call that hangs gives up after this long.
REQUEST_TIMEOUT = 1.0
PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
FAULTS: dict[str, dict[str, Any]] = {
    "500": {"error_code": 500, "description": "Internal Server Error"},
    "502-html-page": {"error_code": 502, "description": "Bad Gateway", "raw_body": PAGE},
    # Answered only after 5 s: the client times out first; the call is not carried out.
    "timeout": {"error_code": 504, "description": "Gateway Timeout", "delay": 5},
    "dropped-connection": {"drop": True},
}
transient = pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))


class Wall:
    """The outbox's wall clock: real time plus what the test skipped."""

    def __init__(self) -> None:
        self.skipped = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += timedelta(seconds=seconds)


def short_timeouts(bot: Bot, seconds: float) -> None:
    """Every call but the long poll gives up after `seconds`."""
    make_request = bot.session.make_request

    async def request(bot: Bot, method: TelegramMethod[Any], **kwargs: Any) -> Any:
        if not isinstance(method, GetUpdates):
            kwargs["timeout"] = seconds
        return await make_request(bot, method, **kwargs)

    bot.session.make_request = request  # type: ignore[method-assign]


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator):
        value.app.core.ctx.wall = Wall()
        for bot in value.app.bots.values():
            short_timeouts(bot, REQUEST_TIMEOUT)
        yield value


def wall(desk: Desk) -> Wall:
    clock = desk.app.core.ctx.wall
    assert isinstance(clock, Wall)
    return clock


async def failed_once(desk: Desk, method: str, needle: str = "") -> OutboxItem:
    """Wait until the call (carrying `needle`) failed and its outbox row was put off; check
    that it backs off rather than retrying at once."""

    async def put_off() -> OutboxItem | None:
        failed = [
            c
            for c in await desk.emu.calls(method)
            if not c["ok"] and needle in str(c["params"].get("text", ""))
        ]
        if not failed:
            return None
        return await OutboxItem.filter(status="pending", attempts__gte=1).first()

    row: OutboxItem = await desk.wait(put_off, timeout=10)
    assert row.attempts == 1, row.last_error
    assert row.last_error
    ahead = (row.not_before - wall(desk).now()).total_seconds()
    assert backoff(1) - 1 < ahead <= backoff(1), ahead
    return row


async def failures(desk: Desk, method: str) -> int:
    return len([c for c in await desk.emu.calls(method) if not c["ok"]])


async def topic_text(desk: Desk, thread: int) -> str:
    return "\n".join(
        m.get("text") or m.get("caption") or ""
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"]
    )


async def client_got(desk: Desk) -> list[str]:
    return [m.get("text") or "" for m in await desk.client_chat() if m["from"]["is_bot"]]


# ---- (a) a client message into its topic ---------------------------------------------------


@transient
async def test_a_client_message_reaches_its_topic_once_and_in_order(desk, fault):
    thread = await open_topic(desk)
    await desk.emu.fault(method="sendMessage", chat_id=desk.chat_id, **fault)
    await desk.client_says("first question")
    await failed_once(desk, "sendMessage", "first question")

    await desk.client_says("second question")
    await desk.settle()
    # Both wait: the first for its backoff, the second behind it in the dialog's lane.
    assert not await bot_says(desk, thread, "question")

    wall(desk).skip(backoff(1))
    await desk.wait(lambda: bot_says(desk, thread, "second question"))
    await desk.settle()
    text = await topic_text(desk, thread)
    assert text.count("first question") == 1, text
    assert text.count("second question") == 1, text
    assert text.index("first question") < text.index("second question")
    assert await failures(desk, "sendMessage") == 1


@transient
async def test_a_new_dialogs_topic_is_created_once_when_creating_it_fails(desk, fault):
    await desk.emu.fault(method="createForumTopic", chat_id=desk.chat_id, **fault)
    await desk.client_says("Hello")

    async def put_off() -> OutboxItem | None:
        if not await failures(desk, "createForumTopic"):
            return None
        return await OutboxItem.filter(status="pending", attempts__gte=1).first()

    row = await desk.wait(put_off, timeout=10)
    assert row.attempts == 1
    await desk.client_says("are you there?")
    await desk.settle()
    assert not await desk.topics()

    wall(desk).skip(backoff(1))
    thread = (await desk.only_topic())["thread_id"]
    await desk.wait(lambda: bot_says(desk, thread, "are you there?"))
    await desk.settle()
    assert len(await desk.topics()) == 1
    text = await topic_text(desk, thread)
    assert text.count("Hello") == 1 and text.count("are you there?") == 1, text
    assert text.index("Hello") < text.index("are you there?")
    created = [c for c in await desk.emu.calls("createForumTopic") if c["ok"]]
    assert len(created) == 1


# ---- (b) an operator reply to the client ---------------------------------------------------


@transient
async def test_an_operator_reply_reaches_the_client_once_and_in_order(desk, fault):
    thread = await open_topic(desk)
    await desk.emu.fault(method="copyMessage", chat_id=desk.client["id"], **fault)
    await desk.in_topic(thread, "We are on it")
    await failed_once(desk, "copyMessage")

    await desk.in_topic(thread, "Fixed now")
    await desk.settle()
    assert await client_got(desk) == []

    wall(desk).skip(backoff(1))

    async def both() -> list[str] | None:
        got = await client_got(desk)
        return got if len(got) >= 2 else None

    await desk.wait(both)
    await desk.settle()
    assert await client_got(desk) == ["We are on it", "Fixed now"]
    assert await failures(desk, "copyMessage") == 1


async def test_an_outage_backs_off_longer_each_time_and_the_reply_arrives_once(desk):
    thread = await open_topic(desk)
    await desk.emu.fault(method="copyMessage", chat_id=desk.client["id"], drop=True, times=3)
    await desk.in_topic(thread, "We are on it")
    row = await failed_once(desk, "copyMessage")
    for attempt in (2, 3):
        wall(desk).skip(backoff(attempt - 1))

        async def failed_again(attempt: int = attempt) -> OutboxItem | None:
            await desk.app.core.outbox.drain()
            return await OutboxItem.filter(id=row.id, attempts=attempt).first()

        again = await desk.wait(failed_again, timeout=10)
        ahead = (again.not_before - wall(desk).now()).total_seconds()
        assert backoff(attempt) - 1 < ahead <= backoff(attempt), (attempt, ahead)
        assert await client_got(desk) == []
    wall(desk).skip(backoff(3))
    await desk.wait(lambda: client_got(desk))
    await desk.settle()
    assert await client_got(desk) == ["We are on it"]


async def test_a_429_on_a_reply_is_a_wait_not_a_failed_attempt(desk):
    thread = await open_topic(desk)
    await desk.emu.fault(
        method="copyMessage",
        chat_id=desk.client["id"],
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
        times=3,
    )
    await desk.in_topic(thread, "We are on it")

    async def waiting() -> OutboxItem | None:
        if not await failures(desk, "copyMessage"):
            return None
        return await OutboxItem.filter(status="pending", last_error__contains="retry").first()

    for _ in range(3):
        row = await desk.wait(waiting, timeout=10)
        # Exactly retry_after, however often: no backoff on top, no attempt used up.
        assert row.attempts == 0
        ahead = (row.not_before - wall(desk).now()).total_seconds()
        assert 6 < ahead <= 7, ahead
        wall(desk).skip(7)
        await desk.settle()
    await desk.wait(lambda: client_got(desk))
    await desk.settle()
    assert await client_got(desk) == ["We are on it"]
    assert await failures(desk, "copyMessage") == 3


# ---- TOPIC_CLOSED ---------------------------------------------------------------------------


@pytest.mark.parametrize("refusals", [1, 2])
async def test_a_closed_topic_is_reopened_once_and_the_message_posted_once(desk, refusals):
    thread = await open_topic(desk)
    # Someone closed the topic by hand while the dialog is open; Telegram refuses the post
    # (as it does when the poster is no administrator).
    await desk.app.bot.close_forum_topic(desk.chat_id, thread)
    await desk.emu.fault(
        method="sendMessage",
        chat_id=desk.chat_id,
        description="Bad Request: TOPIC_CLOSED",
        times=refusals,
    )
    await desk.client_says("Anyone?")
    if refusals > 1:
        # Refused again in a topic now open: nothing more to heal, so a backoff, no loop.
        row = await failed_once(desk, "sendMessage", "Anyone?")
        assert "TOPIC_CLOSED" in (row.last_error or "")
        wall(desk).skip(backoff(1))
    await desk.wait(lambda: bot_says(desk, thread, "Anyone?"), timeout=10)
    await desk.settle()
    assert len(await bot_says(desk, thread, "Anyone?")) == 1
    reopened = [c for c in await desk.emu.calls("reopenForumTopic") if c["ok"]]
    assert len(reopened) == 1
    assert not (await desk.only_topic())["closed"]
    link = await TopicLink.get(dialog_id=(await desk.dialog()).id)
    assert not link.closed
    assert await failures(desk, "sendMessage") == refusals


# ---- a post of several calls ----------------------------------------------------------------


async def test_a_post_of_two_calls_failing_halfway_repeats_nothing(desk):
    thread = await open_topic(desk)
    # A location cannot carry a caption: its header goes in a text just above it.
    await desk.emu.fault(method="sendLocation", chat_id=desk.chat_id, error_code=502)
    await desk.client_says(location={"latitude": 59.93, "longitude": 30.31})
    await failed_once(desk, "sendLocation")
    wall(desk).skip(backoff(1))

    async def location() -> list[dict[str, Any]]:
        return [m for m in await desk.topic_messages(thread) if m["kind"] == "location"]

    await desk.wait(location)
    await desk.settle()
    # The location's header, "Ann Lee" alone: once, right above the location.
    shown = [m.get("text") or m["kind"] for m in await desk.topic_messages(thread)]
    assert shown.count("Ann Lee") == 1, shown
    assert shown[-2:] == ["Ann Lee", "location"], shown
