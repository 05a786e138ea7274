"""Telegram's limits, kept before Telegram enforces them with a 429: one sliding window, used
for the whole bot (about 30 messages a second over all its chats), for a group (messages a
minute, with a cap a second) and for a private chat (a short burst, then about one a second).

Two ways to spend a window: `take` (now or never: it says how long to wait, and the caller
comes back then — the outbox, say) and `acquire`/`release` (wait for a slot here, first
come first served, the slot held until the call is over — a Bot session's middleware).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.methods import CopyMessages, ForwardMessages, SendMediaGroup

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

Clock = Callable[[], float]


class SlidingWindow:
    """At most `limit` calls in any `span` seconds, as the server sees them.

    A call taken with `take` counts from the moment it was let through. A call taken with
    `acquire` holds its slot from then until `span` after `release` (it finished): the server
    received it somewhere in between, so however long the network took, no `span` on the
    server's side holds more than `limit` calls either. `reserve` and `landed` are the same
    without waiting: a reserved call is counted from when it landed, or, should it never be
    made, from when it was reserved. A 429 blocks the window (`block`).
    """

    def __init__(
        self,
        limit: int,
        span: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.span = span
        self.clock = clock
        self.sleep = sleep
        self.running = 0  # acquired, not yet released
        self.times: deque[float] = deque()  # when the counted calls went (or ended), oldest first
        self.reserved: deque[float] = deque()  # when reserved calls were let through, not landed
        self.blocked_until = 0.0
        self._turn: asyncio.Lock | None = None
        self._freed: asyncio.Event | None = None

    def _trim(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        # A reservation older than `span` was never made into a call (or is lost in flight):
        # counted from when it was let through, it is over.
        while self.reserved and self.reserved[0] <= now - self.span:
            self.reserved.popleft()

    def _counted(self) -> deque[float] | list[float]:
        """The moments the counted calls free their slots from (`span` later), oldest first."""
        return sorted([*self.times, *self.reserved]) if self.reserved else self.times

    def used(self) -> int:
        """Calls counted in the last `span` seconds, running and reserved ones included."""
        self._trim(self.clock())
        return self.running + len(self.times) + len(self.reserved)

    def blocked(self) -> bool:
        return self.blocked_until > self.clock()

    def room(self) -> int:
        """How many calls fit now, one after another (0 while blocked)."""
        return 0 if self.blocked() else max(0, self.limit - self.used())

    def wait_time(self, n: int = 1) -> float | None:
        """Seconds until `n` more calls fit (0: now; None: not before a running call ends).
        More than the limit at once fit into an empty window."""
        now = self.clock()
        self._trim(now)
        blocked = max(0.0, self.blocked_until - now)
        counted = self._counted()
        excess = self.running + len(counted) + min(n, self.limit) - self.limit
        if excess <= 0:
            return blocked
        if excess > len(counted):
            return None
        # A reserved call that lands meanwhile frees later: the caller will ask again.
        return max(blocked, counted[excess - 1] + self.span - now)

    def take(self, n: int = 1) -> float:
        """Count `n` calls if they fit now (returns 0), else the seconds to wait."""
        return self._admit(self.times, n)

    def reserve(self, n: int = 1) -> float:
        """Like `take`, but the calls count from when they land (`landed`): one delayed on
        its way still falls into the server's window of the calls let through after it."""
        return self._admit(self.reserved, n)

    def _admit(self, into: deque[float], n: int) -> float:
        wait = self.wait_time(n)
        if wait == 0:
            into.extend([self.clock()] * n)
            return 0.0
        return self.span if wait is None else wait

    def landed(self, n: int = 1) -> None:
        """`n` calls are over (answered or failed): they count from now. Each takes the place
        of a reservation, if there is one (the oldest: which call it was does not matter)."""
        now = self.clock()
        self._trim(now)
        for _ in range(min(n, len(self.reserved))):
            self.reserved.popleft()
        self.times.extend([now] * n)

    def block(self, seconds: float) -> None:
        """Telegram said 429 anyway: nothing more for `seconds`."""
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)

    def restore(self, ages: list[float]) -> None:
        """Calls made before this process started, `ages` seconds ago: a restart continues
        the window it came into instead of starting a fresh one."""
        now = self.clock()
        earlier = [now - age for age in ages if 0 <= age < self.span]
        self.times = deque(sorted([*earlier, *self.times]))

    async def acquire(self, n: int = 1) -> int:
        """Wait until `n` calls may go; they are counted from now. Returns what was taken."""
        n = min(max(n, 1), self.limit)  # more than the limit at once: as many as may go
        if self._turn is None or self._freed is None:
            self._turn, self._freed = asyncio.Lock(), asyncio.Event()
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
        self.times.extend([self.clock()] * n)
        if self._freed is not None:
            self._freed.set()


