"""The pinned client card of every topic: who the client is and where the dialog stands.

Posted and pinned when the topic is created; edited in place, debounced, and only when what
it shows changed (its digest is kept in a Panel row).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions
from tortoise.transactions import in_transaction

from bot.group.card_view import CardView
from bot.group.first_post import FirstPostButtons
from bot.group.rows import LOOKS_AFTER_POSTS, POSTERS, posts_pending, settle_posts
from bot.storage import TopicLink, topic_link
from bot.team.answers import quietly
from bot.team.context import Team
from bot.team.panels import Panel, digest_of, panel_at
from bot.team.richtext import Rich
from core import copies
from core.crm import DealsChanged
from core.events import (
    AssigneeChanged,
    ClientChanged,
    ContextChanged,
    DialogCreated,
    MessageCreated,
    ReachabilityChanged,
    StatusChanged,
    TagsChanged,
)
from core.models import Dialog, OutboxItem, OutboxStatus
from core.models import Message as ClientMessage
from core.outbox import Priority, RetryLater, enqueue
from core.queries import dialog_by_id
from core.tasks import TaskChanged
from tgapi.errors import ThreadGone, TopicClosed, is_not_modified
from tgapi.parse import source_key

log = logging.getLogger(__name__)

CARD_SHOW = "topic.card"
# While the group is busy, a new client's card follows their topic this much later at the
# soonest: what they add meanwhile goes on it, and the calls to the topics of others who
# came meanwhile (a card that goes while its client still writes needs a post after it).
CARD_AFTER_TOPIC = 5.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def card_key(dialog_id: int) -> str:
    return f"card:{dialog_id}"


class Card:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core
        self.gateway = team.desk.gateway
        self.feed = team.desk.feed
        self.view = CardView(team)
        self.first_post = FirstPostButtons(team)

    def install(self) -> None:
        self.core.outbox.handle(CARD_SHOW, self.show)
        self.first_post.install()
        # Posted (and edited) by a poster: the worker waits for the posters' budget.
        self.core.outbox.uses(CARD_SHOW, POSTERS)
        self.gateway.healed.append(self.repost)
        # Durable: the card's rows are queued in the transaction of the change.
        bus = self.core.bus
        bus.on_change(DialogCreated, self.on_created)
        for event_type in (AssigneeChanged, TagsChanged):
            bus.on_change(event_type, self.on_dialog_changed)
        bus.on_change(StatusChanged, self.on_status)
        bus.on_change(MessageCreated, self.on_message)
        bus.on_change(ClientChanged, self.on_client_changed)
        bus.on_change(ReachabilityChanged, self.on_dialog_changed)
        # Where the client writes from (their web page): told on the card.
        bus.on_change(ContextChanged, self.on_dialog_changed)
        # The client's open tasks are on their cards.
        bus.on_change(TaskChanged, self.on_client_changed)
        # So are their amoCRM deals, looked up in the background.
        bus.on_change(DealsChanged, self.on_client_changed)

    # ---- when to redraw -------------------------------------------------------------------

    async def on_created(self, event: DialogCreated) -> None:
        if event.dialog_id is not None:  # a dialog's event always has it
            await self.first_card(event.dialog_id)

    async def first_card(self, dialog_id: int) -> None:
        # In the topic's lane: the card is posted before the client's first message shows.
        # Its topic first of all (see `show`); the card in turn with the clients' messages
        # into existing topics, by age: a new client waits no longer than one who wrote
        # earlier, and while the group is busy the later texts of clients already shown pile
        # up meanwhile and go as one post (putting them first spent a call on each text).
        await enqueue(
            self.core.ctx,
            CARD_SHOW,
            {"dialog_id": dialog_id, "initial": True},
            priority=Priority.TOPIC_CREATE,
            lane=f"topic:{dialog_id}",
        )

    async def refresh(self, dialog_id: int, *, prompt: bool = False) -> None:
        """Debounced: a burst of changes becomes one edit of the newest state. `prompt`: at
        once and ahead of cosmetic work — the buttons change with the status (Close and
        Snooze, or Reopen), and a stale one must not stay long."""
        key = card_key(dialog_id)
        if (
            not prompt
            and await OutboxItem.filter(
                merge_key=key, status=OutboxStatus.PENDING, priority=Priority.TOPIC_MESSAGE
            ).exists()
        ):
            return  # a prompt redraw is coming: it draws the newest state
        await enqueue(
            self.core.ctx,
            CARD_SHOW,
            {"dialog_id": dialog_id},
            priority=Priority.TOPIC_MESSAGE if prompt else Priority.COSMETIC,
            merge_key=key,
            delay=None if prompt else timedelta(seconds=self.team.timings.card),
        )

    async def on_dialog_changed(self, event: Any) -> None:
        if event.dialog_id:
            await self.refresh(event.dialog_id)

    async def on_status(self, event: StatusChanged) -> None:
        if event.dialog_id:
            await self.refresh(event.dialog_id, prompt=True)

    async def repost(self, dialog: Dialog, link: TopicLink) -> None:
        """The dialog's topic was made anew (the old one deleted): its card goes there too,
        posted and pinned; the old one went with the old topic."""
        async with in_transaction():
            await Panel.filter(key=card_key(dialog.id)).update(message_id=None, digest="")
            link.card_message_id = None
            await link.save(update_fields=["card_message_id"])
            await self.first_card(dialog.id)

    async def on_message(self, event: MessageCreated) -> None:
        # Other cards of this client show this dialog's last message.
        if event.kind not in ("in", "out") or not event.dialog_id or event.other_dialogs == 0:
            return
        dialog = event.dialog or await Dialog.get(id=event.dialog_id)
        others = await Dialog.filter(client_id=dialog.client_id).exclude(id=dialog.id)  # type: ignore[attr-defined]
        for other in others:
            if await Panel.exists(key=card_key(other.id)):
                await self.refresh(other.id)

    async def on_client_changed(self, event: ClientChanged | TaskChanged | DealsChanged) -> None:
        for dialog in await Dialog.filter(client_id=event.client_id):
            await self.refresh(dialog.id)

    # ---- the outbox handler ---------------------------------------------------------------

    async def show(self, item: OutboxItem) -> None:
        dialog = await dialog_by_id(item.payload["dialog_id"])
        desk = self.gateway
        # The first card (in the topic's lane) may create the topic; redraws only follow one.
        if item.payload.get("initial"):
            if item.priority == Priority.TOPIC_CREATE:
                await self.topic_ahead(item, dialog)
            link: TopicLink | None = await desk.topic_of(dialog)
        else:
            link = await topic_link(dialog.id)
        if link is None:
            return
        if not item.payload.get("initial") and await posts_pending(dialog.id):
            # A redraw is cosmetic: the client's messages into the topic go first.
            raise RetryLater(LOOKS_AFTER_POSTS, "after the client's messages", waiting=True)
        panel = await panel_at(card_key(dialog.id))
        posted = panel is not None and panel.message_id
        if not posted and not item.payload.get("initial") and await self.first_coming(dialog):
            return  # the first card is still to come (it draws the newest state): one card
        if posted:
            opening = await self.feed.shown_in(int(panel.message_id))  # type: ignore[union-attr]
        else:
            # A card that had to wait for the budget tells of a busy group.
            waited = bool(item.last_error) or self.core.outbox.waited_for_budget(item)
            opening = await self.feed.opening_batch(dialog, waited=waited)
        rich, markup = await self.view.render(dialog, opening)
        while opening and not rich.fits(0):
            opening = opening[:-1]
            rich, markup = await self.view.render(dialog, opening)
        digest = digest_of(rich.text, rich.spans, markup.model_dump_json())
        if panel is not None and posted and panel.digest == digest:
            return
        gone = item.payload.get("card_gone") == panel.message_id if panel else False
        if panel is not None and posted and not gone:
            if await self.edit(panel, rich, markup):
                panel.digest, panel.updated_at = digest, self.core.clock.now()
                await panel.save(update_fields=["digest", "updated_at"])
                return
            # Known gone: a retry (the post may wait for the budget) posts at once instead of
            # spending a call on the same failing edit again, which could starve the post.
            item.payload = {**item.payload, "card_gone": panel.message_id}
            await item.save(update_fields=["payload"])
        message_id, bot_id = await self.post(dialog, link, rich, markup)
        if panel is None:
            panel = Panel(key=card_key(dialog.id), chat_id=self.team.chat_id)
        panel.message_id, panel.bot_id = message_id, bot_id
        panel.digest, panel.updated_at = digest, self.core.clock.now()
        previous = link.card_message_id
        # One commit: a crash halfway would post the card, or the texts on it, again.
        async with in_transaction():
            await panel.save()
            link.card_message_id = message_id
            await link.save(update_fields=["card_message_id"])
            await self.map_opening(opening, message_id, bot_id)
            # Their own post rows are done with the card.
            shown = {m.id for m in opening}
            await settle_posts(dialog.id, shown, item.id, self.core.ctx.wall.now())
        await self.pin(message_id)
        await self.first_post.after_card(dialog, link, message_id, previous)

    async def map_opening(self, opening: list[ClientMessage], message_id: int, bot_id: int) -> None:
        """The texts the card shows are in the topic now: their own posts are skipped, and a
        reply to the card answers them."""
        await copies.replace_all(
            opening,
            copies.TEAM,
            [message_id],
            at=self.core.clock.now(),
            chat=self.team.chat_id,
            via=source_key(bot_id),
        )

    async def edit(self, panel: Panel, rich: Rich, markup: InlineKeyboardMarkup) -> bool:
        """False when the card message is gone and a new one is needed."""
        desk = self.gateway
        # Only the bot that posted the card may edit it, with its own budget.
        poster = desk.poster_of(panel.bot_id)
        message_id = int(panel.message_id)
        desk.spend(poster)
        try:
            await desk.poster_call(
                poster,
                lambda: poster.bot.edit_message_text(
                    chat_id=self.team.chat_id,
                    message_id=message_id,
                    text=rich.text,
                    entities=rich.message_entities(),
                    reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                ),
            )
        except TelegramBadRequest as exc:
            if is_not_modified(exc):
                return True
            log.warning("card %s cannot be edited (%s): posting a new one", message_id, exc.message)
            return False
        except ThreadGone:
            return False
        return True

    async def post(
        self, dialog: Dialog, link: TopicLink, rich: Rich, markup: InlineKeyboardMarkup
    ) -> tuple[int, int]:
        """Posted by whichever bot's budget frees first (pinned by the team bot, see pin)."""
        desk, chat_id = self.gateway, self.team.chat_id
        poster = desk.pick_poster()
        try:
            sent = await desk.poster_call(
                poster,
                lambda: poster.bot.send_message(
                    chat_id,
                    rich.text,
                    entities=rich.message_entities(),
                    reply_markup=markup,
                    message_thread_id=link.thread_id,
                    link_preview_options=NO_PREVIEW,
                ),
            )
        except ThreadGone:
            await desk.heal(dialog, link)
            raise RetryLater(0, "topic recreated", waiting=True) from None
        except TopicClosed:
            await desk.reopen(dialog, link)
            raise RetryLater(0, "topic reopened", waiting=True) from None
        return sent.message_id, poster.bot.id

    async def topic_ahead(self, item: OutboxItem, dialog: Dialog) -> None:
        """While the group is busy, a new client's topic is made ahead of other work (the team
        sees who waits) and the card goes in turn, not sooner than `CARD_AFTER_TOPIC`, with
        every text the client wrote by then: a card posted at once to a client still writing
        needs one more post after it. At most half a minute's budget of topics waits for its
        cards, so those never starve.
        In a quiet group topic and card go at once, unless older work waits for the same
        calls: then the row takes its turn by age."""
        later = 0.0
        if not self.gateway.busy():
            if not self.core.outbox.crowded(POSTERS):
                return  # topic and card at once
        elif await topic_link(dialog.id) is None:
            waiting = await TopicLink.filter(card_message_id=None).count()
            if waiting < sum(p.budget.per_minute for p in self.gateway.posters) // 2:
                await self.gateway.create_topic(dialog)  # the budget spent: ahead next time
                later = CARD_AFTER_TOPIC
        item.priority = Priority.TOPIC_MESSAGE
        await item.save(update_fields=["priority"])
        raise RetryLater(later, "the card in turn", waiting=True)

    async def first_coming(self, dialog: Dialog) -> bool:
        """The dialog's first card (or the one for its re-created topic) is queued or going."""
        return await OutboxItem.filter(
            kind=CARD_SHOW,
            lane=f"topic:{dialog.id}",
            status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
        ).exists()

    async def pin(self, message_id: int) -> None:
        """After the card's commit: a crash between its post and that commit would post it
        again, so nothing else (this call) may stand in between. Tried again on a passing
        fault; an unpinned card is still the card."""
        await quietly(
            lambda: self.team.bot.pin_chat_message(
                self.team.chat_id, message_id, disable_notification=True
            ),
            f"pin of card {message_id}",
        )
