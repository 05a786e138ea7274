"""A client's messages into the dialog's topic: one post per message, or several at once — an
album whole, texts that piled up while the budget was spent coalesced into one post — in
order, never twice; into a closed topic first, the reopen following as cosmetic work."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from bot.group.batches import OPENING_LIMIT, batch_of, coalesced, robot_marked, texts_up_to
from bot.group.gateway import Gateway, Poster
from bot.group.notices import Notices
from bot.group.rows import TOPIC_POST, queue_title, settle_posts
from bot.storage import Once, TopicLink
from bot.team.content import send_content
from bot.team.keyboards import dialog_buttons, with_originals
from core import copies
from core.content import Content
from core.events import CoreEvent, MessageCreated
from core.models import Dialog, Message, MessageKind, OutboxItem
from core.outbox import Priority, RetryLater, enqueue
from core.prepared import PreparedSelect
from tgapi.errors import ThreadGone, TopicClosed
from tgapi.parse import source_key
from tgapi.render import Caption
from tgapi.text import with_header

ALBUM_WAIT_SECONDS = 1.5
# What a reply or a forward puts before a subject ("Re: Re[2]: Fwd: …", "Ответ:", "AW:").
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|ответ|пересл)\s*(\[\d+\])?\s*:\s*)+", re.I)


def bare_subject(subject: str) -> str:
    """A subject without its reply and forward prefixes, for comparing."""
    return " ".join(_REPLY_PREFIX.sub("", subject).split()).casefold()


def _unposted(dialog_id: int, chat: str, since: int) -> Any:
    posted = copies.posted_query(dialog_id, copies.TEAM, chat, since=since)
    messages = Message.filter(dialog_id=dialog_id, kind=MessageKind.IN, id__gte=since)
    return messages.exclude(id__in=Subquery(posted.values("message_id"))).order_by("id")


# Built once: run for every post into a topic (see core/prepared.py).
_UNPOSTED = PreparedSelect(Message, _unposted, dialog_id=int, chat=str, since=int)
_WITH_DIALOG = PreparedSelect(
    Message,
    lambda message_id: Message.filter(id=message_id).select_related("dialog").limit(1),
    message_id=int,
)


class Feed:
    def __init__(self, gateway: Gateway, notices: Notices, tz: ZoneInfo | None = None) -> None:
        self.gateway = gateway
        self.notices = notices
        self.core = gateway.core
        self.chat_id = gateway.chat_id
        self.lang = gateway.lang
        self.files = gateway.files
        self.tz = tz or ZoneInfo("UTC")

    async def on_message(self, event: MessageCreated) -> list[CoreEvent]:
        if event.kind != MessageKind.IN.value:
            return []
        message = event.message or await Message.get(id=event.message_id)
        await self.queue_post(message)
        if message.notices:
            await self.notices.inbound(message)  # what the channel could not carry in
        # The client could not be reached, and wrote (ingest says so): the topic is told, and
        # told again should they block us again.
        if event.data.get("reachable_again"):
            await Once.filter(key=f"unreachable:{event.dialog_id}").delete()
            return await self.notices.reachable_again(event.dialog_id or 0)
        return []

    async def queue_post(self, message: Message) -> None:
        delay = timedelta(seconds=ALBUM_WAIT_SECONDS) if message.album_key else None
        await enqueue(
            self.core.ctx,
            TOPIC_POST,
            {"message_id": message.id},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{message.dialog_id}",  # type: ignore[attr-defined]
            delay=delay,
        )

    async def post_client_message(self, item: OutboxItem) -> dict[str, Any] | None:
        message = await _WITH_DIALOG.first(message_id=item.payload["message_id"])
        if message is None:
            return None  # gone with its dialog (a merge, a purge): nothing to post
        dialog = message.dialog
        sent = item.payload.get("sent") or []
        if sent:
            if await copies.of(message.id, copies.TEAM, self.chat_id):
                return None  # all of it went, and was kept, before a restart
            # Part of this post is in the topic already: the rest of the same batch follows.
            batch = list(await Message.filter(id__in=item.payload["batch"]).order_by("id"))
        else:
            unposted = await self.unposted(dialog.id, since=message.id)
            if not unposted or unposted[0].id != message.id:
                return None  # already shown, e.g. as part of a coalesced post or the card
            batch = batch_of(message, unposted)
        link = await self.gateway.topic_of(dialog)
        poster = self.closed_topic_poster() if link.closed else self.gateway.pick_poster()

        async def keep_progress(done: list[list[int]]) -> None:
            item.payload = {**item.payload, "batch": [m.id for m in batch], "sent": done}
            await item.save(update_fields=["payload"])

        captions: list[Caption] | None = None
        if len(batch) > 1 and not message.album_key:
            text, spans = coalesced(batch, self.tz)
        else:
            said = next((m.content for m in batch if m.text), Content())
            header = robot_marked(message, message.sender_name or "—")
            if dialog.subject or message.subject:
                subject = await self.subject_shown(dialog, message)
                header = f"{header} · {subject}" if subject else header
            text, spans = with_header(header, said.text, said.spans)
            if message.album_key and all(len(m.attachments) == 1 for m in batch):
                # Every item of an album keeps its own caption; the header heads the first.
                captions = [
                    with_header(header, batch[0].text, batch[0].content.spans),
                    *((m.text, m.content.spans) for m in batch[1:]),
                ]
        attachments = tuple(a for m in batch for a in m.content.attachments)
        reply_to = await self.topic_copy_of(message.reply_to_id)  # type: ignore[attr-defined]
        # The buttons go on the first post while there is no card.
        first = link.card_message_id is None and await self.is_first(batch[0])
        try:
            ids = await send_content(
                poster.bot,
                self.chat_id,
                content=Content(text, spans, attachments),
                files=self.files,
                captions=captions,
                thread_id=link.thread_id,
                reply_to=reply_to,
                # The pinned card carries the buttons; without one, the first message does.
                # A message whose original is kept (a whole mail) has 📧 for it.
                reply_markup=with_originals(
                    dialog_buttons(dialog.id, self.lang)
                    if first and link.card_message_id is None
                    else None,
                    [m.id for m in batch if m.original],
                    self.lang,
                ),
                sent=sent,
                progress=keep_progress,
            )
        except ThreadGone:
            # The new topic gets the whole post.
            item.payload = {k: v for k, v in item.payload.items() if k not in ("batch", "sent")}
            await item.save(update_fields=["payload"])
            await self.gateway.heal(dialog, link)
            raise RetryLater(0, "topic recreated", waiting=True) from None
        except TopicClosed:
            await self.topic_closed(dialog, link, poster)
        await self.remember_copies(batch, ids, poster.bot.id, row=item)
        return {"ids": ids, "coalesced": len(batch), "bot": poster.bot.id}

    def closed_topic_poster(self) -> Poster:
        """A client's message goes into a closed topic before the topic is reopened (that is
        cosmetic work, and follows): posted by the team bot, an administrator, which may post
        there; a relay may not."""
        self.gateway.spend(self.gateway.posters[0])
        return self.gateway.posters[0]

    async def topic_closed(self, dialog: Dialog, link: TopicLink, poster: Poster) -> NoReturn:
        """A client's post was refused with TOPIC_CLOSED. A relay's: the team bot posts it
        next time, and the reopen follows the post. The team bot's own (it is no
        administrator): the topic is reopened first."""
        if poster is not self.gateway.posters[0]:
            if not link.closed:  # closed by a person's hand
                link.closed = True
                await link.save(update_fields=["closed"])
                await queue_title(self.core.ctx, dialog.id)
            raise RetryLater(0, "topic closed: the team bot posts", waiting=True)
        await self.gateway.reopen(dialog, link)
        raise RetryLater(0, "topic reopened", waiting=True)

    async def batch_from(self, head: Message) -> list[Message]:
        """What goes out in one topic message: an album whole, or the client's texts that
        piled up while the group's budget was spent — in order, never reordered."""
        return batch_of(head, await self.unposted(head.dialog_id, since=head.id))  # type: ignore[attr-defined]

    async def unposted(self, dialog_id: int, since: int = 0) -> list[Message]:
        """The dialog's client messages (from id `since` on) not yet shown in the topic."""
        return await _UNPOSTED.all(dialog_id=dialog_id, chat=str(self.chat_id), since=since)

    async def opening_batch(self, dialog: Dialog, waited: bool = False) -> list[Message]:
        """The client's first texts not yet in the topic. While the group's budget is busy
        the card's first post shows them, so a new dialog costs two group calls (topic,
        card), not three; otherwise the first message has a post of its own, clearer to read
        and to reply to. `waited`: the card already waited for the budget."""
        if not (waited or self.gateway.busy()):
            return []
        return texts_up_to(await self.unposted(dialog.id), OPENING_LIMIT)

    async def shown_in(self, tg_message_id: int) -> list[Message]:
        """The client messages a group message shows (a coalesced post, the card)."""
        ids = await copies.shown_at(copies.TEAM, self.chat_id, tg_message_id)
        return list(await Message.filter(id__in=ids).order_by("id"))

    async def subject_shown(self, dialog: Dialog, message: Message) -> str:
        """The subject that heads a client's post: the dialog's on its first message; later,
        a message's own when it differs from the one before it ("Re:" is no change)."""
        if await self.is_first(message):
            return message.subject or dialog.subject
        if not message.subject:
            return ""
        before = (
            await Message.filter(dialog_id=dialog.id, kind=MessageKind.IN, id__lt=message.id)
            .order_by("-id")
            .first()
        )
        earlier = (before.subject if before is not None else "") or dialog.subject
        return "" if bare_subject(message.subject) == bare_subject(earlier) else message.subject

    async def is_first(self, message: Message) -> bool:
        first = (
            await Message.filter(dialog_id=message.dialog_id, kind=MessageKind.IN)  # type: ignore[attr-defined]
            .order_by("id")
            .first()
        )
        return first is not None and first.id == message.id

    async def topic_copy_of(self, message_id: int | None) -> int | None:
        """The post that shows a message in the topic (a client's message posted there, an
        operator's own post): the first, of several."""
        if not message_id:
            return None
        ids = await copies.ids_of(message_id, copies.TEAM, self.chat_id)
        return int(ids[0]) if ids else None

    async def remember_copies(
        self,
        batch: list[Message],
        ids: list[int],
        bot_id: int,
        row: OutboxItem | None = None,
    ) -> None:
        """An album maps part to part (what is left over to its first); coalesced texts all
        map to the post; one message to every post it took (a long text's parts). All at
        once: a crash halfway would post the unmapped rest again."""
        album = len(batch) > 1 and bool(batch[0].album_key)
        posts: list[tuple[Message, Sequence[int]]] = []
        for index, message in enumerate(batch):
            shown: list[int] = ids
            if album:
                shown = ids[index : index + 1] + (ids[len(batch) :] if index == 0 else [])
            posts.append((message, shown))
        async with in_transaction():
            # Only messages not shown yet go into a post (`unposted`).
            await copies.record_all(
                posts,
                copies.TEAM,
                at=self.gateway.now(),
                chat=self.chat_id,
                via=source_key(bot_id),
                new=True,
            )
            if row is not None and len(batch) > 1:
                # The rows of the others it shows are done with this one.
                others = {m.id for m in batch} - {row.payload.get("message_id")}
                await settle_posts(batch[0].dialog_id, others, row.id, self.core.ctx.wall.now())  # type: ignore[attr-defined]