# ---- the whole bot ----------------------------------------------------------------------------

# Telegram's documented limit for one bot: about 30 messages per second over all its chats
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
BOT_CALLS_PER_SECOND = 30

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
        self.window = window or SlidingWindow(BOT_CALLS_PER_SECOND, 1.0)

    async def before(self, n: int, bot: Bot, method: TelegramMethod[Any]) -> int:
        return await self.window.acquire(n)

    def after(self, taken: int) -> None:
        self.window.release(taken)


# ---- a group --------------------------------------------------------------------------------


class GroupBudget:
    """One bot's budget in one group: `per_minute` messages a minute, at most `per_second` in
    any second, and a 429's wait honoured for this group only."""

    def __init__(self, per_minute: int, per_second: int = 3, monotonic: Clock = time.monotonic):
        self.minute = SlidingWindow(per_minute, 60.0, clock=monotonic)
        self.second = SlidingWindow(per_second, 1.0, clock=monotonic)

    @property
    def per_minute(self) -> int:
        return self.minute.limit

    @per_minute.setter
    def per_minute(self, value: int) -> None:
        self.minute.limit = value

    @property
    def per_second(self) -> int:
        return self.second.limit

    @per_second.setter
    def per_second(self, value: int) -> None:
        self.second.limit = value

    def wait_time(self) -> float:
        """Seconds until one more call fits; 0 when it fits now."""
        return max(self.minute.wait_time() or 0.0, self.second.wait_time() or 0.0)

    def room(self) -> int:
        """How many calls fit now, one after another (0 while blocked by a 429)."""
        return min(self.minute.room(), self.second.room())

    def take(self) -> float:
        """Spend one call if it fits (returns 0), else return how long to wait. The minute
        counts it from when it lands (`landed`), as Telegram received it by then."""
        wait = self.wait_time()
        if wait <= 0:
            self.minute.reserve()
            self.second.take()
        return wait

    def landed(self, n: int = 1) -> None:
        """`n` calls into the group are over: Telegram's minute holds them until a minute
        from now, however long they were on their way."""
        self.minute.landed(n)

    def restore(self, ages: list[float]) -> None:
        """Calls made before this process started, `ages` seconds ago (from the database):
        a restart continues the minute it came into instead of starting a fresh one."""
        self.minute.restore(ages)
        self.second.restore(ages)

    def used_last_minute(self) -> int:
        return self.minute.used()

    def busy(self) -> bool:
        """Half the minute's budget is spent: calls should be saved where they can."""
        # The per-second burst cap passes within a second: it says nothing of the load.
        return self.used_last_minute() * 2 >= self.per_minute or self.minute.blocked()

    def penalize(self, retry_after: float) -> None:
        """Telegram said 429 anyway: honour it for this group only."""
        self.minute.block(retry_after)


# ---- a private chat -------------------------------------------------------------------------

# A burst of three, then about one a second: no more than this many in any window.
BURST = 3
WINDOW_SECONDS = 3.0


class ChatPace:
    """Telegram's pace for each private chat of one bot. A send that would exceed it waits
    (the outbox retries it when the chat frees) instead of earning a 429."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._chats: dict[int, SlidingWindow] = {}

    def take(self, chat_id: int, n: int = 1) -> float:
        """Count `n` messages to `chat_id` if they fit now (returns 0), else the seconds to
        wait. An album larger than the burst goes alone into an empty window."""
        window = self._chats.get(chat_id)
        if window is None:
            window = self._chats[chat_id] = SlidingWindow(BURST, WINDOW_SECONDS, self._clock)
        return window.take(n)
