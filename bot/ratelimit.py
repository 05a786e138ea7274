"""Group calls written down: each message a poster bot sends into the team group is kept
(bot.storage.GroupCall), so that a restart resumes each group budget where it was. The
limits themselves are tgapi.limits'."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.storage import GroupCall
from core.batching import Batched
from tgapi.limits import GroupBudget, SendingCalls

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import TelegramMethod

    from core.clock import Clock

log = logging.getLogger(__name__)

# Telegram counts a group's messages over a minute; rows a little older are of no use.
GROUP_WINDOW = timedelta(seconds=60)
GROUP_CALLS_KEPT = timedelta(minutes=2)


class GroupCallLog(SendingCalls):
    """A poster bot's middleware: each message it sends into the team group is written down
    (bot.storage.GroupCall, wall-clock time) before the call goes out. A restart starts each
    group budget from these, so it does not burst into a minute Telegram still counts. When
    the call is over, the bot's `budget` counts it from then (GroupBudget.landed)."""

    def __init__(self, chat_id: int, clock: Clock, budget: GroupBudget | None = None) -> None:
        self.chat_id = chat_id
        self.clock = clock
        self.budget = budget
        self._pruned: datetime | None = None
        # Calls that go out at the same time are written down in one statement.
        self._calls: Batched[list[GroupCall]] = Batched(self._write)

    async def before(self, n: int, bot: Bot, method: TelegramMethod[Any]) -> int:
        if getattr(method, "chat_id", None) != self.chat_id:
            return 0  # not into the group: nothing to count when it is over
        try:
            await self.record(bot.id, n)
        except Exception as exc:  # bookkeeping must never stop a call
            log.warning("could not write down a group call (%s)", exc)
        return n

    def after(self, taken: int) -> None:
        if taken and self.budget is not None:
            self.budget.landed(taken)

    async def record(self, bot_id: int, n: int) -> None:
        now = self.clock.now()
        await self._calls.add([GroupCall(bot_id=bot_id, at=now) for _ in range(n)])

    async def _write(self, batches: list[list[GroupCall]]) -> None:
        await GroupCall.bulk_create([call for batch in batches for call in batch])
        now = self.clock.now()
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
