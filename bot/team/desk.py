"""The team group's side of every dialog: its topic, the client's messages in it, its status.

Every call into the group goes through the outbox and the group's budget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import ReactionTypeEmoji, ReplyParameters
from tortoise.transactions import in_transaction

from bot.i18n import t
from bot.storage import ChatMessage, Once, TopicLink
from bot.team.budget import GroupBudget
from bot.team.calls import ThreadGone, TopicClosed, call, is_not_modified
from bot.team.content import send_content
from bot.team.keyboards import dialog_buttons
from bot.team.links import topic_title, topic_url
from bot.team.texts import shift_entities, split_text, to_entities, utf16_len, with_header
from core.events import (
    DeliveryFailed,
    MessageCreated,
    MessageEdited,
    NoteCreated,
    ReachabilityChanged,
    StatusChanged,
)
from core.lifecycle import DialogStatus
from core.models import (
    Channel,
    Client,
    Dialog,
    Message,
    MessageKind,
    Note,
    Operator,
    OutboxItem,
    OutboxStatus,
)
from core.outbox import GiveUp, Priority, RetryLater, enqueue
from core.service import Core

log = logging.getLogger(__name__)
T = TypeVar("T")

TOPIC_POST = "topic.post"
TOPIC_EDIT = "topic.edit"
TOPIC_STATUS = "topic.status"
TOPIC_NOTICE = "topic.notice"
PRIVATE_NOTE = "private.note"
TOPIC_MARK = "topic.mark"
# On an operator's reply that did not reach the client. (Telegram takes only the emoji of its
# reaction list: ⚠️ is not one of them.)
UNDELIVERED_MARK = "💔"
ALBUM_WAIT_SECONDS = 1.5
# A coalesced post stays well inside one Telegram message.
COALESCE_LIMIT = 3500
# The client's opening texts ride on the pinned card's first post (a card is ~1000 chars).
OPENING_LIMIT = 2500
# After a crash, client messages this recent that never reached their topic are posted.
REQUEUE_DAYS = 7
# Message.meta of a client message whose text takes several topic posts: their ids, in order.
TOPIC_PARTS = "topic_parts"


def texts_up_to(messages: list[Message], limit: int) -> list[Message]:
    """The leading plain texts of `messages` that together fit into about `limit` chars."""
    batch: list[Message] = []
    size = 0
    for m in messages:
        if m.attachments or m.album_key:
            break
        if batch and m.reply_to_id:  # type: ignore[attr-defined]
            break  # a reply starts a post of its own: that post replies to its target
        size += len(m.text) + len(m.sender_name) + 16
        if batch and size > limit:
            break
        batch.append(m)
    return batch


@dataclass
class Poster:
    """A bot that may post client messages into topics, with its own group budget."""

    bot: Bot
    budget: GroupBudget
    # Relays without "Manage Topics" only post; found out on the first refusal.
    can_create_topics: bool = True


class Desk:
    def __init__(
        self,
        core: Core,
        bot: Bot,
        team_chat_id: int,
        bots: dict[int, Bot],
        budget: GroupBudget,
        language: str,
        tz: ZoneInfo | None = None,
        relays: list[Poster] | None = None,
    ) -> None:
        self.core = core
        self.bot = bot
        self.chat_id = team_chat_id
        self.bots = bots
        self.budget = budget
        self.lang = language
        self.tz = tz or ZoneInfo("UTC")
        # Client messages may go out through relay bots: each has its own group budget.
        self.posters = [Poster(bot, budget), *(relays or [])]
        # Told when a dialog got a new topic (the card is posted there again).
        self.healed: list[Callable[[Dialog, TopicLink], Awaitable[None]]] = []

    # ---- wiring -------------------------------------------------------------------------

    def install(self) -> None:
        worker = self.core.outbox
        worker.handle(TOPIC_POST, self.post_client_message)
        worker.handle(TOPIC_EDIT, self.mirror_client_edit)
        worker.handle(TOPIC_STATUS, self.show_status)
        worker.handle(TOPIC_NOTICE, self.post_notice)
        worker.handle(PRIVATE_NOTE, self.deliver_note)
        worker.handle(TOPIC_MARK, self.mark_undelivered)
        bus = self.core.bus
        bus.subscribe(MessageCreated, self.on_message)
        bus.subscribe(MessageEdited, self.on_edit)
        bus.subscribe(StatusChanged, self.on_status)
        bus.subscribe(DeliveryFailed, self.on_delivery_failed)
        bus.subscribe(NoteCreated, self.on_note)

    async def on_message(self, event: MessageCreated) -> None:
        if event.kind != MessageKind.IN.value:
            return
        message = await Message.get(id=event.message_id)
        await self.queue_post(message)
        # Should they block us again, the topic is told again.
        if await Once.filter(key=f"unreachable:{event.dialog_id}").delete():
            await self.reachable_again(event.dialog_id or 0)

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

    async def on_status(self, event: StatusChanged) -> None:
        await enqueue(
            self.core.ctx,
            TOPIC_STATUS,
            {"dialog_id": event.dialog_id},
            priority=Priority.COSMETIC,
            merge_key=f"status:{event.dialog_id}",
        )
        if event.data.get("action") == "wake":
            await self.notice(event.dialog_id or 0, "notice.woke")

    async def on_delivery_failed(self, event: DeliveryFailed) -> None:
        dialog = await Dialog.get(id=event.dialog_id)
        # Every reply that did not arrive is marked; the topic's line comes once per blocking.
        await enqueue(
            self.core.ctx,
            TOPIC_MARK,
            {"dialog_id": dialog.id, "message_id": event.message_id},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog.id}",
        )
        key = "notice.unreachable" if dialog.unreachable else "notice.not_delivered"
        if key == "notice.unreachable" and not await self.first_time(f"unreachable:{dialog.id}"):
            return
        await self.notice(dialog.id, key, reason=event.reason)
        if dialog.unreachable:
            await self.queue_title(dialog.id)
            await self.core.bus.publish(
                ReachabilityChanged(dialog_id=dialog.id, at=self.now(), reachable=False)
            )

    async def reachable_again(self, dialog_id: int) -> None:
        """A client the topic was told cannot be reached wrote again: told, marks removed."""
        await self.notice(dialog_id, "notice.reachable_again")
        await self.queue_title(dialog_id)
        await self.core.bus.publish(
            ReachabilityChanged(dialog_id=dialog_id, at=self.now(), reachable=True)
        )

    async def queue_title(self, dialog_id: int) -> None:
        await enqueue(
            self.core.ctx,
            TOPIC_STATUS,
            {"dialog_id": dialog_id},
            priority=Priority.COSMETIC,
            merge_key=f"status:{dialog_id}",
        )

    async def on_note(self, event: NoteCreated) -> None:
        # One key per note: a delivery after /start settles its earlier failed attempt.
        await enqueue(
            self.core.ctx,
            PRIVATE_NOTE,
            {"note_id": event.note_id},
            priority=Priority.PRIVATE,
            merge_key=f"note:{event.note_id}",
        )

    async def notice(self, dialog_id: int, key: str, **values: Any) -> None:
        """A short line from the bot in the dialog's topic, in the team's language."""
        await enqueue(
            self.core.ctx,
            TOPIC_NOTICE,
            {"dialog_id": dialog_id, "key": key, "values": values},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog_id}",
        )

    async def first_time(self, key: str) -> bool:
        _, created = await Once.get_or_create(key=key, defaults={"created_at": self.now()})
        return created

    def now(self) -> datetime:
        return self.core.clock.now()

    # ---- budget ---------------------------------------------------------------------------

    def spend(self, poster: Poster | None = None) -> None:
        """One call into the group (of `poster`'s budget; the team bot's by default), or
        come back when the budget allows it."""
        wait = (poster.budget if poster else self.budget).take()
        if wait > 0:
            raise RetryLater(wait, "group budget", waiting=True)

    async def spend_waiting(self, at_most: float = 30.0) -> None:
        """For answers to a person in the group: wait for the budget (briefly), then go."""
        waited = 0.0
        while waited < at_most:
            wait = self.budget.take()
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))
            waited += min(wait, 1.0)

    async def group_call(self, request: Callable[[], Awaitable[T]], *, spent: bool = False) -> T:
        if not spent:
            self.spend()
        try:
            return await call(request())
        except RetryLater as exc:
            if exc.args and exc.args[0] == "429":
                self.budget.penalize(exc.delay)
            raise

    # ---- topics -----------------------------------------------------------------------------

    async def title_for(self, dialog: Dialog, status: str) -> str:
        client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
        channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
        return topic_title(client.name, channel.name, status, unreachable=dialog.unreachable)

    async def topic_of(self, dialog: Dialog) -> TopicLink:
        link = await TopicLink.get_or_none(dialog_id=dialog.id)
        if link is not None:
            return link
        return await self.create_topic(dialog)

    async def create_topic(
        self, dialog: Dialog, replacing: TopicLink | None = None, *, spent: bool = False
    ) -> TopicLink:
        status = DialogStatus.OPEN.value
        title = await self.title_for(dialog, status)
        if spent:
            topic = await self.group_call(
                lambda: self.bot.create_forum_topic(self.chat_id, title), spent=True
            )
        else:
            # Any bot allowed to manage topics may create one: topic work spreads over budgets.
            poster = self.pick_poster(creating_topic=True)
            try:
                topic = await call(poster.bot.create_forum_topic(self.chat_id, title))
            except TelegramBadRequest as exc:
                if poster is self.posters[0] or "rights" not in exc.message:
                    raise
                poster.can_create_topics = False
                raise RetryLater(0, "relay cannot manage topics", waiting=True) from exc
            except RetryLater as exc:
                if exc.args and exc.args[0] == "429":
                    poster.budget.penalize(exc.delay)
                raise
        if replacing is not None:
            replacing.thread_id = topic.message_thread_id
            replacing.title, replacing.shown_status, replacing.closed = title, status, False
            await replacing.save()
            return replacing
        return await TopicLink.create(
            dialog=dialog,
            chat_id=self.chat_id,
            thread_id=topic.message_thread_id,
            title=title,
            shown_status=status,
            created_at=self.now(),
        )

    async def heal(self, dialog: Dialog, link: TopicLink) -> None:
        """The topic was deleted: a new one, the dialog re-mapped, a one-line summary."""
        old_thread = link.thread_id
        # Only now is the thread known to be gone: wait for the budget here. Retrying instead
        # would spend a call on the dead thread first and, with the budget full, never heal.
        await self.spend_waiting()
        await self.create_topic(dialog, replacing=link, spent=True)
        count = await Message.filter(dialog_id=dialog.id, kind=MessageKind.IN).count()
        log.warning("dialog %s: topic %s was gone, now %s", dialog.id, old_thread, link.thread_id)
        for hook in self.healed:
            await hook(dialog, link)
        status = t(f"status.word.{dialog.status.value}", self.lang)
        await self.notice(dialog.id, "notice.topic_recreated", count=count, status=status)

    async def reopen(self, dialog: Dialog, link: TopicLink) -> None:
        """A post was refused with TOPIC_CLOSED (closed by hand, or the poster is no
        administrator): the team bot reopens the topic, once; the caller retries the post."""
        await self.spend_waiting()
        try:
            await self.group_call(
                lambda: self.bot.reopen_forum_topic(self.chat_id, link.thread_id), spent=True
            )
        except ThreadGone:
            await self.heal(dialog, link)
            return
        except TelegramBadRequest as exc:
            if not is_not_modified(exc):
                raise  # e.g. no right to manage topics: retried with backoff
            # Open already, and still refused: nothing to heal here; back off.
            raise RetryLater(1.0, f"TOPIC_CLOSED in an open topic ({exc.message})") from exc
        log.warning("dialog %s: topic %s was closed; reopened", dialog.id, link.thread_id)
        link.closed = False
        await link.save(update_fields=["closed"])

    # ---- handlers -----------------------------------------------------------------------------

    async def post_client_message(self, item: OutboxItem) -> dict[str, Any] | None:
        message = await Message.get(id=item.payload["message_id"])
        if await ChatMessage.exists(message_id=message.id, chat_id=self.chat_id):
            return None  # already shown, e.g. as part of a coalesced post
        dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
        link = await self.topic_of(dialog)
        poster = self.pick_poster()
        sent = item.payload.get("sent") or []
        if sent:
            # Part of this post is in the topic already: the rest of the same batch follows.
            batch = list(await Message.filter(id__in=item.payload["batch"]).order_by("id"))
        else:
            batch = await self.batch_from(message)

        async def keep_progress(done: list[list[int]]) -> None:
            item.payload = {**item.payload, "batch": [m.id for m in batch], "sent": done}
            await item.save(update_fields=["payload"])

        captions: list[tuple[str, list[dict[str, Any]]]] | None = None
        if len(batch) > 1 and not message.album_key:
            text, entities = self.coalesced(batch)
        else:
            text = next((m.text for m in batch if m.text), "")
            entities = next((m.entities for m in batch if m.text), [])
            header = message.sender_name or "—"
            if dialog.subject and await self.is_first(message):
                header = f"{header} · {dialog.subject}"
            text, entities = with_header(header, text, entities)
            if message.album_key and all(len(m.attachments) == 1 for m in batch):
                # Every item of an album keeps its own caption; the header heads the first.
                captions = [
                    with_header(header, batch[0].text, batch[0].entities),
                    *((m.text, m.entities) for m in batch[1:]),
                ]
        attachments = [a for m in batch for a in m.attachments]
        reply_to = await self.topic_copy_of(message.reply_to_id)  # type: ignore[attr-defined]
        first = await self.is_first(batch[0])
        try:
            ids = await send_content(
                poster.bot,
                self.chat_id,
                text=text,
                entities=entities,
                attachments=attachments,
                bots=self.bots,
                captions=captions,
                thread_id=link.thread_id,
                reply_to=reply_to,
                # The pinned card carries the buttons; without one, the first message does.
                reply_markup=dialog_buttons(dialog.id, self.lang)
                if first and link.card_message_id is None
                else None,
                sent=sent,
                progress=keep_progress,
            )
        except ThreadGone:
            # The new topic gets the whole post.
            item.payload = {k: v for k, v in item.payload.items() if k not in ("batch", "sent")}
            await item.save(update_fields=["payload"])
            await self.heal(dialog, link)
            raise RetryLater(0, "topic recreated", waiting=True) from None
        except TopicClosed:
            await self.reopen(dialog, link)
            raise RetryLater(0, "topic reopened", waiting=True) from None
        await self.remember_copies(batch, ids, poster.bot.id)
        return {"ids": ids, "coalesced": len(batch), "bot": poster.bot.id}

    def poster_of(self, bot_id: int | None) -> Poster:
        """The poster of a message already in the group (only its author may edit it)."""
        return next((p for p in self.posters if p.bot.id == bot_id), self.posters[0])

    async def poster_call(self, poster: Poster, request: Callable[[], Awaitable[T]]) -> T:
        """A call whose budget `poster` has already spent; a 429 blocks that bot only."""
        try:
            return await call(request())
        except RetryLater as exc:
            if exc.args and exc.args[0] == "429":
                poster.budget.penalize(exc.delay)
            raise

    def pick_poster(self, creating_topic: bool = False) -> Poster:
        """The bot (main or relay) whose group budget frees first; spend one call of it."""
        able = [p for p in self.posters if p.can_create_topics or not creating_topic]
        best = min(able, key=lambda p: p.budget.wait_time())
        self.spend(best)
        return best

    async def batch_from(self, head: Message) -> list[Message]:
        """What goes out in one topic message: an album whole, or the client's texts that
        piled up while the group's budget was spent — in order, never reordered."""
        unposted = await self.unposted(head.dialog_id, since=head.id)  # type: ignore[attr-defined]
        if head.album_key:
            return [m for m in unposted if m.album_key == head.album_key]
        if head.attachments:
            return [head]
        return texts_up_to(unposted, COALESCE_LIMIT) or [head]

    async def unposted(self, dialog_id: int, since: int = 0) -> list[Message]:
        """The dialog's client messages (from id `since` on) not yet shown in the topic."""
        posted = set(
            await ChatMessage.filter(
                chat_id=self.chat_id, message__dialog_id=dialog_id, message_id__gte=since
            ).values_list("message_id", flat=True)
        )
        messages = Message.filter(dialog_id=dialog_id, kind=MessageKind.IN, id__gte=since)
        return [m for m in await messages.order_by("id") if m.id not in posted]

    def busy(self) -> bool:
        return all(p.budget.busy() for p in self.posters)

    async def opening_batch(self, dialog: Dialog, waited: bool = False) -> list[Message]:
        """The client's first texts not yet in the topic. While the group's budget is busy
        the card's first post shows them, so a new dialog costs two group calls (topic,
        card), not three; otherwise the first message has a post of its own, clearer to read
        and to reply to. `waited`: the card already waited for the budget."""
        if not (waited or self.busy()):
            return []
        return texts_up_to(await self.unposted(dialog.id), OPENING_LIMIT)

    async def shown_in(self, tg_message_id: int) -> list[Message]:
        """The client messages a group message shows (a coalesced post, the card)."""
        copies = ChatMessage.filter(chat_id=self.chat_id, tg_message_id=tg_message_id)
        ids = await copies.values_list("message_id", flat=True)
        return list(await Message.filter(id__in=list(ids)).order_by("id"))

    def opening_text(
        self, dialog: Dialog, batch: list[Message]
    ) -> tuple[str, list[dict[str, Any]]]:
        text, entities = self.coalesced(batch)
        if dialog.subject:
            text, entities = with_header(f"✉ {dialog.subject}", text, entities)
        return text, entities

    def coalesced(self, batch: list[Message]) -> tuple[str, list[dict[str, Any]]]:
        """Several client texts as one post: who once (or per line in group dialogs), when."""
        senders = {m.sender_name for m in batch}
        text, entities = "", []  # type: tuple[str, list[dict[str, Any]]]
        if len(senders) == 1:
            text, entities = with_header(batch[0].sender_name or "—", "", [])
            text += "\n"
        for m in batch:
            when = m.created_at.astimezone(self.tz).strftime("%H:%M")
            label = f"{when} {m.sender_name}: " if len(senders) > 1 else f"{when} "
            start = utf16_len(text)
            text += label
            entities.append({"type": "italic", "offset": start, "length": utf16_len(label)})
            entities.extend(shift_entities(m.entities, utf16_len(text)))
            text += m.text + "\n"
        return text.rstrip("\n"), entities

    async def is_first(self, message: Message) -> bool:
        first = (
            await Message.filter(dialog_id=message.dialog_id, kind=MessageKind.IN)  # type: ignore[attr-defined]
            .order_by("id")
            .first()
        )
        return first is not None and first.id == message.id

    async def topic_copy_of(self, message_id: int | None) -> int | None:
        if not message_id:
            return None
        copy = await ChatMessage.filter(message_id=message_id, chat_id=self.chat_id).first()
        if copy is not None:
            return int(copy.tg_message_id)
        # An operator's message: it was written in the topic, that post is its copy.
        message = await Message.get_or_none(id=message_id)
        if message is None or message.kind is MessageKind.IN:
            return None
        team_ids = message.meta.get("team_message_ids") or []
        if team_ids and int(message.meta.get("team_chat_id") or self.chat_id) == self.chat_id:
            return int(team_ids[0])
        source = message.external_id or ""
        if source.startswith("team:") and source[5:].isdigit():
            return int(source[5:])
        return None

    async def remember_copies(self, batch: list[Message], ids: list[int], bot_id: int) -> None:
        # An album maps part to part; coalesced texts all map to the one post. All at once:
        # a crash halfway would post the unmapped rest again.
        async with in_transaction():
            for index, message in enumerate(batch):
                tg_id = ids[min(index, len(ids) - 1)]
                await ChatMessage.create(
                    chat_id=self.chat_id,
                    tg_message_id=tg_id,
                    message=message,
                    bot_id=bot_id,
                    created_at=self.now(),
                )
            if len(batch) == 1 and not batch[0].attachments and len(ids) > 1:
                # A long text in several posts: an edit of it rewrites each of them.
                await self.keep_parts(batch[0], ids)

    async def mirror_client_edit(self, item: OutboxItem) -> None:
        message = await Message.get(id=item.payload["message_id"])
        copy = await ChatMessage.filter(message_id=message.id, chat_id=self.chat_id).first()
        if copy is None:
            return
        edited = t("topic.edited_mark", self.lang)
        text, entities = with_header(message.sender_name or "—", message.text, message.entities)
        # Cut as a new post is cut: an edit may grow past what one Telegram message holds.
        parts = split_text(f"{text}\n{edited}", entities)
        poster = self.poster_of(copy.bot_id)
        copy_id = int(copy.tg_message_id)
        shared = await ChatMessage.filter(chat_id=self.chat_id, tg_message_id=copy_id).count()
        dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
        link = await self.topic_of(dialog)
        try:
            if shared > 1 or message.attachments or copy_id == link.card_message_id:
                # A coalesced post, the card or a media caption is not rewritten: the new
                # text is shown as a reply to it.
                await self.reply_parts(item, poster, link, parts, copy_id)
            else:
                old = [int(i) for i in message.meta.get(TOPIC_PARTS) or [copy_id]]
                await self.edit_parts(item, message, poster, link, old, parts)
        except ThreadGone:
            return  # the topic is gone: the next post heals it, with a summary
        except TopicClosed:
            await self.reopen(dialog, link)
            raise RetryLater(0, "topic reopened", waiting=True) from None

    async def reply_parts(
        self,
        item: OutboxItem,
        poster: Poster,
        link: TopicLink,
        parts: list[tuple[str, list[dict[str, Any]]]],
        reply_to: int,
    ) -> None:
        """`parts` as new posts, the first a reply to `reply_to`, each next to the one
        before; what went out already (kept in the row) is not sent again."""
        sent: list[int] = list(item.payload.get("sent_parts") or [])
        for part, part_entities in parts[len(sent) :]:
            target = sent[-1] if sent else reply_to
            new = await self.post_part(poster, link, part, part_entities, target)
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
        parts: list[tuple[str, list[dict[str, Any]]]],
    ) -> None:
        """A client's text shown in `old` posts becomes `parts`: each post edited in place;
        a part more follows as a reply to the one before, a post too many is removed. The
        posts it ends up in are kept with the message, and how many parts are done with the
        row, after every step: a retry (the budget) does not edit a post again."""
        shown = list(old)
        done = int(item.payload.get("edited_parts") or 0)
        for index, (part, part_entities) in enumerate(parts[done:], start=done):
            if index < len(shown):
                try:
                    await self.edit_post(poster, shown[index], part, part_entities)
                except TelegramBadRequest as exc:
                    raise GiveUp(exc.message) from exc
            else:
                shown.append(await self.post_part(poster, link, part, part_entities, shown[-1]))
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
        entities: list[dict[str, Any]] | None = None,
    ) -> None:
        """A post of the group gets `text` (never markup: it may be a client's); a post that
        already shows it is no fault. Of `poster`'s budget."""
        self.spend(poster)
        try:
            await self.poster_call(
                poster,
                lambda: poster.bot.edit_message_text(
                    chat_id=self.chat_id,
                    message_id=message_id,
                    text=text,
                    entities=to_entities(entities or []),
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
        entities: list[dict[str, Any]],
        reply_to: int,
    ) -> int:
        self.spend(poster)
        sent = await self.poster_call(
            poster,
            lambda: poster.bot.send_message(
                self.chat_id,
                text,
                entities=to_entities(entities),
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
        message.meta = {**message.meta, TOPIC_PARTS: ids}
        await message.save(update_fields=["meta"])

    async def show_status(self, item: OutboxItem) -> None:
        """Title and open/closed state follow the status; each change only when it differs."""
        dialog = await Dialog.get(id=item.payload["dialog_id"])
        link = await TopicLink.get_or_none(dialog_id=dialog.id)
        if link is None:
            return
        status = dialog.status.value
        # The status, or the client's reachability (⛔), changed what the title shows.
        title = await self.title_for(dialog, status)
        if link.shown_status != status or link.title != title:
            try:
                await self.group_call(
                    lambda: self.bot.edit_forum_topic(self.chat_id, link.thread_id, name=title)
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
            method = self.bot.close_forum_topic if should_close else self.bot.reopen_forum_topic
            try:
                await self.group_call(lambda: method(self.chat_id, link.thread_id))
            except TelegramBadRequest as exc:
                if not is_not_modified(exc):
                    raise
            except ThreadGone:
                return
            link.closed = should_close
            await link.save(update_fields=["closed"])

    async def post_notice(self, item: OutboxItem) -> None:
        dialog = await Dialog.get(id=item.payload["dialog_id"])
        link = await self.topic_of(dialog)
        text = t(item.payload["key"], self.lang, **item.payload.get("values", {}))
        try:
            await self.group_call(
                lambda: self.bot.send_message(self.chat_id, text, message_thread_id=link.thread_id)
            )
        except ThreadGone:
            await self.heal(dialog, link)
            raise RetryLater(0, "topic recreated", waiting=True) from None
        except TopicClosed:
            await self.reopen(dialog, link)
            raise RetryLater(0, "topic reopened", waiting=True) from None

    async def deliver_note(self, item: OutboxItem) -> None:
        note = await Note.get(id=item.payload["note_id"])
        if note.delivered_at is not None:
            await self.settle_note(note)
            return
        author = await Operator.get(id=note.author_id)  # type: ignore[attr-defined]
        dialog = await Dialog.get(id=note.dialog_id)  # type: ignore[attr-defined]
        link = await TopicLink.get_or_none(dialog_id=dialog.id)
        lang = author.language or self.lang
        title = link.title if link else f"#{dialog.id}"
        url = topic_url(self.chat_id, link.thread_id) if link else ""
        text = t("note.private", lang, title=title, text=note.text, url=url)
        try:
            await call(self.bot.send_message(author.user_id, text))
        except TelegramForbiddenError:
            author.can_message = False
            await author.save(update_fields=["can_message"])
            if await self.first_time(f"start-bot:{author.id}"):
                await self.notice(dialog.id, "notice.start_bot_for_notes", name=author.name)
            raise GiveUp("operator has not started the bot; kept until /start") from None
        note.delivered_at = self.now()
        await note.save(update_fields=["delivered_at"])
        await self.settle_note(note)

    async def settle_note(self, note: Note) -> None:
        """The note reached its author: an earlier attempt that failed (the author had not
        started the bot) is done, not a failure /status keeps counting."""
        await OutboxItem.filter(
            kind=PRIVATE_NOTE, merge_key=f"note:{note.id}", status=OutboxStatus.FAILED
        ).update(status=OutboxStatus.SENT, done_at=self.core.ctx.wall.now())

    async def mark_undelivered(self, item: OutboxItem) -> None:
        """A 💔 reaction on the operator's reply that did not reach the client (reactions cost
        no group message); where the group takes no reactions, one line for a run of them."""
        message = await Message.get(id=item.payload["message_id"])
        ids = message.meta.get("team_message_ids") or []
        if ids and int(message.meta.get("team_chat_id") or self.chat_id) == self.chat_id:
            mark = ReactionTypeEmoji(emoji=UNDELIVERED_MARK)
            try:
                await call(self.bot.set_message_reaction(self.chat_id, int(ids[0]), [mark]))
                return
            except (TelegramBadRequest, ThreadGone, TopicClosed) as exc:
                log.info("no reaction on %s (%s): a line instead", ids[0], exc)
        dialog_id = int(item.payload["dialog_id"])
        if not await Dialog.exists(id=dialog_id, unreachable=True):
            return  # "not delivered: why" has a line of its own already
        key = f"undelivered:{dialog_id}"
        waiting = await OutboxItem.filter(merge_key=key, status=OutboxStatus.PENDING).first()
        count = 1 + (int(waiting.payload["values"]["count"]) if waiting else 0)
        await enqueue(
            self.core.ctx,
            TOPIC_NOTICE,
            {"dialog_id": dialog_id, "key": "notice.undelivered", "values": {"count": count}},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog_id}",
            merge_key=key,
        )

    async def deliver_pending_notes(self, operator: Operator) -> int:
        pending = await Note.filter(author=operator, delivered_at=None).order_by("id")
        for note in pending:
            await self.on_note(NoteCreated(dialog_id=note.dialog_id, note_id=note.id))  # type: ignore[attr-defined]
        return len(pending)

    async def requeue_unposted(self) -> int:
        """After a crash between storing a client message and queuing its post."""
        posted = await ChatMessage.filter(chat_id=self.chat_id).values_list("message_id", flat=True)
        queued = {
            int(i.payload.get("message_id", 0))
            for i in await OutboxItem.filter(kind=TOPIC_POST, status="pending")
        }
        recent = self.now() - timedelta(days=REQUEUE_DAYS)
        missing = (
            await Message.filter(kind=MessageKind.IN, created_at__gte=recent)
            .exclude(id__in=list(posted))
            .all()
        )
        count = 0
        for message in missing:
            if message.id not in queued:
                await self.queue_post(message)
                count += 1
        return count
