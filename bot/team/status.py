"""The control room's health: /status in General, and alerts when a link fails or recovers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from tortoise.expressions import Q

from bot.group.gateway import Gateway
from bot.group.rows import GROUP, TOPIC_POST
from bot.i18n import t
from bot.team.duty import duty_line
from bot.team.group_answers import queue_reply
from core.conversation import EDIT_AT_CLIENT, SEND_TO_CLIENT
from core.health import Health
from core.models import Channel, OutboxItem, OutboxStatus
from core.outbox import Priority, enqueue

GENERAL_NOTICE = "general.notice"
# Work still waiting this long after it was queued is stuck: the team is told.
STUCK_AFTER = timedelta(minutes=10)
# core.channels.UnknownChannel: a dialog's channel has no connector (its token was removed).
NO_CONNECTOR = "no connector for channel "
# What a person calls each kind of stuck work (status.stuck.<word>); the rest is "other".
STUCK_WORDS = {SEND_TO_CLIENT: "replies", EDIT_AT_CLIENT: "edits", TOPIC_POST: "posts"}


@dataclass
class Stuck:
    """Outbox work that does not get done: waiting for long, or with no connector at all."""

    count: int = 0
    by_word: dict[str, int] = field(default_factory=dict)
    oldest_error: str = ""
    oldest_since: datetime | None = None


async def stuck_work(now: datetime) -> Stuck:
    """Pending rows queued more than STUCK_AFTER before `now` (wall clock, as the outbox
    keeps it), and rows whose dialog's channel has no connector, whatever their age."""
    rows = (
        await OutboxItem.filter(status=OutboxStatus.PENDING)
        .filter(Q(created_at__lt=now - STUCK_AFTER) | Q(last_error__startswith=NO_CONNECTOR))
        .order_by("created_at", "id")
    )
    stuck = Stuck(count=len(rows))
    for row in rows:
        word = STUCK_WORDS.get(row.kind, "other")
        stuck.by_word[word] = stuck.by_word.get(word, 0) + 1
    if rows:
        stuck.oldest_error = rows[0].last_error or ""
        stuck.oldest_since = rows[0].created_at
    return stuck


class StatusBoard:
    def __init__(self, gateway: Gateway, health: Health, tz: ZoneInfo) -> None:
        self.gateway = gateway
        self.tz = tz
        self.health = health
        health.alert = self.alert
        gateway.core.outbox.handle(GENERAL_NOTICE, self.post_general, budget=GROUP)

    async def alert(self, name: str, recovered: bool, since: datetime) -> None:
        key = "status.alert_recovered" if recovered else "status.alert_down"
        when = since.astimezone(self.tz).strftime("%d.%m %H:%M")
        await enqueue(
            self.gateway.core.ctx,
            GENERAL_NOTICE,
            {"key": key, "values": {"name": name, "since": when}},
            priority=Priority.TOPIC_MESSAGE,
            lane="general",
        )

    async def post_general(self, item: OutboxItem) -> None:
        text = t(item.payload["key"], self.gateway.lang, **item.payload.get("values", {}))
        await self.gateway.group_call(
            lambda: self.gateway.bot.send_message(self.gateway.chat_id, text)
        )

    async def report(self, lang: str) -> str:
        lines = [t("status.title", lang)]
        # Who takes new dialogs from automatic assignment (/duty).
        lines.append(await duty_line(lang))
        for name, state in sorted(self.health.links.items()):
            mark = "✅" if state.ok else "⛔"
            extra = "" if state.ok else f" — {state.last_error}"
            lines.append(f"{mark} {name}{extra}")
        pending = await OutboxItem.filter(status=OutboxStatus.PENDING).values_list(
            "priority", flat=True
        )
        by_priority = dict.fromkeys(Priority, 0)
        for value in pending:
            by_priority[Priority(int(str(value)))] += 1
        queue = ", ".join(f"{p.name.lower()} {n}" for p, n in by_priority.items())
        failed = await OutboxItem.filter(status=OutboxStatus.FAILED).count()
        lines.append(t("status.queue", lang, queue=queue, failed=failed))
        stuck = await stuck_work(self.gateway.core.ctx.wall.now())
        if stuck.count:
            lines.append(await self.stuck_line(stuck, lang))
        for poster in self.gateway.posters:  # the team bot, then each relay: own budgets
            me = await poster.bot.me()
            used, limit = poster.budget.used_last_minute(), poster.budget.per_minute
            lines.append(t("status.budget", lang, bot=me.username, used=used, limit=limit))
        return "\n".join(lines)

    async def stuck_line(self, stuck: Stuck, lang: str) -> str:
        what = ", ".join(
            t(f"status.stuck.{word}", lang, count=count) for word, count in stuck.by_word.items()
        )
        error = stuck.oldest_error or t("status.stuck.no_error", lang)
        if error.startswith(NO_CONNECTOR):
            channel_id = error.removeprefix(NO_CONNECTOR).strip()
            channel = (
                await Channel.get_or_none(id=int(channel_id)) if channel_id.isdigit() else None
            )
            name = channel.name if channel else f"#{channel_id}"
            error = t("status.stuck.no_connector", lang, channel=name)
        since = stuck.oldest_since or self.gateway.core.ctx.wall.now()
        when = since.astimezone(self.tz).strftime("%d.%m %H:%M")
        minutes = int(STUCK_AFTER.total_seconds() // 60)
        return t("status.stuck", lang, what=what, minutes=minutes, since=when, error=error)


def status_router(board: StatusBoard, team_chat_id: int) -> Router:
    router = Router(name="status")
    router.message.filter(F.chat.id == team_chat_id)

    @router.message(Command("status"))
    async def status(message: Message) -> None:
        # The whole group reads it: in the group's language.
        # Queued: it goes as the group's budget allows, never waited for here.
        await queue_reply(board.gateway.core.ctx, message, await board.report(board.gateway.lang))

    return router
