"""The card's buttons that answer in the topic: Reopen, 📜 History (the client's last messages
over every channel) and the client's other dialogs."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.callbacks import CardData
from bot.group.card_view import CardView, clip
from bot.i18n import t
from bot.team.answers import quietly
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_answer, thread_of
from bot.team.lines import local
from bot.team.richtext import Rich
from bot.team.steps import done, mark, press_key
from core.content import Content
from core.lifecycle import DialogStatus
from core.models import Channel, Dialog
from core.queries import client_history, other_dialogs

MORE_DIALOGS = 20
HISTORY = 15


def card_router(team: Team, view: CardView) -> Router:
    router = group_router("team-card", team)
    core = team.core

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
        # Answered at once; what was asked for goes into the topic as the budget allows.
        await quietly(lambda: query.answer())
        if action == "dialogs":
            rich = await dialogs_text(view, dialog, lang)
        elif action == "history":
            rich = await history_text(team, dialog, lang)
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


async def history_text(team: Team, dialog: Dialog, lang: str) -> Rich:
    tz = team.settings.tz
    messages = await client_history(dialog.client_id, HISTORY)  # type: ignore[attr-defined]
    rich = Rich().add(t("card.history", lang, count=len(messages)), bold=True)
    channels = {c.id: c.name for c in await Channel.all()}
    dialog_channels = {
        d.id: channels.get(d.channel_id, "")  # type: ignore[attr-defined]
        for d in await Dialog.filter(client_id=dialog.client_id)  # type: ignore[attr-defined]
    }
    now = team.core.clock.now()
    for message in messages:
        if not rich.fits(300):
            break
        who = message.sender_name or ("→" if message.kind.value == "out" else "←")
        body = clip(message.text, 200) or (
            f"[{message.attachments[0]['kind']}]" if message.attachments else ""
        )
        where = dialog_channels.get(message.dialog_id, "")  # type: ignore[attr-defined]
        rich.line(f"{local(message.created_at, tz, now)} · {where} · ", bold=False)
        rich.add(who, bold=True).add(f": {body}")
    if not messages:
        rich.line(t("card.no_history", lang))
    return rich
