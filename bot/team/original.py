"""📧 Original: the client's message exactly as its channel delivered it (a whole mail, with
the quotes and the signature the topic leaves out), sent as a file to the private chat of
the operator who pressed — never into the topic, where everyone would get it."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import CallbackQuery

from bot.callbacks import OriginalData
from bot.i18n import t
from bot.team.answers import quietly
from bot.team.content import send_content
from bot.team.context import Team, group_router
from core.content import Attachment, Content
from core.models import Message


def original_router(team: Team) -> Router:
    router = group_router("team-original", team)

    @router.callback_query(OriginalData.filter())
    async def send_original(
        query: CallbackQuery, callback_data: OriginalData, operator: Any, lang: str
    ) -> None:
        message = await Message.get_or_none(id=callback_data.message_id)
        original = Attachment.from_json(message.original) if message and message.original else None
        if message is None or original is None or original.blob is None:
            await quietly(lambda: query.answer(t("original.missing", lang), show_alert=True))
            return
        bot = (await team.bot.me()).username or ""
        if not getattr(operator, "can_message", False):
            await quietly(
                lambda: query.answer(t("original.start_first", lang, bot=bot), show_alert=True)
            )
            return
        caption = t("original.caption", lang, name=message.sender_name or "—")
        try:
            await send_content(
                team.bot,
                query.from_user.id,
                content=Content(caption, attachments=(original,)),
                files=team.desk.gateway.files,
            )
        except (TelegramForbiddenError, TelegramBadRequest):
            # They blocked the bot, or never started it after all.
            await quietly(
                lambda: query.answer(t("original.start_first", lang, bot=bot), show_alert=True)
            )
            return
        await quietly(lambda: query.answer(t("original.sent", lang, bot=bot)))

    return router
