"""Nothing that arrives is lost: store-before-ack for every transport, and the sink that a
connector hands what it receives.

A transport (a long poll's offset, an IMAP flag, a webhook's 200) is told an event arrived
only once `Inbox.store` has written it: a crash after that finds it stored and processes it
at the next start. Events of one source are processed in the order they were stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from core.clock import Clock
from core.delivery import refused_later
from core.models import InboxItem, fit_key, fit_to_columns
from core.prepared import insert_ignoring_conflicts

if TYPE_CHECKING:
    from core.blobs import BlobStore
    from core.health import Health
    from core.ingest import Inbound, Ingest, IngestResult

log = logging.getLogger(__name__)

# A stored event that fails this often is set aside (kept, with its error) so that the ones
# after it are not held for ever.
MAX_ATTEMPTS = 3

Handle = Callable[[dict[str, Any]], Awaitable[object]]


class Inbox:
    """Raw inbound events by (source, key): one row each, however often they arrive."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def store(self, source: str, key: str, payload: dict[str, Any]) -> bool:
        """True when stored now, False when it was stored before (a duplicate delivery)."""
        try:
            await InboxItem.create(
                source=source,
                key=fit_key(key, 255),
                payload=payload,
                received_at=self.clock.now(),
            )
        except IntegrityError:
            # Stored before a restart, or a webhook the sender delivered twice.
            return False
        return True

    async def store_many(
        self, source: str, events: list[tuple[str, dict[str, Any]]]
    ) -> list[InboxItem]:
        """Several events at once (a long poll's batch) in one statement; one stored before
        stays as it was (a duplicate delivery). Returns the rows as stored (no ids: a bulk
        insert gives none; (source, key) names each)."""
        now = self.clock.now()
        rows = [
            InboxItem(source=source, key=fit_key(key, 255), payload=payload, received_at=now)
            for key, payload in events
        ]
        for row in rows:
            # What `create` would do before its save (bulk inserts send no signals).
            await fit_to_columns(InboxItem, row, None, None)
        await insert_ignoring_conflicts(InboxItem, rows)
        return rows

    async def processed(self, source: str, keys: list[str]) -> None:
        """Events handled (each at one more attempt) and done, marked in one statement."""
        if keys:
            await InboxItem.filter(source=source, key__in=keys).update(
                processed_at=self.clock.now(), error="", attempts=F("attempts") + 1
            )

    async def last_key(self, source: str) -> str | None:
        latest = await InboxItem.filter(source=source).order_by("-id").first()
        return latest.key if latest else None

    async def process(self, source: str, handle: Handle) -> int:
        """Each unprocessed event of `source`, oldest first. A failure is tried again at the
        next call and holds the later events meanwhile (their order may matter: an edit
        after its message); after MAX_ATTEMPTS it is set aside with its error."""
        handled = 0
        pending = await InboxItem.filter(source=source, processed_at=None).order_by("id")
        for item in pending:
            item.attempts += 1
            try:
                await handle(item.payload)
                item.error = ""
            except Exception as exc:
                log.exception("inbound %s %s failed", source, item.key)
                item.error = repr(exc)[:2000]
                if item.attempts < MAX_ATTEMPTS:
                    await item.save(update_fields=["attempts", "error"])
                    return handled
            item.processed_at = self.clock.now()
            await item.save(update_fields=["attempts", "error", "processed_at"])
            handled += 1
        return handled


class CoreSink:
    """The core as one connector sees it (core.channels.Sink), bound to its channel."""

    def __init__(
        self,
        channel_id: int,
        ingest: Ingest,
        inbox: Inbox,
        health: Health,
        blobs: BlobStore | None = None,
    ) -> None:
        self.channel_id = channel_id
        self._ingest = ingest
        self._inbox = inbox
        self._health = health
        self.blobs = blobs

    async def ingest(self, inbound: Inbound) -> IngestResult:
        return await self._ingest(inbound)

    async def edited(self, inbound: Inbound) -> object:
        return await self._ingest.edited(inbound)

    async def refused(self, external_id: str, reason: str) -> bool:
        return await refused_later(self._ingest.ctx, self.channel_id, external_id, reason)

    async def store(self, source: str, key: str, payload: dict[str, Any]) -> bool:
        return await self._inbox.store(source, key, payload)

    async def last_key(self, source: str) -> str | None:
        return await self._inbox.last_key(source)

    async def process(self, source: str, handle: Handle) -> int:
        return await self._inbox.process(source, handle)

    async def healthy(self, name: str) -> None:
        await self._health.ok(name)

    async def unhealthy(self, name: str, why: str) -> None:
        await self._health.failed(name, why)
