"""Long polling that never loses an update: each one is stored before Telegram is told
we have it (the next offset), and processed from the store in order, also after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Update
from tortoise.exceptions import IntegrityError

from bot.health import Health
from core.clock import Clock
from core.models import InboxItem

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "chat_member",
    "my_chat_member",
]


class DurablePoller:
    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        clock: Clock,
        timeout: int = 20,
        health: Health | None = None,
        name: str = "Telegram",
    ) -> None:
        self.bot = bot
        self.health = health
        self.name = name
        self.dispatcher = dispatcher
        self.clock = clock
        self.timeout = timeout
        self.source = f"telegram:{bot.id}"
        self._task: asyncio.Task[None] | None = None

    async def store(self, update: Update) -> None:
        payload = update.model_dump(mode="json", exclude_none=True, by_alias=True)
        # Already stored before a restart: the unique (source, key) keeps one.
        with contextlib.suppress(IntegrityError):
            await InboxItem.create(
                source=self.source,
                key=str(update.update_id),
                payload=payload,
                received_at=self.clock.now(),
            )

    async def last_stored(self) -> int | None:
        latest = await InboxItem.filter(source=self.source).order_by("-id").first()
        return int(latest.key) if latest else None

    async def process_pending(self) -> None:
        pending = await InboxItem.filter(source=self.source, processed_at=None).order_by("id")
        for item in pending:
            item.attempts += 1
            try:
                update = Update.model_validate(item.payload, context={"bot": self.bot})
                await self.dispatcher.feed_update(self.bot, update)
                item.error = ""
            except Exception as exc:
                log.exception("update %s failed", item.key)
                item.error = repr(exc)[:2000]
                if item.attempts < 3:
                    await item.save(update_fields=["attempts", "error"])
                    # Keep order: a failing update blocks the ones after it for a moment.
                    return
            item.processed_at = self.clock.now()
            await item.save(update_fields=["attempts", "error", "processed_at"])

    async def run(self) -> None:
        await self.process_pending()
        last = await self.last_stored()
        offset = last + 1 if last is not None else None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=self.timeout,
                    allowed_updates=ALLOWED_UPDATES,
                )
                failures = 0
                if self.health:
                    await self.health.ok(self.name)
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Network, 5xx, an unreadable answer, even a 401/409 (a token revoked, a
                # second instance polling): the link is down, never the poller — it keeps
                # trying, and the health alert tells the team.
                failures += 1
                log.warning("getUpdates failed (%s); retrying", exc)
                if self.health:
                    await self.health.failed(self.name, str(exc))
                await asyncio.sleep(min(30, 2**failures))
                continue
            try:
                for update in updates:
                    await self.store(update)
                    # Told to Telegram (the next offset) only once it is stored.
                    offset = update.update_id + 1
                await self.process_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database is away, say: what is not stored is asked for again; the
                # poller itself never ends.
                failures += 1
                log.warning("storing or processing updates failed (%s); retrying", exc)
                await asyncio.sleep(min(30, 2**failures))

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.source)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
