"""What the team writes in a dialog: replies to the client, comments, personal notes."""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from core import copies, reporting
from core.content import Content
from core.context import CoreContext
from core.dialogs import current_episode
from core.events import MessageCreated, MessageEdited, NoteCreated
from core.models import (
    Dialog,
    Episode,
    Message,
    MessageKind,
    Note,
    Operator,
    OutboxItem,
    OutboxStatus,
)
from core.outbox import Priority, enqueue

SEND_TO_CLIENT = "channel.send"
ALBUM_GATHER = timedelta(seconds=1.5)
EDIT_AT_CLIENT = "channel.edit"


def as_content(content: Content | str) -> Content:
    return Content.plain(content) if isinstance(content, str) else content


class ConversationService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def reply(
        self,
        dialog_id: int,
        author: Operator,
        content: Content | str,
        *,
        album_key: str | None = None,
        reply_to_id: int | None = None,
        source_ref: str | None = None,
        origin: copies.Origin | None = None,
        automatic: bool = False,
    ) -> Message:
        """Store an operator's reply and queue it for the client's channel (a plain `str` is
        a text without formatting).

        `automatic`: sent by an automation on the operator's behalf: it is no response of the
        team's in the reports (no first response, no reply time).

        `origin` is the team-side post the operator wrote it as: kept as the message's team
        copy, and the same post seen twice is stored once. `source_ref` names what asked
        for a reply that has no such post (a template's command), to the same end.
        """
        now = self.ctx.clock.now()
        async with in_transaction():
            dialog = await Dialog.select_for_update().get(id=dialog_id)
            existing = await self._existing(dialog_id, source_ref, origin)
            if existing is not None:
                return existing
            episode = await current_episode(dialog)
            message = await Message.create(
                dialog=dialog,
                episode=episode,
                kind=MessageKind.OUT,
                author=author,
                sender_name=author.name,
                **as_content(content).to_json(),
                album_key=album_key,
                external_id=source_ref,
                reply_to_id=reply_to_id,
                automatic=automatic,
                created_at=now,
            )
            await self._keep_origin(message, origin)
            if not automatic:
                await reporting.record_reply(
                    self.ctx,
                    at=now,
                    dialog=dialog,
                    episode=episode,
                    message=message,
                    waiting_since=dialog.waiting_since,
                )
            if not automatic and episode is not None and episode.first_response_at is None:
                episode.first_response_at = now
                await episode.save(update_fields=["first_response_at"])
            if not automatic:  # an automatic answer leaves the client waiting for the team
                dialog.waiting_since = None
            dialog.last_message_at = now
            await dialog.save(update_fields=["waiting_since", "last_message_at"])
            await enqueue(
                self.ctx,
                SEND_TO_CLIENT,
                {"message_id": message.id},
                priority=Priority.CLIENT_REPLY,
                lane=f"dialog:{dialog_id}:out",
                # The parts of an album arrive one by one: let them gather, send them as one.
                delay=ALBUM_GATHER if album_key else None,
            )
            created = MessageCreated(
                dialog_id=dialog_id, actor_id=author.id, at=now, message_id=message.id, kind="out"
            )
            events = await self.ctx.bus.changed([created])
        await self.ctx.bus.publish_all(events)
        return message

    async def edit_reply(self, message: Message, content: Content | str) -> bool:
        """An operator edited a reply's text (or caption): stored, and queued for the client's
        side. Its attachments stay as they were sent."""
        now = self.ctx.clock.now()
        content = as_content(content)
        spans = [span.to_json() for span in content.spans]
        if message.text == content.text and message.spans == spans:
            return False
        async with in_transaction():
            message.text, message.spans, message.edited_at = content.text, spans, now
            await message.save(update_fields=["text", "spans", "edited_at"])
            await enqueue(
                self.ctx,
                EDIT_AT_CLIENT,
                {"message_id": message.id},
                priority=Priority.CLIENT_REPLY,
                lane=f"dialog:{message.dialog_id}:out",  # type: ignore[attr-defined]
            )
            edited = MessageEdited(
                dialog_id=message.dialog_id,  # type: ignore[attr-defined]
                at=now,
                message_id=message.id,
                kind=message.kind.value,
            )
            events = await self.ctx.bus.changed([edited])
        await self.ctx.bus.publish_all(events)
        return True

    async def comment(
        self,
        dialog_id: int,
        author: Operator,
        content: Content | str,
        source_ref: str | None = None,
        album_key: str | None = None,
        origin: copies.Origin | None = None,
    ) -> Message:
        """Store a comment for the team (`origin`, `source_ref`: as for `reply`)."""
        now = self.ctx.clock.now()
        async with in_transaction():
            dialog = await Dialog.select_for_update().get(id=dialog_id)
            existing = await self._existing(dialog_id, source_ref, origin)
            if existing is not None:
                return existing
            message = await Message.create(
                dialog=dialog,
                episode=await current_episode(dialog),
                kind=MessageKind.COMMENT,
                author=author,
                sender_name=author.name,
                **as_content(content).to_json(),
                album_key=album_key,
                external_id=source_ref,
                created_at=now,
            )
            await self._keep_origin(message, origin)
            created = MessageCreated(
                dialog_id=dialog_id,
                actor_id=author.id,
                at=now,
                message_id=message.id,
                kind="comment",
            )
            events = await self.ctx.bus.changed([created])
        await self.ctx.bus.publish_all(events)
        return message

    async def _existing(
        self, dialog_id: int, source_ref: str | None, origin: copies.Origin | None
    ) -> Message | None:
        """The message stored before for the same post (or the same request)."""
        if origin is not None and origin.ids:
            found = await copies.find(copies.TEAM, origin.chat, origin.ids[0], dialog_id=dialog_id)
            if found is not None:
                return found
        if source_ref:
            return await Message.get_or_none(dialog_id=dialog_id, external_id=source_ref)
        return None

    async def _keep_origin(self, message: Message, origin: copies.Origin | None) -> None:
        if origin is not None:
            await copies.record(
                message,
                copies.TEAM,
                origin.ids,
                at=message.created_at,
                chat=origin.chat,
                via=origin.via,
                data=origin.data,
            )

    async def album_is_comment(self, dialog_id: int, album_key: str) -> bool:
        """One part of an album marked as a comment makes the whole album one."""
        return await Message.exists(
            dialog_id=dialog_id, album_key=album_key, kind=MessageKind.COMMENT
        )

    async def withdraw(self, messages: list[Message]) -> list[Message]:
        """Replies not yet sent become comments: their sends are called off. Returns the
        ones withdrawn (a reply already delivered stays what the client has)."""
        ids = [m.id for m in messages]
        if not ids:
            return []
        async with in_transaction():
            pending = await Message.filter(
                id__in=ids, kind=MessageKind.OUT, delivered_at=None
            ).select_for_update()
            # A send under way cannot be called back: the client may have it already.
            in_flight = await self._in_flight(pending)
            pending = [m for m in pending if m.id not in in_flight]
            for message in pending:
                message.kind = MessageKind.COMMENT
                await message.save(update_fields=["kind"])
            taken = {m.id for m in pending}
            rows = await OutboxItem.filter(
                kind__in=[SEND_TO_CLIENT, EDIT_AT_CLIENT], status=OutboxStatus.PENDING
            )
            for row in rows:
                if int(row.payload.get("message_id", 0)) in taken:
                    await row.delete()
            for dialog_id in {m.dialog_id for m in pending}:  # type: ignore[attr-defined]
                await self._unanswer(dialog_id)
            for episode_id in {m.episode_id for m in pending if m.episode_id}:  # type: ignore[attr-defined]
                await self._first_response(episode_id)
            await reporting.withdrawn(self.ctx, pending)
        return list(pending)

    async def _unanswer(self, dialog_id: int) -> None:
        """A withdrawn reply answered nothing: the dialog waits again since the client's
        first message after the last reply left (unless a reply came after the client's)."""
        dialog = await Dialog.select_for_update().get(id=dialog_id)
        last_out = (
            await Message.filter(dialog_id=dialog_id, kind=MessageKind.OUT, automatic=False)
            .order_by("-id")
            .first()
        )
        unanswered = Message.filter(dialog_id=dialog_id, kind=MessageKind.IN)
        if last_out is not None:
            unanswered = unanswered.filter(id__gt=last_out.id)
        oldest = await unanswered.order_by("id").first()
        if oldest is not None:
            dialog.waiting_since = oldest.created_at
            await dialog.save(update_fields=["waiting_since"])

    async def _first_response(self, episode_id: int) -> None:
        """An episode's first response is its first reply that was not withdrawn."""
        first = (
            await Message.filter(episode_id=episode_id, kind=MessageKind.OUT, automatic=False)
            .order_by("created_at", "id")
            .first()
        )
        await Episode.filter(id=episode_id).update(
            first_response_at=first.created_at if first else None
        )

    async def _in_flight(self, messages: list[Message]) -> set[int]:
        """Those of `messages` whose send has begun (an album's parts go out together)."""
        sending = await OutboxItem.filter(kind=SEND_TO_CLIENT, status=OutboxStatus.SENDING)
        started = {int(row.payload.get("message_id", 0)) for row in sending}
        if not started:
            return set()
        albums = set(
            await Message.filter(id__in=list(started), album_key__not_isnull=True).values_list(
                "album_key", flat=True
            )
        )
        return {
            m.id for m in messages if m.id in started or (m.album_key and m.album_key in albums)
        }

    async def withdraw_album(self, dialog_id: int, album_key: str) -> list[Message]:
        """The parts of an album stored as replies before a part turned out a comment."""
        parts = await Message.filter(dialog_id=dialog_id, album_key=album_key, kind=MessageKind.OUT)
        return await self.withdraw(list(parts))

    async def note(self, dialog_id: int, author: Operator, text: str) -> Note:
        now = self.ctx.clock.now()
        async with in_transaction():
            note = await Note.create(author=author, dialog_id=dialog_id, text=text, created_at=now)
            created = NoteCreated(dialog_id=dialog_id, actor_id=author.id, at=now, note_id=note.id)
            # The note's private copy is queued with it.
            events = await self.ctx.bus.changed([created])
        await self.ctx.bus.publish_all(events)
        return note

    async def notes_of(self, author: Operator) -> list[Note]:
        """A note is visible to its author alone: every query goes through the author."""
        return await Note.filter(author=author).order_by("dialog_id", "created_at")
