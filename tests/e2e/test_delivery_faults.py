"""Telegram hiccups: 5xx, 429 and timeouts are retried; nothing is lost or sent twice."""

from __future__ import annotations

from tests.e2e.conftest import bot_says, open_topic


async def test_a_5xx_into_the_group_is_retried_and_shown_once(desk):
    thread = await open_topic(desk)
    await desk.emu.fault(
        method="sendMessage",
        chat_id=desk.chat_id,
        error_code=502,
        description="Bad Gateway",
        times=2,
    )
    await desk.client_says("after the outage")
    shown = await desk.wait(lambda: bot_says(desk, thread, "after the outage"), timeout=15)
    assert len(shown) == 1
    failed = [c for c in await desk.emu.calls("sendMessage") if c.get("error_code") == 502]
    assert len(failed) == 2


async def test_a_429_on_a_reply_waits_retry_after_and_delivers_once(desk):
    thread = await open_topic(desk)
    await desk.emu.fault(
        method="copyMessage",
        chat_id=desk.client["id"],
        error_code=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
    )
    await desk.in_topic(thread, "We are on it")

    async def delivered():
        return [m for m in await desk.client_chat() if m.get("text") == "We are on it"]

    got = await desk.wait(delivered, timeout=15)
    assert len(got) == 1
    await desk.settle()
    assert len(await delivered()) == 1
    refused = [c for c in await desk.emu.calls("copyMessage") if c.get("error_code") == 429]
    assert len(refused) == 1
