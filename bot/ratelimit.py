"""Telegram's limit for a whole bot, kept proactively: a bot waits for a free slot instead of
getting a 429. The group's and the private chats' budgets are kept elsewhere (GroupBudget,
the outbox); this one covers every chat of one bot together."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.methods import CopyMessages, ForwardMessages, SendMediaGroup

from bot.storage import GroupCall

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

    from core.clock import Clock

log = logging.getLogger(__name__)

# Telegram's documented limit for one bot: about 30 messages per second over all its chats
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
BOT_CALLS_PER_SECOND = 30
WINDOW_SECONDS = 1.0

# The calls Telegram counts against that limit: those that put or change a message or a
# topic in a chat (as the emulator's limiter counts them, plus the sends eadesk does not
# use). Reading (getUpdates, getMe, getChat…), answering callbacks, pins and deletions pass.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendAudio",
        "sendVideo",
        "sendVideoNote",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendMediaGroup",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "createForumTopic",
        "editForumTopic",
        "closeForumTopic",
        "reopenForumTopic",
    }
)


def counted(method: TelegramMethod[Any]) -> int:
    """How many messages `method` counts as against the bot's limit (0: not limited)."""
    if method.__api_method__ not in SENDING_METHODS:
        return 0
    if isinstance(method, SendMediaGroup):
        return max(1, len(method.media))  # an album is one message per item
    if isinstance(method, CopyMessages | ForwardMessages):
        return max(1, len(method.message_ids))
    return 1


class SlidingWindow:
    """At most `limit` calls in any `span` seconds, as the server sees them.

    A call holds its slot from the moment it is let through until `span` after it finished:
    the server received it somewhere in between, so however long the network took, no
    `span` on the server's side holds more than `limit` calls either. Callers wait their turn
    first come, first served."""

    def __init__(
        self,
        limit: int,
        span: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.span = span
        self.clock = clock
        self.sleep = sleep
        self.running = 0
        self.finished: deque[float] = deque()  # when the recent calls finished, oldest first
        self._turn = asyncio.Lock()
        self._freed = asyncio.Event()

    def wait_time(self, n: int = 1) -> float | None:
        """Seconds until `n` more calls fit (0: now; None: not before a running call ends)."""
        now = self.clock()
        while self.finished and self.finished[0] <= now - self.span:
            self.finished.popleft()
        excess = self.running + len(self.finished) + n - self.limit
        if excess <= 0:
            return 0.0
        if excess > len(self.finished):
            return None
        return max(0.0, self.finished[excess - 1] + self.span - now)

    async def acquire(self, n: int = 1) -> int:
        """Wait until `n` calls may go; they are counted from now. Returns what was taken."""
        n = min(max(n, 1), self.limit)  # more than the limit at once: as many as may go
        async with self._turn:
            while (wait := self.wait_time(n)) != 0:
                if wait is None:
                    self._freed.clear()
                    await self._freed.wait()
                else:
                    await self.sleep(wait)
            self.running += n
        return n

    def release(self, n: int) -> None:
        """`n` calls taken by `acquire` are over (answered, failed or cancelled)."""
        self.running -= n
        self.finished.extend([self.clock()] * n)
        self._freed.set()


class SendingCalls(BaseRequestMiddleware):
    """A Bot session's middleware around the calls that send (`counted`); the rest pass."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        n = counted(method)
        if not n:
            return await make_request(bot, method)
        taken = await self.before(n, bot, method)
        try:
            return await make_request(bot, method)
        finally:
            self.after(taken)

    async def before(self, n: int, bot: Bot, method: TelegramMethod[Any]) -> int:
        """Before a call that counts as `n` messages; what it returns is given to `after`."""
        return n

    def after(self, taken: int) -> None:
        """The call is over (answered, failed or cancelled)."""


class BotRateLimit(SendingCalls):
    """A Bot session's middleware: its sending calls wait for a slot of the bot's limit."""

    def __init__(self, window: SlidingWindow | None = None) -> None:
        self.window = window or SlidingWindow(BOT_CALLS_PER_SECOND)

    async def before(self, n: int, bot: Bot, method: TelegramMethod[Any]) -> int:
        return await self.window.acquire(n)

    def after(self, taken: int) -> None:
        self.window.release(taken)


# Telegram counts a group's messages over a minute; rows a little older are of no use.
GROUP_WINDOW = timedelta(seconds=60)
GROUP_CALLS_KEPT = timedelta(minutes=2)


class GroupCallLog(SendingCalls):
    """A poster bot's middleware: each message it sends into the team group is written down
    (bot.storage.GroupCall, wall-clock time) before the call goes out. A restart starts each
    group budget from these, so it does not burst into a minute Telegram still counts."""

    def __init__(self, chat_id: int, clock: Clock) -> None:
        self.chat_id = chat_id
        self.clock = clock
        self._pruned: datetime | None = None

    async def before(self, n: int, bot: Bot, method: TelegramMethod[Any]) -> int:
        if getattr(method, "chat_id", None) == self.chat_id:
            try:
                await self.record(bot.id, n)
            except Exception as exc:  # bookkeeping must never stop a call
                log.warning("could not write down a group call (%s)", exc)
        return n

    async def record(self, bot_id: int, n: int) -> None:
        now = self.clock.now()
        await GroupCall.bulk_create([GroupCall(bot_id=bot_id, at=now) for _ in range(n)])
        if self._pruned is None or now - self._pruned >= GROUP_WINDOW:
            self._pruned = now
            await GroupCall.filter(at__lt=now - GROUP_CALLS_KEPT).delete()


async def recent_group_calls(bot_id: int, now: datetime) -> list[float]:
    """How many seconds ago `bot_id` sent each of its messages into the group within the
    last minute, as written down by GroupCallLog (older rows are dropped here)."""
    await GroupCall.filter(at__lt=now - GROUP_CALLS_KEPT).delete()
    times = await GroupCall.filter(bot_id=bot_id, at__gt=now - GROUP_WINDOW).values_list(
        "at", flat=True
    )
    return [(now - at).total_seconds() for at in times]  # type: ignore[operator]
