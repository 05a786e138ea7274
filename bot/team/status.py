"""The control room's health: /status in General, and alerts when a link fails or recovers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.health import Health
from bot.i18n import pick_language, t
from bot.team.desk import Desk
from core.models import OutboxItem, OutboxStatus
from core.outbox import Priority, enqueue

GENERAL_NOTICE = "general.notice"


class StatusBoard:
    def __init__(self, desk: Desk, health: Health, tz: ZoneInfo) -> None:
        self.desk = desk
        self.tz = tz
        self.health = health
        health.alert = self.alert
        desk.core.outbox.handle(GENERAL_NOTICE, self.post_general)

    async def alert(self, name: str, recovered: bool, since: datetime) -> None:
        key = "status.alert_recovered" if recovered else "status.alert_down"
        when = since.astimezone(self.tz).strftime("%d.%m %H:%M")
        await enqueue(
            self.desk.core.ctx,
            GENERAL_NOTICE,
            {"key": key, "values": {"name": name, "since": when}},
            priority=Priority.TOPIC_MESSAGE,
            lane="general",
        )

    async def post_general(self, item: OutboxItem) -> None:
        text = t(item.payload["key"], self.desk.lang, **item.payload.get("values", {}))
        await self.desk.group_call(lambda: self.desk.bot.send_message(self.desk.chat_id, text))

    async def report(self, lang: str) -> str:
        lines = [t("status.title", lang)]
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
        for poster in self.desk.posters:  # the team bot, then each relay: own budgets
            me = await poster.bot.me()
            used, limit = poster.budget.used_last_minute(), poster.budget.per_minute
            lines.append(t("status.budget", lang, bot=me.username, used=used, limit=limit))
        return "\n".join(lines)


def status_router(board: StatusBoard, team_chat_id: int) -> Router:
    router = Router(name="status")
    router.message.filter(F.chat.id == team_chat_id)

    @router.message(Command("status"))
    async def status(message: Message) -> None:
        lang = pick_language(message.from_user.language_code if message.from_user else None)
        await board.desk.spend_waiting()
        await message.reply(await board.report(lang))

    return router
