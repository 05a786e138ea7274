"""Service levels: first-response and next-response targets, counted in business hours.

Targets: SLA_FIRST_RESPONSE and SLA_NEXT_RESPONSE (`configure`), overridable per dialog by
an override provider (the automations file's `sla:` rules: `override(dialog_id)` answers
(first, next) for the dialog — None in either: that target is off for it — or None: the
defaults apply).

The waits measured, in business seconds (`CoreContext.business_hours`):
- first response: from the episode's start (`Episode.started_at`) until its first operator
  reply (`Episode.first_response_at`);
- next response: after the first response, from `Dialog.waiting_since` (the oldest
  unanswered client message) until the next reply.
Only open dialogs with a waiting client are measured (a snoozed or closed one waits for
nobody).

When 80% of a target is used the wait is *near* a breach; at 100% it is *breached*. The
sweep (`sweep`, on the ticker) tells each once per wait — an `SlaAlert` in the transaction
that wrote its `SlaMark` row (the row is unique: the compare-and-set, so a second sweep or a
restart never tells it twice). The board asks `states` for its marks.

Each operator reply's reporting row keeps the target in force (`ReportEvent.target`,
business seconds): /stats counts a target met when the row's business value is within it.
The first reply of an episode is measured against the first-response target only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.context import CoreContext
from core.events import CoreEvent, MessageCreated
from core.lifecycle import DialogStatus
from core.models import Dialog, Episode, ReportEvent, ReportKind, SlaMark

log = logging.getLogger(__name__)

# The share of a target used from which a wait is near its breach.
NEAR = 0.8
FIRST = "first"
NEXT = "next"
WARNING = "warning"
BREACH = "breach"

Targets = tuple[timedelta | None, timedelta | None]


class Keep(Enum):
    """An override's target it leaves out: the settings' target stays in force."""

    KEEP = "keep"


KEEP = Keep.KEEP
# An override's targets: a duration, None (off), or KEEP (the settings' target).
Override = tuple[timedelta | Keep | None, timedelta | Keep | None]
OverrideProvider = Callable[[int], Awaitable[Override | None]]


@dataclass(frozen=True, kw_only=True)
class SlaAlert(CoreEvent):
    """A wait came near its target (`stage` "warning") or passed it ("breach"); told once.
    `target` is "first" or "next"; `limit` the target in seconds (business seconds)."""

    name = "sla.alert"
    target: str
    stage: str
    limit: int
    assignee_id: int | None = None


@dataclass(frozen=True)
class Wait:
    """A dialog's current wait measured against its target."""

    dialog_id: int
    target: str  # FIRST or NEXT
    start: datetime
    limit: timedelta
    used: int  # business seconds so far

    @property
    def stage(self) -> str | None:
        limit = self.limit.total_seconds()
        if self.used >= limit:
            return BREACH
        if self.used >= NEAR * limit:
            return WARNING
        return None

    @property
    def key(self) -> str:
        return self.start.astimezone(UTC).isoformat()


