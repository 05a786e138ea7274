"""Deleting a message from the team group for good: an outbox row, retried until it works.

A `/note` must not stay readable in the group because one deleteMessage failed.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from core.context import CoreContext
from core.models import OutboxItem
from core.outbox import Handler, Priority, RetryLater, enqueue
from tgapi.errors import MessageGone, call, translate

log = logging.getLogger(__name__)

TEAM_DELETE = "team.delete"


async def delete_later(ctx: CoreContext, chat_id: int, message_id: int) -> None:
    """Queue the delete; the same message queued again (an update run twice) is one row."""
    await enqueue(
        ctx,
        TEAM_DELETE,
        {"chat_id": chat_id, "message_id": message_id},
        # Deletes cost nothing from the group's budget; a note must vanish at once.
        priority=Priority.CLIENT_REPLY,
        merge_key=f"delete:{chat_id}:{message_id}",
    )


def deleter(bot: Bot) -> Handler:
    async def delete(item: OutboxItem) -> None:
        chat_id, message_id = int(item.payload["chat_id"]), int(item.payload["message_id"])
        try:
            await call(bot.delete_message(chat_id, message_id))
        except TelegramBadRequest as exc:
            if isinstance(translate(exc), MessageGone):
                return  # gone already
            # "message can't be deleted": rights may be given back; the outbox backs off.
            log.warning("message %s not deleted yet: %s", message_id, exc.message)
            raise RetryLater(1.0, exc.message) from exc
        return None

    return delete
