"""The durable outbox: outbound work is a row first, a network call after commit.

A worker takes due rows by priority; rows of one lane go strictly in order; cosmetic
rows with a merge key replace each other so only the latest state is ever sent.

Crash safety. A row is marked `sending` (committed) before its handler makes the call. A row
found `sending` when the worker starts was cut off by a crash or a stop while its call was
under way: whether the other side got it is unknown, and the Telegram Bot API has no
idempotency key to ask. Such a row is made again, at least once: it goes back to `pending`
at the head of its lane, counted in `interrupted` and `attempts`, with `last_error` saying
so. Handlers skip work whose result they had already stored (a topic post checks the
message's team copy, a client reply its `delivered_at`), so only a row cut off between its
call and the commit of its result can show up twice — and every such row is counted in
`interrupted`.

Statements. The rows of a round are marked `sending` in one statement, before any of their
calls. A row's outcome (sent, to retry, failed) is written as soon as its handler is done,
together with the outcomes of the rows that finished at the same time (core.batching): one
statement for them all, and still right after each answer, with nothing in between.

Choosing. One query per round picks the due rows (see `due`): the head of every lane, most
urgent first, and never a row whose budget is spent — such rows are left alone, neither read
nor written, until their budget frees (`budget`, `uses`). Between rounds the worker sleeps
until the next row falls due, a budget frees, or `enqueue` (or a committed change) signals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from tortoise.expressions import Q, RawSQL

from core.batching import Batched
from core.context import CoreContext
from core.events import CoreEvent
from core.models import OutboxItem, OutboxStatus, fit_to_columns
from core.prepared import insert

log = logging.getLogger(__name__)


class Priority(IntEnum):
    CLIENT_REPLY = 10
    # A new client's topic while the group is busy: a call never wasted (a card or a post
    # going now may be followed by one more for the texts still coming; see
    # bot.group.card.Card.show). Its card then goes in turn, as a TOPIC_MESSAGE.
    TOPIC_CREATE = 15
    # A client's message into the topics: into its topic, or a new client's topic with its
    # card. Alike, so first come, first served (see bot.group.card.Card.first_card).
    TOPIC_MESSAGE = 20
    # An answer to a person who just acted (a command, a button): after the clients' messages.
    ANSWER = 25
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
) -> int:
    """Add work; call inside the transaction that made the change, so both commit together.
    The new row's id."""
    now = ctx.wall.now()
    if merge_key:
        # Only the newest state of cosmetic work matters.
        await OutboxItem.filter(merge_key=merge_key, status=OutboxStatus.PENDING).delete()
    row_id = await insert(
        OutboxItem,
        kind=kind,
        payload=payload,
        priority=int(priority),
        lane=lane,
        merge_key=merge_key,
        not_before=now + (delay or timedelta(0)),
        created_at=now,
    )
    ctx.outbox_signal.set()
    return row_id


# What each outcome of a row changes.
SENT = ("status", "done_at", "result")
RETRIED = ("attempts", "last_error", "not_before", "status")
GAVE_UP = ("status", "last_error", "done_at")


async def _write_outcomes(outcomes: list[tuple[OutboxItem, tuple[str, ...]]]) -> None:
    """Rows' outcomes: one statement for the rows with the same kind of outcome."""
    alike: dict[tuple[str, ...], list[OutboxItem]] = {}
    for item, fields in outcomes:
        alike.setdefault(fields, []).append(item)
    for fields, items in alike.items():
        if len(items) == 1:
            await items[0].save(update_fields=list(fields))
            continue
        for item in items:
            # What a save does first (a bulk update sends no signals).
            await fit_to_columns(OutboxItem, item, None, fields)
        await OutboxItem.bulk_update(items, fields=list(fields))


def backoff(attempts: int) -> float:
    return float(min(300, 2 ** min(attempts, 8)))


def _lane_head() -> RawSQL:
    """True for the row no other pending or sending row of its lane comes before. A `sending`
    row (one in flight, or cut off and not yet recovered) holds its lane. Constants only."""
    table = OutboxItem._meta.db_table
    live = f"'{OutboxStatus.PENDING.value}', '{OutboxStatus.SENDING.value}'"
    return RawSQL(
        f"NOT EXISTS (SELECT 1 FROM {table} ahead WHERE ahead.lane = {table}.lane"
        f" AND ahead.status IN ({live}) AND ahead.id < {table}.id)"
    )


