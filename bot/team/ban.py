"""/ban and /unban in a dialog's topic: stop a client (spam) and let them through again."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.i18n import t
from bot.team.context import Team, group_router
from core.bans import BanService
from core.models import Client, Dialog, Operator


def ban_router(team: Team) -> Router:
    router = group_router("team-ban", team)
    bans = BanService(team.core.ctx, team.core.dialogs)

    @router.message(Command("ban", "unban"), flags={"dialog": True})
    async def ban(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        if (command.args or "").strip():
            await team.answer(message, t("ban.usage", lang))
            return
        client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
        name = client.name
        if command.command.lower() == "ban":
            result = await bans.ban(dialog.id, operator)
            await team.answer(
                message, t("ban.done" if result.changed else "ban.already", lang, name=name)
            )
            return
        result = await bans.unban(dialog.id, operator)
        if not result.changed:
            text = t("ban.not_banned", lang, name=name)
        elif result.held:
            text = t("ban.undone_held", lang, name=name, count=result.held)
        else:
            text = t("ban.undone", lang, name=name)
        await team.answer(message, text)

    return router
