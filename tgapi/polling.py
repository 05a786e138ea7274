"""Long polling that never loses an update and never lets one chat hold up another.

Each update is stored before Telegram is told we have it (the next offset). Stored updates
are processed from the store: different chats in parallel, each chat's updates strictly in
order (an edit after its message, a button after the message that carries it), also after a
crash. A failing update holds only its own chat; it is tried again at the next poll.

Statements. A long poll's batch is stored in one statement, and its updates go to their chats
from memory (the store is read only at a start and after a failure). Handled updates are marked
processed together, in one statement, by a writer of their own: a chat goes on to its next
update meanwhile. An update handled but not yet marked is not taken up again by this process;
a crash before its mark runs it again at the next start, as a crash between an update's
handling and its own mark always could (handlers take an update twice: ingest by the
message's id, the team's steps by `Once`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, Protocol, cast

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import GetUpdates, Response
from aiogram.types import Update

from core.clock import Clock
from core.inbox import Inbox
from core.models import InboxItem
from tgapi.dispatch import inline_filters

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
# An update that fails this often is set aside (kept with its error): its chat goes on.
MAX_ATTEMPTS = 3
# Handlers running at once, over all chats.
CONCURRENCY = 8

ChatKey = int | None


class RawUpdates(GetUpdates):
    """getUpdates answered with the updates as Telegram sent them (JSON objects): they are
    stored so, and become aiogram's `Update` once, when processed — not also on arrival (a
    parse and a dump per update more). One Telegram sent that aiogram cannot read is stored
    all the same and set aside like any failing update, instead of failing the whole poll."""

    __returning__ = list[dict[str, Any]]


# Held for the life of the process (see tgapi/responses.py: pydantic would build it again
# after each garbage collection).
_RAW_ANSWER = Response[list[dict[str, Any]]]


class UpdateFailed(Exception):
    """An update's failure that the dispatcher's errors router logged already (with what the
    update was): the poller records it and tries the update again, and logs nothing more."""


class LinkHealth(Protocol):
    async def ok(self, name: str) -> None: ...

    async def failed(self, name: str, error: str) -> None: ...


def chat_of(payload: dict[str, Any]) -> ChatKey:
    """The chat whose updates go in order: a message's (or an edited one's) chat, a button's
    message's chat (or, on an inline message, its presser), an inline query's sender, a member
    change's member. A private chat's id is its user's: a person's inline queries and their
    private chat with the bot go in one line, and so does a change of their membership, so that
    a message they write after being removed is judged after the removal. None: an update of no
    chat (in one line, too)."""
    member = (payload.get("chat_member") or {}).get("new_chat_member", {}).get("user", {})
    if "id" in member:
        return int(member["id"])
    for name, body in payload.items():
        if name == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return int(sender["id"])
    return None


class DurablePoller:
    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        clock: Clock,
        timeout: int = 20,
        health: LinkHealth | None = None,
        name: str = "Telegram",
        concurrency: int = CONCURRENCY,
    ) -> None:
        inline_filters()  # plain filters called in place, not in a thread each
        self.bot = bot
        self.health = health
        self.name = name
        self.dispatcher = dispatcher
        self.clock = clock
        self.timeout = timeout
        self.source = f"telegram:{bot.id}"
        self.inbox = Inbox(clock)
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(concurrency)
        # Each chat with stored updates to process has a queue and one task working it.
        self._queues: dict[ChatKey, deque[InboxItem]] = {}
        self._chats: dict[ChatKey, asyncio.Task[None]] = {}
        # The keys of the updates in some chat's queue, or handled and not marked processed
        # yet: each is taken up once.
        self._taken: set[str] = set()
        # The store is read again (at a start, and after a chat's work stopped short).
        self._reread = True
        # Handled updates waiting for their processed mark, and the task writing them.
        self._handled: list[str] = []
        self._marking: asyncio.Task[None] | None = None

    async def store(self, update: Update) -> None:
        await self.store_all([update])

    async def store_all(self, updates: list[Update] | list[dict[str, Any]]) -> list[InboxItem]:
        """A long poll's updates (as Telegram sent them, or parsed), in one statement; the
        rows as stored. Already stored before a restart: the unique (source, key) keeps one."""
        events = [
            (str(update["update_id"]), update)
            if isinstance(update, dict)
            else (
                str(update.update_id),
                update.model_dump(mode="json", exclude_none=True, by_alias=True),
            )
            for update in updates
        ]
        if not events:
            return []
        return await self.inbox.store_many(self.source, events)

    async def last_stored(self) -> int | None:
        key = await self.inbox.last_key(self.source)
        return int(key) if key is not None else None

    async def dispatch_pending(self) -> None:
        """Every stored update not processed yet, and not taken already, joins the queue of
        its chat."""
        self._reread = False
        stored = InboxItem.filter(source=self.source, processed_at=None)
        self.dispatch(list(await stored.order_by("id")))

    def dispatch(self, items: list[InboxItem]) -> None:
        """Each of `items` not taken already joins the queue of its chat, in order; a chat with
        no task working its queue gets one."""
        for item in items:
            if item.key in self._taken:
                continue
            key = chat_of(item.payload)
            self._taken.add(item.key)
            self._queues.setdefault(key, deque()).append(item)
            if key not in self._chats:
                self._chats[key] = asyncio.create_task(self._work(key), name=f"{self.source}:{key}")

    async def _work(self, key: ChatKey) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue[0]
                async with self._slots:
                    done = await self.process(item)
                if not done:
                    break  # held: this chat goes on at the next poll, in order
                queue.popleft()  # still taken until its processed mark is written
        except Exception:
            # The store is away, say: what was not marked processed is taken up again.
            log.exception("processing updates of chat %s failed", key)
        finally:
            # No await from here on: a dispatch cannot slip in between.
            if queue:
                self._reread = True
            for item in queue:
                self._taken.discard(item.key)
            del self._queues[key]
            del self._chats[key]

    async def process(self, item: InboxItem) -> bool:
        """One stored update through the dispatcher. False: it failed and is to be tried
        again (its chat waits); after MAX_ATTEMPTS it is set aside with its error."""
        item.attempts += 1
        try:
            update = Update.model_validate(item.payload, context={"bot": self.bot})
            await self.dispatcher.feed_update(self.bot, update)
        except Exception as exc:
            if not isinstance(exc, UpdateFailed):
                log.exception("update %s failed", item.key)
            item.error = repr(exc)[:2000]
            if item.attempts < MAX_ATTEMPTS:
                await self._save(item, attempts=item.attempts, error=item.error)
                return False
            item.processed_at = self.clock.now()
            await self._save(
                item, attempts=item.attempts, error=item.error, processed_at=item.processed_at
            )
            return True
        self._mark(item.key)
        return True

    async def _save(self, item: InboxItem, **values: Any) -> None:
        # By its key: an update taken up from memory has no id here.
        await InboxItem.filter(source=self.source, key=item.key).update(**values)

    def _mark(self, key: str) -> None:
        """Handled: marked processed with whatever else is handled meanwhile."""
        self._handled.append(key)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._write_marks(), name=f"{self.source}:marks")

    async def _write_marks(self) -> None:
        failures = 0
        while self._handled:
            await asyncio.sleep(0)  # the updates handled in this same turn join in
            keys, self._handled = self._handled, []
            try:
                await self.inbox.processed(self.source, keys)
            except Exception as exc:
                # The store is away, say: the marks wait, their updates still taken.
                self._handled[:0] = keys
                failures += 1
                log.warning("marking updates processed failed (%s); retrying", exc)
                await asyncio.sleep(min(30, 2**failures))
                continue
            except BaseException:
                self._handled[:0] = keys
                raise
            failures = 0
            self._taken.difference_update(keys)

    async def run(self) -> None:
        last = await self.last_stored()
        offset = last + 1 if last is not None else None
        failures = 0
        while True:
            try:
                # Stored before a restart, or held by a failure: taken up (again).
                if self._reread:
                    await self.dispatch_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._reread = True
                log.warning("reading stored updates failed (%s); polling on", exc)
            try:
                updates = cast(
                    list[dict[str, Any]],
                    await self.bot(
                        RawUpdates(
                            offset=offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES
                        )
                    ),
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
                stored = await self.store_all(updates)
                if updates:
                    # Told to Telegram (the next offset) only once they are stored.
                    offset = max(int(u["update_id"]) for u in updates) + 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database is away, say: what is not stored is asked for again; the
                # poller itself never ends.
                failures += 1
                log.warning("storing updates failed (%s); retrying", exc)
                await asyncio.sleep(min(30, 2**failures))
                continue
            if not self._reread:
                # A chat held by a failure reads the store first: its order is kept.
                self.dispatch(stored)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.source)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._chats.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._marking is not None and not self._marking.done():
            # What was handled is marked (else the next start runs it again).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._marking), 5)
