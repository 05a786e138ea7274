"""Digests: each day at DIGEST_TIME (in TIMEZONE) the managers get yesterday's numbers in
private, and on Mondays also the last week's (Monday to Sunday before).

The core decides when a digest is due and marks it, once: `Digests.send_due` is an idempotent
sweep on the ticker. A digest is a `DigestMark` row (kind, the period's first day,
recipient 0), unique, written in the transaction that publishes `DigestDue`; the front end
answers that event with an outbox row (in the same transaction), which finds the managers and
queues one private message each — each of them again a mark (recipient: the operator's id),
so nobody gets a digest twice, also across restarts.

After a restart: the sweep runs at start. A digest whose time passed while eadesk was down
goes then if it is still that day (in TIMEZONE); one whose day is over is not sent late (the
next day's digest covers the next day; /stats reads any period).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.context import CoreContext
from core.events import CoreEvent
from core.models import DigestMark

OFF = "off"
# The team's mark of a digest (the managers' own marks carry their operator ids).
TEAM = 0
TIME_FORM = re.compile(r"(\d{1,2}):(\d{2})")


class DigestKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


def parse_digest_time(text: str) -> time | None:
    """DIGEST_TIME: "HH:MM" (24 hours), or "off" (None; so is empty). ValueError otherwise."""
    value = text.strip().lower()
    if value in (OFF, ""):
        return None
    match = TIME_FORM.fullmatch(value)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError("is not a time of day: use HH:MM (24 hours), like 09:00, or off")


@dataclass(frozen=True)
class DigestPeriod:
    kind: DigestKind
    first_day: date
    last_day: date


def due_periods(now: datetime, at: time, tz: tzinfo) -> list[DigestPeriod]:
    """What is due at `now`: from `at` on, yesterday's digest; on a Monday also the week
    before (Monday to Sunday). Before `at`, nothing (the previous day's were due then)."""
    local = now.astimezone(tz)
    if local.time() < at:
        return []
    yesterday = local.date() - timedelta(days=1)
    due = [DigestPeriod(DigestKind.DAILY, yesterday, yesterday)]
    if local.weekday() == 0:
        due.append(DigestPeriod(DigestKind.WEEKLY, yesterday - timedelta(days=6), yesterday))
    return due


@dataclass(frozen=True, kw_only=True)
class DigestDue(CoreEvent):
    """A digest's time came: the managers are to get it (each once)."""

    name = "digest.due"
    kind: str
    first_day: date
    last_day: date


async def mark(kind: str, first_day: date, recipient: int, at: datetime) -> bool:
    """Compare-and-set, inside the caller's transaction or on its own: False when this
    digest was marked for `recipient` already. An IntegrityError inside a transaction
    propagates (the caller's transaction rolls back)."""
    if await DigestMark.exists(kind=kind, day=first_day, recipient=recipient):
        return False
    await DigestMark.create(kind=kind, day=first_day, recipient=recipient, created_at=at)
    return True


class Digests:
    """The sweep; `schedule` sets DIGEST_TIME (None: off) and TIMEZONE."""

    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        self.at: time | None = None
        self.tz: tzinfo = UTC

    def schedule(self, at: time | None, tz: tzinfo) -> None:
        self.at, self.tz = at, tz

    async def send_due(self) -> int:
        """Mark every digest due now that is not marked yet and publish it; how many."""
        if self.at is None:
            return 0
        now = self.ctx.clock.now()
        sent = 0
        for period in due_periods(now, self.at, self.tz):
            if await DigestMark.exists(kind=period.kind, day=period.first_day, recipient=TEAM):
                continue
            event = DigestDue(
                at=now, kind=period.kind, first_day=period.first_day, last_day=period.last_day
            )
            try:
                async with in_transaction():
                    if not await mark(period.kind, period.first_day, TEAM, now):
                        continue
                    events = await self.ctx.bus.changed([event])
            except IntegrityError:
                continue  # another sweep marked it first
            await self.ctx.bus.publish_all(events)
            sent += 1
        return sent
