"""The durable outbox: outbound work is a row first, a network call after commit.

A worker takes due rows by priority; rows of one lane go strictly in order; cosmetic
rows with a merge key replace each other so only the latest state is ever sent.

Crash safety. A row is marked `sending` (committed) before its handler makes the call. A row
found `sending` when the worker starts was cut off by a crash or a stop while its call was
under way: whether the other side got it is unknown, and the Telegram Bot API has no
idempotency key to ask. Such a row is made again, at least once: it goes back to `pending`
at the head of its lane, counted in `interrupted` and `attempts`, with `last_error` saying
so. Handlers skip work whose result they had already stored (a topic post checks its
ChatMessage mapping, a client reply its `delivered_at`), so only a row cut off between its
call and the commit of its result can show up twice — and every such row is counted in
`interrupted`.
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
INTERRUPTED = "interrupted by a restart: the call may or may not have reached the other side"


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
        """The first pending row of each lane, most urgent first. A `sending` row (one cut
        off and not yet recovered) still holds its lane."""
        rows = (
            await OutboxItem.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING])
            .order_by("id")
            .limit(1000)
        )
        seen: set[str] = set()
        picked: list[OutboxItem] = []
        for row in rows:
            blocked = row.lane and row.lane in seen
            if row.lane:
                seen.add(row.lane)
            if blocked or row.status is not OutboxStatus.PENDING or row.not_before > now:
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

    async def recover(self) -> int:
        """Rows a crash or a stop cut off mid-call go out again (at least once); their count.

        Safe at any time: under the round lock no row of this worker is in flight, so every
        `sending` row is one whose call was interrupted. Only one worker may use a database.
        """
        async with self._round:
            rows = await OutboxItem.filter(status=OutboxStatus.SENDING).order_by("id")
            for row in rows:
                row.interrupted += 1
                # A row that brings the process down every time must not do so forever.
                row.attempts += 1
                row.last_error = INTERRUPTED
                row.status = OutboxStatus.PENDING
                if row.attempts >= MAX_ATTEMPTS:
                    row.status, row.done_at = OutboxStatus.FAILED, self.ctx.wall.now()
                await row.save(
                    update_fields=["interrupted", "attempts", "last_error", "status", "done_at"]
                )
            if rows:
                log.warning(
                    "outbox: %d row(s) were cut off mid-call by a restart, sent again: %s",
                    len(rows),
                    ", ".join(f"{r.kind} #{r.id}" for r in rows),
                )
                self.ctx.outbox_signal.set()
            return len(rows)

    async def _process(self, item: OutboxItem) -> None:
        handler = self.handlers.get(item.kind)
        now = self.ctx.wall.now
        if handler is None:
            return
        # Committed before the call: a crash from here on leaves the row `sending`.
        started = now()
        taken = await OutboxItem.filter(id=item.id, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.SENDING, started_at=started
        )
        if not taken:
            return  # replaced by a newer row with its merge key meanwhile
        item.status, item.started_at = OutboxStatus.SENDING, started
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
            item.status = OutboxStatus.PENDING
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
            item.status = OutboxStatus.PENDING
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
        try:
            await self.recover()
        except Exception:
            log.exception("outbox recovery")
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
