"""What becomes of an update whose handler failed: logged once, with what the update was, and
tried again by the poller only when trying again can help.

A refusal by Telegram (tgapi.errors: a bad request, a forbidden chat, a gone topic) meets a
re-run just the same: it is logged and the update is done. Anything else (the network, a
5xx, a 429, the database, a bug) leaves as tgapi.polling's UpdateFailed, and the poller's
rules apply: the update is held, tried again, and set aside after a few attempts.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import CallbackQuery, ErrorEvent, InlineQuery, Message, Update

from tgapi.errors import translate
from tgapi.polling import UpdateFailed

log = logging.getLogger(__name__)

# How much of a text or a button's data the log line shows.
SHOWN = 60


def describe(update: Update) -> str:
    """The update in a few words: its id and kind, who, where, what."""
    parts = [f"update {update.update_id}", update.event_type]
    event = update.event
    who = getattr(event, "from_user", None)
    if who is not None:
        parts.append(f"from {who.id}")
    message = event.message if isinstance(event, CallbackQuery) else event
    if isinstance(message, Message):
        parts.append(f"in chat {message.chat.id}")
        if message.is_topic_message and message.message_thread_id:
            parts.append(f"topic {message.message_thread_id}")
    if isinstance(event, CallbackQuery):
        parts.append(f"data {event.data!r}")
    elif isinstance(event, Message):
        said = event.text or event.caption
        parts.append(repr(said[:SHOWN]) if said else f"({event.content_type})")
    elif isinstance(event, InlineQuery):
        parts.append(repr(event.query[:SHOWN]))
    return " ".join(parts)


def errors_router() -> Router:
    """For every dispatcher, the team bot's and each client bot's (one router can have one
    parent: a new one for each)."""
    router = Router(name="errors")

    @router.errors()
    async def failed(event: ErrorEvent) -> None:
        exc, what = event.exception, describe(event.update)
        failure = translate(exc)
        if failure is not None and failure.permanent:
            log.warning("%s: Telegram refused (%s); not tried again", what, exc, exc_info=exc)
            return
        log.error("%s failed (%s)", what, exc, exc_info=exc)
        raise UpdateFailed(f"{what}: {exc!r}") from exc

    return router
