"""A client's edit into the topic: the posts that show the message rewritten in place (a part
more added, a part too many removed), or the new text as a reply where a post cannot be
rewritten (a coalesced post, the card, a media caption)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ReplyParameters

from bot.group.gateway import Gateway, Poster
from bot.group.rows import TOPIC_EDIT
from bot.i18n import t
from bot.storage import TopicLink
from core import copies
from core.content import Span
from core.events import MessageEdited
from core.models import Dialog, Message, MessageKind, OutboxItem
from core.outbox import GiveUp, Priority, RetryLater, enqueue
from tgapi.errors import ThreadGone, TopicClosed, call, is_not_modified
from tgapi.parse import bot_of
from tgapi.text import split, to_entities, with_header

log = logging.getLogger(__name__)


class Edits:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.core = gateway.core
        self.chat_id = gateway.chat_id
        self.lang = gateway.lang

    async def on_edit(self, event: MessageEdited) -> None:
        if event.kind == MessageKind.IN.value:
            await enqueue(
                self.core.ctx,
                TOPIC_EDIT,
                {"message_id": event.message_id},
                priority=Priority.TOPIC_MESSAGE,
                lane=f"topic:{event.dialog_id}",
                merge_key=f"edit:{event.message_id}",
            )

    async def mirror_client_edit(self, item: OutboxItem) -> None:
        message = await Message.get(id=item.payload["message_id"])
        shown = await copies.of(message.id, copies.TEAM, self.chat_id)
        if not shown:
            return
        edited = t("topic.edited_mark", self.lang)
        text, spans = with_header(message.sender_name or "—", message.text, message.content.spans)
        # Cut as a new post is cut: an edit may grow past what one Telegram message holds.
        parts = split(f"{text}\n{edited}", spans)
        poster = self.gateway.poster_of(bot_of(shown[0].via))
        copy_id = int(shown[0].external_id)
        shared = len(await copies.shown_at(copies.TEAM, self.chat_id, copy_id))
        dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
        link = await self.gateway.topic_of(dialog)
        try:
            if shared > 1 or message.attachments or copy_id == link.card_message_id:
                # A coalesced post, the card or a media caption is not rewritten: the new
                # text is shown as a reply to it.
                await self.reply_parts(item, poster, link, parts, copy_id)
            else:
                old = [int(c.external_id) for c in shown]
                await self.edit_parts(item, message, poster, link, old, parts)
        except ThreadGone:
            return  # the topic is gone: the next post heals it, with a summary
        except TopicClosed:
            await self.gateway.reopen(dialog, link)
            raise RetryLater(0, "topic reopened", waiting=True) from None

    async def reply_parts(
        self,
        item: OutboxItem,
        poster: Poster,
        link: TopicLink,
        parts: list[tuple[str, tuple[Span, ...]]],
        reply_to: int,
    ) -> None:
        """`parts` as new posts, the first a reply to `reply_to`, each next to the one
        before; what went out already (kept in the row) is not sent again."""
        sent: list[int] = list(item.payload.get("sent_parts") or [])
        for part, part_spans in parts[len(sent) :]:
            target = sent[-1] if sent else reply_to
            new = await self.post_part(poster, link, part, part_spans, target)
            sent.append(new)
            item.payload = {**item.payload, "sent_parts": sent}
            await item.save(update_fields=["payload"])

    async def edit_parts(
        self,
        item: OutboxItem,
        message: Message,
        poster: Poster,
        link: TopicLink,
        old: list[int],
        parts: list[tuple[str, tuple[Span, ...]]],
    ) -> None:
        """A client's text shown in `old` posts becomes `parts`: each post edited in place;
        a part more follows as a reply to the one before, a post too many is removed. The
        posts it ends up in are kept with the message, and how many parts are done with the
        row, after every step: a retry (the budget) does not edit a post again."""
        shown = list(old)
        done = int(item.payload.get("edited_parts") or 0)
        for index, (part, part_spans) in enumerate(parts[done:], start=done):
            if index < len(shown):
                try:
                    await self.edit_post(poster, shown[index], part, part_spans)
                except TelegramBadRequest as exc:
                    raise GiveUp(exc.message) from exc
            else:
                shown.append(await self.post_part(poster, link, part, part_spans, shown[-1]))
                await self.keep_parts(message, shown)
            item.payload = {**item.payload, "edited_parts": index + 1}
            await item.save(update_fields=["payload"])
        for surplus in shown[len(parts) :]:
            await self.remove_part(poster, surplus)
            shown.remove(surplus)
            await self.keep_parts(message, shown)

    async def edit_post(
        self,
        poster: Poster,
        message_id: int,
        text: str,
        spans: Sequence[Span] = (),
    ) -> None:
        """A post of the group gets `text` (never markup: it may be a client's); a post that
        already shows it is no fault. Of `poster`'s budget."""
        self.gateway.spend(poster)
        try:
            await self.gateway.poster_call(
                poster,
                lambda: poster.bot.edit_message_text(
                    chat_id=self.chat_id,
                    message_id=message_id,
                    text=text,
                    entities=to_entities(text, spans),
                    parse_mode=None,
                ),
            )
        except TelegramBadRequest as exc:
            if not is_not_modified(exc):
                raise

    async def post_part(
        self,
        poster: Poster,
        link: TopicLink,
        text: str,
        spans: Sequence[Span],
        reply_to: int,
    ) -> int:
        self.gateway.spend(poster)
        sent = await self.gateway.poster_call(
            poster,
            lambda: poster.bot.send_message(
                self.chat_id,
                text,
                entities=to_entities(text, spans),
                parse_mode=None,
                message_thread_id=link.thread_id,
                reply_parameters=ReplyParameters(
                    message_id=reply_to, allow_sending_without_reply=True
                ),
            ),
        )
        return int(sent.message_id)

    async def remove_part(self, poster: Poster, message_id: int) -> None:
        """A post an edit no longer needs: deleted (no group budget), or emptied down to
        the edited mark when it cannot be."""
        try:
            await call(poster.bot.delete_message(self.chat_id, message_id))
            return
        except TelegramBadRequest as exc:
            log.info("topic part %s not deleted: %s", message_id, exc.message)
        try:
            await self.edit_post(poster, message_id, t("topic.edited_mark", self.lang))
        except TelegramBadRequest as exc:
            log.info("topic part %s not emptied: %s", message_id, exc.message)

    async def keep_parts(self, message: Message, ids: list[int]) -> None:
        await copies.replace(message, copies.TEAM, ids, at=self.gateway.now(), chat=self.chat_id)
