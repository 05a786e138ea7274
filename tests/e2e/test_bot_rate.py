"""Telegram's per-bot limit (~30 messages/s over all chats) is kept by the bots the app makes:
a burst waits for free slots instead of meeting 429s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiogram.exceptions import TelegramRetryAfter

from tests.e2e.conftest import TEAM_TOKEN, build_desk
from tgapi.limits import BOT_CALLS_PER_SECOND, BotRateLimit

# The emulator's per-bot limit is Telegram's own, the one the app keeps; a burst of more
# than two seconds' worth reaches it.
PER_SECOND = BOT_CALLS_PER_SECOND
BURST = 2 * PER_SECOND + 10
RELAY_TOKEN = "700901:relay-token"
CLIENT_TOKEN = "700902:client-token"


async def only_the_bot_limit_on(emulator: Any) -> None:
    """Telegram's limits on, the group's and the chats' too wide to matter here."""
    await emulator.limits(
        enabled=True,
        global_per_second=PER_SECOND,
        per_group_per_minute=10_000,
        per_chat_per_second=1_000,
    )


async def burst(bot: Any, chat_id: int, tag: str) -> list[Any]:
    sends = (bot.send_message(chat_id, f"{tag} {n}") for n in range(BURST))
    return list(await asyncio.gather(*sends, return_exceptions=True))


async def test_a_burst_through_the_apps_bot_meets_no_429(emulator):
    async for desk in build_desk(emulator):
        await only_the_bot_limit_on(emulator)
        # Without the limiter the same burst meets Telegram's 429s: the limit matters here.
        bare = await burst(emulator.make_bot(TEAM_TOKEN), desk.chat_id, "bare")
        assert any(isinstance(r, TelegramRetryAfter) for r in bare), bare
        await emulator.advance(5)  # the emulator forgets those calls

        started = time.monotonic()
        results = await burst(desk.app.bot, desk.chat_id, "paced")
        took = time.monotonic() - started

        failed = [r for r in results if isinstance(r, BaseException)]
        assert failed == [], failed
        calls = [
            c
            for c in await emulator.calls(method="sendMessage")
            if str(c["params"].get("text", "")).startswith("paced")
        ]
        assert len(calls) == BURST and all(c["ok"] for c in calls), calls
        assert not [c for c in calls if c["error_code"] == 429]
        posted = [m for m in await emulator.messages(desk.chat_id) if "paced" in (m["text"] or "")]
        assert len(posted) == BURST
        # 70 calls at 30 a second: the last ones waited about two seconds.
        assert 1.9 <= took < 8, took


async def test_every_bot_the_app_makes_keeps_the_limit(emulator):
    async for desk in build_desk(
        emulator, RELAY_BOT_TOKENS=RELAY_TOKEN, TELEGRAM_CLIENT_BOT_TOKENS=CLIENT_TOKEN
    ):
        app = desk.app
        bots = [*app.bots.values(), *(poster.bot for poster in app.desk.gateway.posters)]
        assert {bot.token for bot in bots} == {TEAM_TOKEN, RELAY_TOKEN, CLIENT_TOKEN}
        for bot in bots:
            limits = [m for m in bot.session.middleware if isinstance(m, BotRateLimit)]
            assert len(limits) == 1, bot.token
            assert limits[0].window.limit == 30
