"""An operator's private notes, delivered to their author in private: kept until the author
has started the bot, then every one not yet delivered (/start)."""

from __future__ import annotations

from aiogram.exceptions import TelegramForbiddenError

from bot.group.gateway import Gateway
from bot.group.notices import Notices
from bot.group.rows import PRIVATE_NOTE
from bot.i18n import t
from bot.storage import topic_link
from bot.team.links import topic_url
from core.events import NoteCreated
from core.models import Dialog, Note, Operator, OutboxItem, OutboxStatus
from core.outbox import GiveUp, Priority, enqueue
from tgapi.errors import call


class Notes:
    def __init__(self, gateway: Gateway, notices: Notices) -> None:
        self.gateway = gateway
        self.notices = notices
        self.core = gateway.core

    async def on_note(self, event: NoteCreated) -> None:
        # One key per note: a delivery after /start settles its earlier failed attempt.
        await enqueue(
            self.core.ctx,
            PRIVATE_NOTE,
            {"note_id": event.note_id},
            priority=Priority.PRIVATE,
            merge_key=f"note:{event.note_id}",
        )

    async def deliver_note(self, item: OutboxItem) -> None:
        gateway = self.gateway
        note = await Note.get(id=item.payload["note_id"])
        if note.delivered_at is not None:
            await self.settle_note(note)
            return
        author = await Operator.get(id=note.author_id)  # type: ignore[attr-defined]
        dialog = await Dialog.get(id=note.dialog_id)  # type: ignore[attr-defined]
        link = await topic_link(dialog.id)
        lang = author.language or gateway.lang
        title = link.title if link else f"#{dialog.id}"
        url = topic_url(gateway.chat_id, link.thread_id) if link else ""
        text = t("note.private", lang, title=title, text=note.text, url=url)
        try:
            await call(gateway.bot.send_message(author.user_id, text))
        except TelegramForbiddenError:
            author.can_message = False
            await author.save(update_fields=["can_message"])
            if await gateway.first_time(f"start-bot:{author.id}"):
                await self.notices.notice(dialog.id, "notice.start_bot_for_notes", name=author.name)
            raise GiveUp("operator has not started the bot; kept until /start") from None
        note.delivered_at = gateway.now()
        await note.save(update_fields=["delivered_at"])
        await self.settle_note(note)

    async def settle_note(self, note: Note) -> None:
        """The note reached its author: an earlier attempt that failed (the author had not
        started the bot) is done, not a failure /status keeps counting."""
        await OutboxItem.filter(
            kind=PRIVATE_NOTE, merge_key=f"note:{note.id}", status=OutboxStatus.FAILED
        ).update(status=OutboxStatus.SENT, done_at=self.core.ctx.wall.now())

    async def deliver_pending_notes(self, operator: Operator) -> int:
        pending = await Note.filter(author=operator, delivered_at=None).order_by("id")
        for note in pending:
            await self.on_note(NoteCreated(dialog_id=note.dialog_id, note_id=note.id))  # type: ignore[attr-defined]
        return len(pending)
