"""Digests in private: each manager who started the bot gets yesterday's numbers at
DIGEST_TIME, and on Mondays also the last week's — the /stats text of the period, in their own
language, no charts (`/stats week` draws them).

core.digests decides when a digest is due (`DigestDue`, once). Here, in that transaction, an
outbox row is queued that finds the managers — the team group's administrators (asked from
Telegram) and MANAGERS — and queues one private row each, marked per manager, so that nobody
gets one twice; each private row then renders the text and sends it.
"""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

from aiogram.exceptions import TelegramForbiddenError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.i18n import pick_language, t
from bot.team.context import Team
from bot.team.stats import period_text
from core.content import Span
from core.digests import DigestDue, DigestKind, mark
from core.models import Operator, OutboxItem
from core.outbox import GiveUp, Priority, enqueue
from core.reporting import days_period
from tgapi.errors import call
from tgapi.text import split, to_entities, with_header

log = logging.getLogger(__name__)

DIGEST_MANAGERS = "digest.managers"
PRIVATE_DIGEST = "private.digest"


class DigestSender:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core

    @property
    def tz(self) -> ZoneInfo:
        tz: ZoneInfo = self.team.settings.tz
        return tz

    def install(self) -> None:
        self.core.outbox.handle(DIGEST_MANAGERS, self.to_managers)
        self.core.outbox.handle(PRIVATE_DIGEST, self.send)
        # Durable: queued in the transaction that marked the digest due.
        self.core.bus.on_change(DigestDue, self.on_due)

    async def on_due(self, event: DigestDue) -> None:
        payload = {
            "kind": event.kind,
            "first": event.first_day.isoformat(),
            "last": event.last_day.isoformat(),
        }
        await enqueue(self.core.ctx, DIGEST_MANAGERS, payload, priority=Priority.PRIVATE)

    async def to_managers(self, item: OutboxItem) -> dict[str, int]:
        """One private row per manager (each once: a mark per manager)."""
        payload = item.payload
        managers = await self.team.managers_in_private()
        now = self.core.clock.now()
        first = date.fromisoformat(payload["first"])
        queued = 0
        for operator in managers:
            try:
                async with in_transaction():
                    if not await mark(payload["kind"], first, operator.id, now):
                        continue
                    await enqueue(
                        self.core.ctx,
                        PRIVATE_DIGEST,
                        {**payload, "operator_id": operator.id},
                        priority=Priority.PRIVATE,
                    )
            except IntegrityError:
                continue  # queued for them already
            queued += 1
        return {"managers": queued}

    async def text(
        self, kind: str, first: date, last: date, lang: str
    ) -> tuple[str, tuple[Span, ...]]:
        period = days_period(first, last, self.tz)
        key = "digests.weekly" if kind == DigestKind.WEEKLY else "digests.daily"
        header = t(key, lang)
        body = await period_text(period, self.tz, lang)
        body += "\n\n" + t("digests.more", lang)
        return with_header(header, body)

    async def send(self, item: OutboxItem) -> None:
        payload = item.payload
        operator = await Operator.get_or_none(id=payload["operator_id"])
        if operator is None or not operator.active or not operator.can_message:
            return  # gone from the team, or no longer reachable in private
        lang = pick_language(operator.language)
        first, last = date.fromisoformat(payload["first"]), date.fromisoformat(payload["last"])
        text, spans = await self.text(payload["kind"], first, last, lang)
        bot = self.team.bot
        try:
            for part, part_spans in split(text, spans):
                await call(
                    bot.send_message(
                        operator.user_id,
                        part,
                        entities=to_entities(part, part_spans),
                        parse_mode=None,
                    )
                )
        except TelegramForbiddenError:
            operator.can_message = False
            await operator.save(update_fields=["can_message"])
            raise GiveUp("the manager has blocked the bot") from None
