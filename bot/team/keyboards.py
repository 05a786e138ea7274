"""Inline keyboards of the team group."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import t

SNOOZE_KEYS = ("1h", "3h", "tomorrow", "monday", "forever", "custom")


def dialog_buttons(dialog_id: int, lang: str) -> InlineKeyboardMarkup:
    close = InlineKeyboardButton(
        text=t("button.close", lang), callback_data=f"dlg:close:{dialog_id}"
    )
    later = InlineKeyboardButton(
        text=t("button.snooze", lang), callback_data=f"dlg:snooze:{dialog_id}"
    )
    return InlineKeyboardMarkup(inline_keyboard=[[close, later]])  # fmt: skip


def snooze_keyboard(dialog_id: int, lang: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=t(f"snooze.preset.{key}", lang), callback_data=f"snz:{dialog_id}:{key}"
        )
        for key in SNOOZE_KEYS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 2] for i in range(0, 6, 2)])
