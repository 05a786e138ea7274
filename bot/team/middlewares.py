"""The dialog an update in the team group is about, injected as `dialog` for its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.team.context import Middleware
from core.models import Dialog

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


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


def dialog_middleware(chat_id: int) -> Middleware:
    """An inner middleware for the team group's messages, edits and buttons: `dialog` is the
    dialog a button's data names, else the dialog of the topic the message (or the button's
    message) is in, else None. Looked up only for a handler that takes `dialog`."""

    async def with_dialog(handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        target = data.get("handler")
        wanted = target is None or target.varkw or "dialog" in target.params
        if wanted and "dialog" not in data:
            data["dialog"] = await dialog_for(chat_id, event, data)
        return await handler(event, data)

    return with_dialog
