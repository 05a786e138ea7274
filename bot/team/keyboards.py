"""Inline keyboards of the team group."""

from __future__ import annotations

from typing import get_args

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import DialogData, OriginalData, SnoozeData, SnoozeKey
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


def with_originals(
    markup: InlineKeyboardMarkup | None, message_ids: list[int], lang: str
) -> InlineKeyboardMarkup | None:
    """`markup` and a 📧 button for each message whose original is kept (numbered when a
    post shows several)."""
    if not message_ids:
        return markup
    label = t("button.original", lang)
    buttons = [
        InlineKeyboardButton(
            text=label if len(message_ids) == 1 else f"{label} {number}",
            callback_data=OriginalData(message_id=message_id).pack(),
        )
        for number, message_id in enumerate(message_ids[:6], 1)
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return InlineKeyboardMarkup(
        inline_keyboard=[*(markup.inline_keyboard if markup else []), *rows]
    )


def snooze_keyboard(dialog_id: int, lang: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=t(f"snooze.preset.{key}", lang),
            callback_data=SnoozeData(dialog_id=dialog_id, choice=key).pack(),
        )
        for key in SNOOZE_KEYS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 2] for i in range(0, 6, 2)])
