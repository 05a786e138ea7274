"""The durable outbox: outbound work is a row first, a network call after commit.

A worker takes due rows by priority; rows of one lane go strictly in order; cosmetic
rows with a merge key replace each other so only the latest state is ever sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from core.context import CoreContext
from core.models import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)


class Priority(IntEnum):
    CLIENT_REPLY = 10
    TOPIC_MESSAGE = 20
    TOPIC_CREATE = 30
    PRIVATE = 40
    COSMETIC = 90


class RetryLater(Exception):
    """Not now. `waiting` = only waiting for a budget: not a failed attempt."""

    def __init__(self, delay: float, reason: str = "", *, waiting: bool = False) -> None:
        super().__init__(reason or f"retry in {delay:.1f}s")
        self.delay = delay
        self.waiting = waiting


class GiveUp(Exception):
    """The work can never succeed; the row is marked failed and kept for inspection."""


Handler = Callable[[OutboxItem], Awaitable[dict[str, Any] | None]]

MAX_ATTEMPTS = 50


async def enqueue(
    ctx: CoreContext,
    kind: str,
    payload: dict[str, Any],
    *,
    priority: int = Priority.TOPIC_MESSAGE,
    lane: str = "",
    merge_key: str | None = None,
    delay: timedelta | None = None,
) -> OutboxItem:
    """Add work; call inside the transaction that made the change, so both commit together."""
    now = ctx.wall.now()
    if merge_key:
        # Only the newest state of cosmetic work matters.
        await OutboxItem.filter(merge_key=merge_key, status=OutboxStatus.PENDING).delete()
    item = await OutboxItem.create(
        kind=kind,
        payload=payload,
        priority=int(priority),
        lane=lane,
        merge_key=merge_key,
        not_before=now + (delay or timedelta(0)),
        created_at=now,
    )
    ctx.outbox_signal.set()
    return item


def backoff(attempts: int) -> float:
    return float(min(300, 2 ** min(attempts, 8)))


class OutboxWorker:
    def __init__(self, ctx: CoreContext, concurrency: int = 8, poll: float = 0.5) -> None:
        self.ctx = ctx
        self.handlers: dict[str, Handler] = {}
        self.concurrency = concurrency
        self.poll = poll
        self._task: asyncio.Task[None] | None = None
        # One round at a time: two rounds at once would take the same rows and send twice.
        self._round = asyncio.Lock()

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    async def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """The first pending row of each lane, most urgent first."""
        rows = await OutboxItem.filter(status=OutboxStatus.PENDING).order_by("id").limit(1000)
        seen: set[str] = set()
        picked: list[OutboxItem] = []
        for row in rows:
            blocked = row.lane and row.lane in seen
            if row.lane:
                seen.add(row.lane)
            if blocked or row.not_before > now:
                continue
            picked.append(row)
        picked.sort(key=lambda r: (r.priority, r.id))
        return picked[:limit]

    async def run_once(self) -> int:
        async with self._round:
            items = await self.due(self.ctx.wall.now(), self.concurrency)
            if items:
                await asyncio.gather(*(self._process(item) for item in items))
            return len(items)

    async def _process(self, item: OutboxItem) -> None:
        handler = self.handlers.get(item.kind)
        now = self.ctx.wall.now
        if handler is None:
            return
        try:
            result = await handler(item)
        except RetryLater as exc:
            delay = exc.delay
            if not exc.waiting:
                # A failure backs off more each time, so an outage of minutes is outlived.
                item.attempts += 1
                delay = max(delay, backoff(item.attempts))
            item.last_error = str(exc)
            item.not_before = now() + timedelta(seconds=delay)
            if item.attempts >= MAX_ATTEMPTS:
                item.status = OutboxStatus.FAILED
            await item.save(update_fields=["attempts", "last_error", "not_before", "status"])
            return
        except GiveUp as exc:
            item.status, item.last_error, item.done_at = OutboxStatus.FAILED, str(exc), now()
            await item.save(update_fields=["status", "last_error", "done_at"])
            return
        except Exception as exc:
            log.exception("outbox %s #%s failed", item.kind, item.id)
            item.attempts += 1
            item.last_error = repr(exc)
            item.not_before = now() + timedelta(seconds=backoff(item.attempts))
            if item.attempts >= MAX_ATTEMPTS:
                item.status = OutboxStatus.FAILED
            await item.save(update_fields=["attempts", "last_error", "not_before", "status"])
            return
        item.status, item.done_at, item.result = OutboxStatus.SENT, now(), result or {}
        await item.save(update_fields=["status", "done_at", "result"])

    async def drain(self, rounds: int = 100) -> None:
        """Process until nothing is due (tests)."""
        for _ in range(rounds):
            if not await self.run_once():
                return

    async def _loop(self) -> None:
        while True:
            try:
                if await self.run_once():
                    continue
            except Exception:
                log.exception("outbox loop")
            await self.ctx.outbox_signal.wait_at_most(self.poll)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
