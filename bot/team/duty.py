"""/duty on|off: whether I take new dialogs from automatic assignment (PRODUCT.md §4).

Anywhere a member writes to the bot (General, a topic, private). Everyone is on duty until
they say `/duty off` (the switch is for stepping out); `/duty` alone tells my state with a
button to switch it. /status shows who is on duty. Assigning by hand is not affected.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import DutyData
from bot.i18n import t
from bot.team.answers import quietly
from bot.team.context import Team
from bot.team.group_answers import queue_edit
from core.models import Operator

ON_WORDS = {"on", "вкл", "да", "yes", "1"}
OFF_WORDS = {"off", "выкл", "нет", "no", "0"}


def state_text(on: bool, lang: str) -> str:
    return t("duty.state_on" if on else "duty.state_off", lang)


def keyboard(on: bool, lang: str) -> InlineKeyboardMarkup:
    label = t("duty.button_off" if on else "duty.button_on", lang)
    data = DutyData(on=not on).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=data)]]
    )


async def set_duty(operator: Operator, on: bool) -> None:
    operator.on_duty = on
    await Operator.filter(id=operator.id).update(on_duty=on)


def duty_router(team: Team, name: str) -> Router:
    """/duty and its button; include under Teamwork.in_group or in_private."""
    router = Router(name=name)

    @router.message(Command("duty"))
    async def duty(message: Message, command: CommandObject, operator: Operator, lang: str) -> None:
        word = (command.args or "").strip().lower()
        if not word:
            on = operator.on_duty
            await team.answer(message, state_text(on, lang), reply_markup=keyboard(on, lang))
            return
        if word not in ON_WORDS | OFF_WORDS:
            await team.answer(message, t("duty.usage", lang))
            return
        on = word in ON_WORDS
        await set_duty(operator, on)
        key = "duty.now_on" if on else "duty.now_off"
        # In a busy group a reaction on the command: it costs the group's budget nothing.
        await team.confirm(message, t(key, lang, name=operator.name))

    @router.callback_query(DutyData.filter())
    async def duty_button(
        query: CallbackQuery, callback_data: DutyData, operator: Operator, lang: str
    ) -> None:
        await set_duty(operator, callback_data.on)
        key = "duty.now_on" if callback_data.on else "duty.now_off"
        text = t(key, lang, name=operator.name)
        await quietly(lambda: query.answer(text), "duty button")
        message = query.message
        if not isinstance(message, Message):
            return
        # The message is the presser's own /duty answer or someone else's: it now tells
        # the presser's state, named.
        markup = keyboard(callback_data.on, lang)
        if message.chat.id == team.chat_id:
            await queue_edit(team.core.ctx, message, text, reply_markup=markup)
        else:
            await quietly(lambda: message.edit_text(text, reply_markup=markup), "duty edit")

    return router


async def duty_line(lang: str) -> str:
    """Who is on duty and who stepped out (for /status)."""
    rows = await Operator.filter(active=True).order_by("name", "id").values_list("name", "on_duty")
    on = [str(name) for name, duty in rows if duty]
    off = [str(name) for name, duty in rows if not duty]
    line = t("duty.status_on", lang, names=", ".join(on) if on else "—")
    if off:
        line += "\n" + t("duty.status_off", lang, names=", ".join(off))
    return line
