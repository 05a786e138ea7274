"""The dialog an update in the team group is about, injected as `dialog` for its handler.

A handler that cannot work without one says so with a flag, `flags={"dialog": True}` (or the
locale key that says where it works instead, like `"tasks.topic_only"`): where there is no
dialog the middleware answers for it and the handler is not run. One answer for every such
command and button, instead of a preamble in each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.dispatcher.flags import get_flag
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.i18n import t
from bot.team.context import Middleware
from core.models import Dialog

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
# Answers a message that needs a dialog where there is none: (message, lang, where it works).
NoDialog = Callable[[Message, str, str], Awaitable[None]]


async def topic_dialog(chat_id: int, message: Message) -> Dialog | None:
    """The dialog whose topic `message` is in; None in General or in a topic of no dialog."""
    if not message.is_topic_message or not message.message_thread_id:
        return None
    return await Dialog.get_or_none(
        topic__chat_id=chat_id, topic__thread_id=message.message_thread_id
    )


async def dialog_for(chat_id: int, event: TelegramObject, data: dict[str, Any]) -> Dialog | None:
    # A button names its dialog (bot.callbacks): the one it acts on, wherever it is pressed.
    named = getattr(data.get("callback_data"), "dialog_id", None)
    if named is not None:
        return await Dialog.get_or_none(id=named)
    message = event.message if isinstance(event, CallbackQuery) else event
    return await topic_dialog(chat_id, message) if isinstance(message, Message) else None


def dialog_middleware(chat_id: int, no_dialog: NoDialog) -> Middleware:
    """An inner middleware for the team group's messages, edits and buttons: `dialog` is the
    dialog a button's data names, else the dialog of the topic the message (or the button's
    message) is in, else None. Looked up only for a handler that takes `dialog`. A handler
    flagged `dialog` is not run without one: a message is answered by `no_dialog`, a button
    with an alert."""

    async def with_dialog(handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        target = data.get("handler")
        wanted = target is None or target.varkw or "dialog" in target.params
        if wanted and "dialog" not in data:
            data["dialog"] = await dialog_for(chat_id, event, data)
        required = get_flag(data, "dialog")
        if required and data.get("dialog") is None:
            lang = data["lang"]
            if isinstance(event, CallbackQuery):
                await event.answer(t("error.not_dialog", lang), show_alert=True)
            elif isinstance(event, Message):
                await no_dialog(event, lang, "error.topic_only" if required is True else required)
            return None
        return await handler(event, data)

    return with_dialog