class Sla:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        self.first: timedelta | None = None
        self.next: timedelta | None = None
        self.override: OverrideProvider | None = None
        # Whether the override provider has any targets now (the automations file may have
        # none): without targets nothing is measured, and the sweep costs no query.
        self.overriding: Callable[[], bool] = lambda: self.override is not None

    def configure(
        self,
        first: timedelta | None,
        next_: timedelta | None,
        override: OverrideProvider | None = None,
    ) -> None:
        self.first, self.next = first, next_
        if override is not None:
            self.override = override

    @property
    def enabled(self) -> bool:
        return self.first is not None or self.next is not None or self.overriding()

    def install(self) -> None:
        # Durable: the reply's rows get their target in the reply's own transaction.
        self.ctx.bus.on_change(MessageCreated, self.on_message)

    async def targets(self, dialog_id: int) -> Targets:
        """The (first, next) targets in force for the dialog."""
        first, next_ = self.first, self.next
        if self.override is not None:
            try:
                found = await self.override(dialog_id)
            except Exception:
                log.exception("SLA override for dialog %s failed: the defaults apply", dialog_id)
                found = None
            if found is not None:
                first = first if found[0] is KEEP else found[0]
                next_ = next_ if found[1] is KEEP else found[1]
        return first, next_

    # ---- the targets of the replies (for /stats) --------------------------------------------

    async def on_message(self, event: MessageCreated) -> None:
        if event.kind != "out" or event.dialog_id is None or not self.enabled:
            return
        first, next_ = await self.targets(event.dialog_id)
        if first is None and next_ is None:
            return
        rows = ReportEvent.filter(message_id=event.message_id)
        if first is not None:
            marked = await rows.filter(kind=ReportKind.FIRST_RESPONSE).update(
                target=int(first.total_seconds())
            )
            if marked:
                return
        elif await rows.filter(kind=ReportKind.FIRST_RESPONSE).exists():
            return
        if next_ is not None:
            await rows.filter(kind=ReportKind.REPLY_TIME).update(target=int(next_.total_seconds()))

    # ---- the waits ----------------------------------------------------------------------------

    async def waits(self, dialogs: Iterable[Dialog], now: datetime) -> list[Wait]:
        """The current waits of these dialogs that have a target (open, client waiting)."""
        waiting = [
            d for d in dialogs if d.status == DialogStatus.OPEN and d.waiting_since is not None
        ]
        if not waiting or not self.enabled:
            return []
        latest: dict[int, Episode] = {}
        for found in await Episode.filter(dialog_id__in=[d.id for d in waiting]).order_by("number"):
            latest[found.dialog_id] = found  # type: ignore[attr-defined]
        out = []
        for dialog in waiting:
            assert dialog.waiting_since is not None
            episode = latest.get(dialog.id)
            first, next_ = await self.targets(dialog.id)
            if episode is not None and episode.first_response_at is None:
                target, start, limit = FIRST, episode.started_at, first
            else:
                target, start, limit = NEXT, dialog.waiting_since, next_
                if episode is not None and episode.started_at > start:
                    start = episode.started_at
            if limit is None:
                continue
            used = self.ctx.business_hours.seconds(start, now)
            out.append(Wait(dialog.id, target, start, limit, used))
        return out

    async def states(self, dialogs: Iterable[Dialog]) -> dict[int, str]:
        """For the board: dialog id -> WARNING (near a breach) or BREACH, now."""
        found = await self.waits(dialogs, self.ctx.clock.now())
        return {w.dialog_id: w.stage for w in found if w.stage is not None}

    async def sweep(self) -> int:
        """Tell every wait that came near its target or passed it, once each (also after a
        restart). How many were told."""
        if not self.enabled:
            return 0
        now = self.ctx.clock.now()
        dialogs = {
            d.id: d
            for d in await Dialog.filter(status=DialogStatus.OPEN, waiting_since__isnull=False)
        }
        due = [w for w in await self.waits(dialogs.values(), now) if w.stage is not None]
        if not due:
            return 0
        marked = {
            (int(str(d)), str(t), str(s), str(w))
            for d, t, s, w in await SlaMark.filter(
                dialog_id__in=[w.dialog_id for w in due]
            ).values_list("dialog_id", "target", "stage", "wait")
        }
        told = 0
        for wait in due:
            stage = wait.stage
            assert stage is not None
            if (wait.dialog_id, wait.target, stage, wait.key) in marked:
                continue
            if stage == WARNING and (wait.dialog_id, wait.target, BREACH, wait.key) in marked:
                continue
            dialog = dialogs[wait.dialog_id]
            alert = SlaAlert(
                dialog_id=wait.dialog_id,
                at=now,
                target=wait.target,
                stage=stage,
                limit=int(wait.limit.total_seconds()),
                assignee_id=dialog.assignee_id,  # type: ignore[attr-defined]
            )
            try:
                async with in_transaction():
                    await SlaMark.create(
                        dialog_id=wait.dialog_id,
                        target=wait.target,
                        stage=stage,
                        wait=wait.key,
                        at=now,
                    )
                    events = await self.ctx.bus.changed([alert])
            except IntegrityError:
                continue  # told already (another sweep got there first)
            await self.ctx.bus.publish_all(events)
            told += 1
        return told
