"""Inline keyboards of the team group."""

from __future__ import annotations

from typing import get_args

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import DialogData, SnoozeData, SnoozeKey
from bot.i18n import t

SNOOZE_KEYS: tuple[SnoozeKey, ...] = get_args(SnoozeKey)


def dialog_buttons(dialog_id: int, lang: str) -> InlineKeyboardMarkup:
    close = InlineKeyboardButton(
        text=t("button.close", lang),
        callback_data=DialogData(action="close", dialog_id=dialog_id).pack(),
    )
    later = InlineKeyboardButton(
        text=t("button.snooze", lang),
        callback_data=DialogData(action="snooze", dialog_id=dialog_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[close, later]])  # fmt: skip


def snooze_keyboard(dialog_id: int, lang: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=t(f"snooze.preset.{key}", lang),
            callback_data=SnoozeData(dialog_id=dialog_id, choice=key).pack(),
        )
        for key in SNOOZE_KEYS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 2] for i in range(0, 6, 2)])
