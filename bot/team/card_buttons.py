"""The card's buttons: Reopen and the client's other dialogs answer in the topic; 📜 History
(the client's messages over every channel, bot/team/history.py) goes to the presser's private
chat."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.callbacks import CardData
from bot.group.card_view import CardView
from bot.i18n import t
from bot.team.answers import quietly
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_answer, thread_of
from bot.team.history import History
from bot.team.richtext import Rich
from bot.team.steps import done, mark, press_key
from core.content import Content
from core.lifecycle import DialogStatus
from core.models import Dialog
from core.queries import other_dialogs

MORE_DIALOGS = 20


def card_router(team: Team, view: CardView) -> Router:
    router = group_router("team-card", team)
    core = team.core
    history = History(team)

    @router.callback_query(CardData.filter())
    async def card_button(
        query: CallbackQuery,
        callback_data: CardData,
        dialog: Dialog | None,
        operator: Any,
        lang: str,
    ) -> None:
        action = callback_data.action
        if dialog is None or not isinstance(query.message, Message):
            await query.answer(t("error.not_dialog", lang), show_alert=True)
            return
        if action == "reopen":
            key = press_key(query, "reopen")
            if not await done(key):
                if dialog.status is DialogStatus.OPEN:
                    await quietly(lambda: query.answer(t("error.already_open", lang)))
                    return
                await core.dialogs.reopen(dialog.id, operator)
                await mark(key, core.clock.now())
            await quietly(lambda: query.answer(t("done.reopened", lang, name=operator.name)))
            return
        if action == "history":
            # To the presser's private chat (no group budget; their notes are theirs).
            bot = (await team.bot.me()).username or ""
            if await history.asked(operator, dialog):
                await quietly(lambda: query.answer(t("history.sent", lang, bot=bot)))
            else:
                await quietly(
                    lambda: query.answer(t("history.start_first", lang, bot=bot), show_alert=True)
                )
            return
        # Answered at once; what was asked for goes into the topic as the budget allows.
        await quietly(lambda: query.answer())
        if action == "dialogs":
            rich = await dialogs_text(view, dialog, lang)
        else:
            return
        shown = query.message
        await queue_answer(
            core.ctx,
            shown.chat.id,
            Content(rich.text, tuple(rich.spans)),
            thread_id=thread_of(shown),
            preview=False,
        )

    return router


async def dialogs_text(view: CardView, dialog: Dialog, lang: str) -> Rich:
    client_id = dialog.client_id  # type: ignore[attr-defined]
    others = await other_dialogs(client_id, dialog.id, MORE_DIALOGS)
    rich = Rich().add(t("card.all_dialogs", lang, count=len(others)), bold=True)
    for other in others:
        if not rich.fits():
            break
        await view.add_other(rich, other, view.core.clock.now())
    return rich
