"""What the team is told of service levels (core/sla.py sweeps for them): a breach posts one
line in the dialog's topic (the group's language) and tells the assignee privately; a wait
close to its breach tells the assignee privately. Each once per wait (the core's SlaMark);
with no assignee a breach is told in the topic only. Both are outbox rows queued in the
transaction that marked the wait."""

from __future__ import annotations

from datetime import timedelta

from aiogram.exceptions import TelegramForbiddenError

from bot.group.rows import queue_notice
from bot.i18n import pick_language, t
from bot.storage import topic_link
from bot.team.context import Team
from bot.team.lines import dialog_title
from bot.team.links import topic_url
from bot.team.richtext import Rich
from core.durations import format_duration
from core.models import Dialog, Operator, OutboxItem
from core.outbox import GiveUp, Priority, enqueue
from core.sla import BREACH, SlaAlert
from tgapi.errors import call

PRIVATE_SLA = "private.sla"


def limit_words(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))


class SlaNotices:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core

    def install(self) -> None:
        self.core.outbox.handle(PRIVATE_SLA, self.send_private)
        # Durable: queued in the transaction that wrote the wait's mark.
        self.core.bus.on_change(SlaAlert, self.on_alert)

    async def on_alert(self, event: SlaAlert) -> None:
        if event.dialog_id is None:
            return
        limit = limit_words(event.limit)
        if event.stage == BREACH:
            await queue_notice(
                self.core.ctx, event.dialog_id, f"sla.breach_{event.target}", limit=limit
            )
        if event.assignee_id is not None:
            await enqueue(
                self.core.ctx,
                PRIVATE_SLA,
                {
                    "dialog_id": event.dialog_id,
                    "operator_id": event.assignee_id,
                    "target": event.target,
                    "stage": event.stage,
                    "limit": event.limit,
                },
                priority=Priority.PRIVATE,
            )

    async def send_private(self, item: OutboxItem) -> None:
        payload = item.payload
        dialog = await Dialog.get_or_none(id=payload["dialog_id"])
        operator = await Operator.get_or_none(id=payload["operator_id"])
        if dialog is None or operator is None or not operator.active:
            return
        if dialog.assignee_id != operator.id:  # type: ignore[attr-defined]
            return  # someone else's by now
        if not await self.team.membership.still_on_team(operator.user_id):
            return
        lang = pick_language(operator.language)
        key = f"sla.private_{payload['stage']}_{payload['target']}"
        rich = Rich().add(t(key, lang, limit=limit_words(int(payload["limit"]))) + " ")
        title = await dialog_title(dialog)
        topic = await topic_link(dialog.id)
        if topic is not None:
            rich.add(title, url=topic_url(self.team.chat_id, topic.thread_id))
        else:
            rich.add(title)
        try:
            await call(
                self.team.bot.send_message(
                    operator.user_id, rich.text, entities=rich.message_entities(), parse_mode=None
                )
            )
        except TelegramForbiddenError:
            operator.can_message = False
            await operator.save(update_fields=["can_message"])
            raise GiveUp("operator has not started the bot") from None