@dataclass
class Budget:
    """A limit that rows of some kinds wait for: `wait()` = seconds until one more call fits
    (0: now); `room()` = how many calls fit now (None: as many as are due). `within`: a wider
    budget this one's calls count against too (one bot's calls within all posters')."""

    wait: Callable[[], float]
    room: Callable[[], int] | None = None
    within: str | None = None


class OutboxWorker:
    # Rows of one round, taken together and sent at once (a budget admits only what fits):
    # with few, a burst of new dialogs waits round after round for each round's slowest call.
    def __init__(self, ctx: CoreContext, concurrency: int = 64, poll: float = 5.0) -> None:
        self.ctx = ctx
        self.handlers: dict[str, Handler] = {}
        self.budgets: dict[str, Budget] = {}
        # kind -> the budget its rows wait for
        self.kinds: dict[str, str] = {}
        self.concurrency = concurrency
        # The longest sleep between rounds (new rows, due rows and budgets wake it earlier).
        self.poll = poll
        self._task: asyncio.Task[None] | None = None
        # One round at a time: two rounds at once would take the same rows and send twice.
        self._round = asyncio.Lock()
        # When each budget was last found spent: a row due before that waited for it.
        self._spent_at: dict[str, datetime] = {}
        self._waited: set[int] = set()
        # The budgets that could not take every due row this round.
        self._crowded: set[str] = set()
        # Rows done at the same time: their outcomes go in one statement.
        self._outcomes: Batched[tuple[OutboxItem, tuple[str, ...]]] = Batched(_write_outcomes)
        # A committed change may have queued rows inside its transaction, where a wake-up
        # would come too early to see them: every change wakes the worker after its commit.
        ctx.bus.subscribe(CoreEvent, self._wake)

    async def _wake(self, event: CoreEvent) -> None:
        self.ctx.outbox_signal.set()

    def handle(self, kind: str, handler: Handler, *, budget: str | None = None) -> None:
        self.handlers[kind] = handler
        if budget is not None:
            self.uses(kind, budget)

    def budget(
        self,
        name: str,
        wait: Callable[[], float],
        room: Callable[[], int] | None = None,
        *,
        within: str | None = None,
    ) -> None:
        """A budget rows may wait for; see `uses`. `within`: see `Budget`."""
        self.budgets[name] = Budget(wait, room, within)

    def uses(self, kind: str, budget: str) -> None:
        """Rows of `kind` wait for `budget`: while it is spent they are left alone."""
        self.kinds[kind] = budget

    def spent(self) -> dict[str, float]:
        """The budgets spent now, with the seconds until each frees."""
        waits = {name: budget.wait() for name, budget in self.budgets.items()}
        return {name: wait for name, wait in waits.items() if wait > 0}

    def ready_kinds(self, spent: dict[str, float]) -> list[str]:
        """The kinds this worker can do now: handled, and their budget not spent."""
        return [kind for kind in self.handlers if self.kinds.get(kind) not in spent]

    def waited_for_budget(self, item: OutboxItem) -> bool:
        """The row (now being handled) was due while its budget was spent."""
        return item.id in self._waited

    def crowded(self, budget: str) -> bool:
        """This round, due rows of `budget` were left for later: more than fit into it."""
        return budget in self._crowded

    def _heads(self, kinds: list[str]) -> Any:
        return (
            OutboxItem.filter(status=OutboxStatus.PENDING, kind__in=kinds)
            .annotate(head=_lane_head())
            .filter(Q(lane="") | Q(head=True))
        )

    async def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """One query: the head row of every lane (rows with no lane are heads of their own)
        when it is pending, due, and its budget not spent — most urgent first, at most
        `limit`, and no more of a budget than fits into it now."""
        spent = self.spent()
        for name in spent:
            self._spent_at[name] = now
        kinds = self.ready_kinds(spent)
        if not kinds:
            return []
        rows = (
            await self._heads(kinds)
            .filter(not_before__lte=now)
            .order_by("priority", "id")
            .limit(limit)
        )
        picked: list[OutboxItem] = []
        rooms: dict[str, int | None] = {}
        waited: set[int] = set()
        crowded: set[str] = set()
        for row in rows:
            of = self.kinds.get(row.kind)
            budget = self.budgets.get(of) if of else None
            if of and budget:
                # A row takes a call of its budget and of the one it is within: else a less
                # urgent row of the narrower budget would race a more urgent one for one call.
                names = [of, budget.within] if budget.within in self.budgets else [of]
                if not self._fits(names, rooms):
                    crowded.add(of)
                    continue  # more than fits now: next round
                spent_at = self._spent_at.get(of)
                if spent_at is not None and spent_at >= row.not_before:
                    waited.add(row.id)
            picked.append(row)
        self._waited, self._crowded = waited, crowded
        return picked

    def _fits(self, names: list[str], rooms: dict[str, int | None]) -> bool:
        """One call fits into each of these budgets this round (then it is counted)."""
        for name in names:
            if name not in rooms:
                room = self.budgets[name].room
                rooms[name] = room() if room else None
        left = [rooms[name] for name in names]
        if any(n is not None and n <= 0 for n in left):
            return False
        for name, n in zip(names, left, strict=True):
            if n is not None:
                rooms[name] = n - 1
        return True

    async def next_due(self, now: datetime) -> float | None:
        """Seconds until the next row falls due (the heads whose budget is not spent)."""
        kinds = self.ready_kinds(self.spent())
        if not kinds:
            return None
        first = await self._heads(kinds).order_by("not_before").first()
        if first is None:
            return None
        return max(0.0, (first.not_before - now).total_seconds())

    async def run_once(self) -> int:
        async with self._round:
            items = await self.due(self.ctx.wall.now(), self.concurrency)
            taken = await self._take(items)
            if taken:
                await asyncio.gather(*(self._process(item) for item in taken))
            return len(items)

    async def _take(self, items: list[OutboxItem]) -> list[OutboxItem]:
        """The round's rows marked `sending` (committed before any call), in one statement;
        a row replaced meanwhile by a newer one with its merge key is left out."""
        items = [item for item in items if item.kind in self.handlers]
        if not items:
            return []
        started = self.ctx.wall.now()
        ids = [item.id for item in items]
        taken = await OutboxItem.filter(id__in=ids, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.SENDING, started_at=started
        )
        if taken < len(ids):
            # Under the round lock every `sending` row of these is one this round took.
            mine = set(
                await OutboxItem.filter(id__in=ids, status=OutboxStatus.SENDING).values_list(
                    "id", flat=True
                )
            )
            items = [item for item in items if item.id in mine]
        for item in items:
            item.status, item.started_at = OutboxStatus.SENDING, started
        return items

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
        """One row taken (`sending`, committed): its handler, then its outcome written."""
        handler = self.handlers[item.kind]
        now = self.ctx.wall.now
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
            await self._outcomes.add((item, RETRIED))
            return
        except GiveUp as exc:
            item.status, item.last_error, item.done_at = OutboxStatus.FAILED, str(exc), now()
            await self._outcomes.add((item, GAVE_UP))
            return
        except Exception as exc:
            log.exception("outbox %s #%s failed", item.kind, item.id)
            item.attempts += 1
            item.last_error = repr(exc)
            item.not_before = now() + timedelta(seconds=backoff(item.attempts))
            item.status = OutboxStatus.PENDING
            if item.attempts >= MAX_ATTEMPTS:
                item.status = OutboxStatus.FAILED
            await self._outcomes.add((item, RETRIED))
            return
        item.status, item.done_at, item.result = OutboxStatus.SENT, now(), result or {}
        await self._outcomes.add((item, SENT))

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
            await self.ctx.outbox_signal.wait_at_most(await self.pause())

    async def pause(self) -> float:
        """How long to sleep: until the next row falls due or a spent budget frees (new rows
        signal); `poll` at most."""
        waits = [self.poll, *self.spent().values()]
        try:
            until = await self.next_due(self.ctx.wall.now())
        except Exception:
            log.exception("outbox: next due row")
            until = None
        if until is not None:
            waits.append(until)
        return max(0.05, min(waits))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
