"""A topic's looks follow its dialog: the title (status, an unreachable client's ⛔) and open
or closed. Cosmetic work: it follows the client's messages into the topic, never goes first."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest

from bot.group.gateway import Gateway
from bot.group.rows import LOOKS_AFTER_POSTS, posts_pending, queue_notice, queue_title
from bot.storage import topic_link
from core.events import StatusChanged
from core.lifecycle import DialogStatus
from core.models import Dialog, OutboxItem
from core.outbox import RetryLater
from tgapi.errors import ThreadGone, is_not_modified


class Topics:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def on_status(self, event: StatusChanged) -> None:
        ctx = self.gateway.core.ctx
        await queue_title(ctx, event.dialog_id or 0)
        if event.data.get("action") == "wake":
            await queue_notice(ctx, event.dialog_id or 0, "notice.woke")

    async def show_status(self, item: OutboxItem) -> None:
        """Title and open/closed state follow the status; each change only when it differs.
        Cosmetic: a client's message into a closed or snoozed dialog is posted first."""
        gateway = self.gateway
        dialog = await Dialog.get(id=item.payload["dialog_id"])
        link = await topic_link(dialog.id)
        if link is None:
            return
        if await posts_pending(dialog.id):
            raise RetryLater(LOOKS_AFTER_POSTS, "after the client's messages", waiting=True)
        status = dialog.status.value
        # The status, or the client's reachability (⛔), changed what the title shows.
        title = await gateway.title_for(dialog, status)
        if link.shown_status != status or link.title != title:
            try:
                await gateway.group_call(
                    lambda: gateway.bot.edit_forum_topic(
                        gateway.chat_id, link.thread_id, name=title
                    )
                )
            except TelegramBadRequest as exc:
                if not is_not_modified(exc):
                    raise
            except ThreadGone:
                return
            link.title, link.shown_status = title, status
            await link.save(update_fields=["title", "shown_status"])
        should_close = status == DialogStatus.CLOSED.value
        if link.closed != should_close:
            bot = gateway.bot
            method = bot.close_forum_topic if should_close else bot.reopen_forum_topic
            try:
                await gateway.group_call(lambda: method(gateway.chat_id, link.thread_id))
            except TelegramBadRequest as exc:
                if not is_not_modified(exc):
                    raise
            except ThreadGone:
                return
            link.closed = should_close
            await link.save(update_fields=["closed"])
            if not should_close:
                gateway.shut.discard(dialog.id)  # open now: no reopen before the next post
