"""The pinned client card of every topic: who the client is and where the dialog stands.

Posted and pinned when the topic is created; edited in place, debounced, and only when what
it shows changed (its digest is kept in a Panel row).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from tortoise.transactions import in_transaction

from bot.i18n import t
from bot.storage import ChatMessage, TopicLink
from bot.team.answers import quietly
from bot.team.button_data import dialog_from, fields
from bot.team.calls import ThreadGone, TopicClosed, is_not_modified
from bot.team.context import Team, group_router
from bot.team.lines import add_dialog_line, assignee_name, local
from bot.team.panels import Panel, digest_of
from bot.team.richtext import Rich
from bot.team.steps import done, mark, press_key
from core.events import (
    AssigneeChanged,
    ClientChanged,
    DialogCreated,
    MessageCreated,
    ReachabilityChanged,
    StatusChanged,
    TagsChanged,
)
from core.lifecycle import DialogStatus
from core.models import (
    Channel,
    ChannelKind,
    Client,
    Contact,
    ContactKind,
    Dialog,
    MessageKind,
    OutboxItem,
    OutboxStatus,
)
from core.models import Message as ClientMessage
from core.outbox import Priority, RetryLater, enqueue
from core.queries import client_history, count_other_dialogs, last_message, other_dialogs, tag_names

log = logging.getLogger(__name__)

CARD_SHOW = "topic.card"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
OTHER_DIALOGS = 3
MORE_DIALOGS = 20
HISTORY = 15
OPENING_RULE = "───────────"

CONTACT_OF_CHANNEL = {
    ChannelKind.TELEGRAM: ContactKind.TELEGRAM,
    ChannelKind.TELEGRAM_BUSINESS: ContactKind.TELEGRAM,
    ChannelKind.EMAIL: ContactKind.EMAIL,
    ChannelKind.WEBCHAT: ContactKind.WEBCHAT,
    ChannelKind.WHATSAPP: ContactKind.WHATSAPP,
    ChannelKind.INSTAGRAM: ContactKind.INSTAGRAM,
    ChannelKind.VK: ContactKind.VK,
    ChannelKind.TELEPHONY: ContactKind.PHONE,
}


def clip(text: str, size: int = 50) -> str:
    text = " ".join(text.split())
    return text[:size] + ("…" if len(text) > size else "")


def card_key(dialog_id: int) -> str:
    return f"card:{dialog_id}"


class Card:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core
        self.lang = team.desk.lang

    def install(self) -> None:
        self.core.outbox.handle(CARD_SHOW, self.show)
        self.team.desk.healed.append(self.repost)
        bus = self.core.bus
        bus.subscribe(DialogCreated, self.on_created)
        for event_type in (AssigneeChanged, TagsChanged):
            bus.subscribe(event_type, self.on_dialog_changed)
        bus.subscribe(StatusChanged, self.on_status)
        bus.subscribe(MessageCreated, self.on_message)
        bus.subscribe(ClientChanged, self.on_client_changed)
        bus.subscribe(ReachabilityChanged, self.on_dialog_changed)

    # ---- when to redraw -------------------------------------------------------------------

    async def on_created(self, event: DialogCreated) -> None:
        if event.dialog_id is not None:  # a dialog's event always has it
            await self.first_card(event.dialog_id)

    async def first_card(self, dialog_id: int) -> None:
        # In the topic's lane: the card is posted before the client's first message shows.
        # It creates the topic, so it comes after client messages into existing topics.
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
        if event.kind not in ("in", "out") or not event.dialog_id:
            return
        dialog = await Dialog.get(id=event.dialog_id)
        others = await Dialog.filter(client_id=dialog.client_id).exclude(id=dialog.id)  # type: ignore[attr-defined]
        for other in others:
            if await Panel.exists(key=card_key(other.id)):
                await self.refresh(other.id)

    async def on_client_changed(self, event: ClientChanged) -> None:
        for dialog in await Dialog.filter(client_id=event.client_id):
            await self.refresh(dialog.id)

    # ---- drawing ----------------------------------------------------------------------------

    async def render(
        self, dialog: Dialog, opening: list[ClientMessage] | None = None
    ) -> tuple[Rich, InlineKeyboardMarkup]:
        lang = self.lang
        now = self.core.clock.now()
        client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
        channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
        rich = Rich().add(f"👤 {client.name}", bold=True)
        if client.description:
            rich.line(clip(client.description, 300))
        rich.line(t("card.contacts", lang), bold=True)
        channels = await Channel.filter(dialogs__client_id=client.id).distinct()
        for contact in await Contact.filter(client_id=client.id).order_by("id"):
            where = sorted({c.name for c in channels if CONTACT_OF_CHANNEL[c.kind] == contact.kind})
            shown = contact.display or contact.value
            if contact.display and contact.display != contact.value:
                shown = f"{contact.display} ({contact.value})"
            rich.line(
                f"• {contact.kind.value}: {shown}" + (f" — {', '.join(where)}" if where else "")
            )
        rich.line(t("card.channel", lang, channel=channel.name))
        rich.line(t("card.status", lang, status=self.status_text(dialog)))
        if dialog.unreachable:
            rich.line(t("card.unreachable", lang))
        name = await assignee_name(dialog)
        rich.line(t("card.assignee", lang, name=name or t("card.nobody", lang)))
        tags = await tag_names(dialog.id)
        rich.line(t("card.tags", lang, tags=" ".join(f"#{x}" for x in tags) or "—"))
        total = await count_other_dialogs(client.id, dialog.id)
        if total:
            rich.line(t("card.other_dialogs", lang, count=total), bold=True)
            for other in await other_dialogs(client.id, dialog.id, OTHER_DIALOGS):
                await self.add_other(rich, other, now)
        if opening:
            # The client's first words, so that a new dialog costs one post, not two.
            rich.line(OPENING_RULE)
            rich.block(*self.team.desk.opening_text(dialog, opening))
        return rich, self.buttons(dialog, total > OTHER_DIALOGS)

    async def add_other(self, rich: Rich, other: Dialog, now: Any) -> None:
        lang, tz = self.lang, self.team.settings.tz
        await add_dialog_line(rich, other, chat_id=self.team.chat_id, now=now, tz=tz, lang=lang)
        last = await last_message(other.id)
        if last is not None:
            who = "→" if last.kind.value == "out" else "←"
            text = clip(last.text) or (
                f"[{last.attachments[0]['kind']}]" if last.attachments else ""
            )
            rich.line(f"   {who} {text} · {local(last.created_at, tz, now)}")

    def status_text(self, dialog: Dialog) -> str:
        lang = self.lang
        if dialog.status is DialogStatus.SNOOZED:
            if dialog.snoozed_until is None:
                return t("card.snoozed_forever", lang)
            when = local(dialog.snoozed_until, self.team.settings.tz, self.core.clock.now())
            return t("card.snoozed_until", lang, when=when)
        return t(f"card.status_{dialog.status.value}", lang)

    def buttons(self, dialog: Dialog, more: bool) -> InlineKeyboardMarkup:
        lang, d = self.lang, dialog.id

        def button(key: str, data: str) -> InlineKeyboardButton:
            return InlineKeyboardButton(text=t(key, lang), callback_data=data)

        if dialog.status is DialogStatus.CLOSED:
            first = [button("card.button.reopen", f"card:reopen:{d}")]
        else:
            first = [
                button("button.close", f"dlg:close:{d}"),
                button("button.snooze", f"dlg:snooze:{d}"),
            ]
        second = [
            button("card.button.assign", f"asgm:{d}"),
            button("card.button.history", f"card:history:{d}"),
        ]
        if more:
            second.append(button("card.button.dialogs", f"card:dialogs:{d}"))
        return InlineKeyboardMarkup(inline_keyboard=[first, second])

    # ---- the outbox handler ---------------------------------------------------------------

    async def show(self, item: OutboxItem) -> None:
        dialog = await Dialog.get(id=item.payload["dialog_id"])
        desk = self.team.desk
        # The first card (in the topic's lane) may create the topic; redraws only follow one.
        if item.payload.get("initial"):
            link: TopicLink | None = await desk.topic_of(dialog)
        else:
            link = await TopicLink.get_or_none(dialog_id=dialog.id)
        if link is None:
            return
        panel = await Panel.get_or_none(key=card_key(dialog.id))
        posted = panel is not None and panel.message_id
        if not posted and not item.payload.get("initial") and await self.first_coming(dialog):
            return  # the first card is still to come (it draws the newest state): one card
        if posted:
            opening = await desk.shown_in(int(panel.message_id))  # type: ignore[union-attr]
        else:
            # A card that had to wait for the budget tells of a busy group.
            opening = await desk.opening_batch(dialog, waited=bool(item.last_error))
        rich, markup = await self.render(dialog, opening)
        while opening and not rich.fits(0):
            opening = opening[:-1]
            rich, markup = await self.render(dialog, opening)
        digest = digest_of(rich.text, rich.entities, markup.model_dump_json())
        if panel is not None and posted and panel.digest == digest:
            return
        if panel is not None and posted and await self.edit(panel, rich, markup):
            panel.digest, panel.updated_at = digest, self.core.clock.now()
            await panel.save(update_fields=["digest", "updated_at"])
            return
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
        await self.pin(message_id)
        await self.strip_first_post(dialog, link, message_id, previous)

    async def strip_first_post(
        self, dialog: Dialog, link: TopicLink, card_id: int, previous: int | None
    ) -> None:
        """A client's first post made while the topic had no card carries Close and Snooze;
        with a card in the topic those are the card's (and follow the status): off, once."""
        desk = self.team.desk
        first = (
            await ClientMessage.filter(dialog_id=dialog.id, kind=MessageKind.IN)
            .order_by("id")
            .first()
        )
        copy = (
            await ChatMessage.filter(message_id=first.id, chat_id=self.team.chat_id).first()
            if first
            else None
        )
        # Ids grow: a post of this topic lies between its creation and the new card; with a
        # card before it (`previous`), it was posted without buttons.
        if copy is None or not link.thread_id < copy.tg_message_id < card_id:
            return
        if previous is not None and previous < copy.tg_message_id:
            return
        key = f"first-post-buttons:{dialog.id}"
        if await done(key):
            return
        poster = desk.poster_of(copy.bot_id)
        # Only its poster may edit the post: the call is of that bot's budget.
        for _ in range(30):
            wait = poster.budget.take()
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, 1.0))
        stripped = await quietly(
            lambda: poster.bot.edit_message_reply_markup(
                chat_id=self.team.chat_id, message_id=int(copy.tg_message_id), reply_markup=None
            ),
            "first post's buttons",
        )
        if stripped is not None:  # a dropped edit is tried again with the next new card
            await desk.first_time(key)

    async def map_opening(self, opening: list[ClientMessage], message_id: int, bot_id: int) -> None:
        """The texts the card shows are in the topic now: their own posts are skipped, and a
        reply to the card answers them."""
        chat_id = self.team.chat_id
        for message in opening:
            moved = await ChatMessage.filter(message_id=message.id, chat_id=chat_id).update(
                tg_message_id=message_id, bot_id=bot_id
            )
            if not moved:
                await ChatMessage.create(
                    message=message,
                    chat_id=chat_id,
                    tg_message_id=message_id,
                    bot_id=bot_id,
                    created_at=self.core.clock.now(),
                )

    async def edit(self, panel: Panel, rich: Rich, markup: InlineKeyboardMarkup) -> bool:
        """False when the card message is gone and a new one is needed."""
        desk = self.team.desk
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
        desk, chat_id = self.team.desk, self.team.chat_id
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


def card_router(team: Team, card: Card) -> Router:
    router = group_router("team-card", team)
    core = team.core

    @router.callback_query(F.data.startswith("card:"))
    async def card_button(query: CallbackQuery, operator: Any, lang: str) -> None:
        _, action, raw = fields(query.data, 3)
        dialog = await dialog_from(raw)
        if dialog is None or not isinstance(query.message, Message):
            await query.answer(t("error.not_dialog", lang), show_alert=True)
            return
        if action == "reopen":
            key = press_key(query, "reopen")
            if not await done(key):
                if dialog.status is DialogStatus.OPEN:
                    await quietly(lambda: query.answer(t("error.already_open", lang)))
                    return
                await core.dialogs.reopen(dialog.id, operator)
                await mark(key, core.clock.now())
            await quietly(lambda: query.answer(t("done.reopened", lang, name=operator.name)))
            return
        if action == "dialogs":
            rich = await dialogs_text(card, dialog, lang)
        elif action == "history":
            rich = await history_text(team, dialog, lang)
        else:
            await query.answer()
            return
        await team.spend()
        shown = query.message
        await quietly(
            lambda: shown.answer(
                rich.text, entities=rich.message_entities(), link_preview_options=NO_PREVIEW
            )
        )
        await quietly(lambda: query.answer())

    return router


async def dialogs_text(card: Card, dialog: Dialog, lang: str) -> Rich:
    client_id = dialog.client_id  # type: ignore[attr-defined]
    others = await other_dialogs(client_id, dialog.id, MORE_DIALOGS)
    rich = Rich().add(t("card.all_dialogs", lang, count=len(others)), bold=True)
    for other in others:
        if not rich.fits():
            break
        await card.add_other(rich, other, card.core.clock.now())
    return rich


async def history_text(team: Team, dialog: Dialog, lang: str) -> Rich:
    tz = team.settings.tz
    messages = await client_history(dialog.client_id, HISTORY)  # type: ignore[attr-defined]
    rich = Rich().add(t("card.history", lang, count=len(messages)), bold=True)
    channels = {c.id: c.name for c in await Channel.all()}
    dialog_channels = {
        d.id: channels.get(d.channel_id, "")  # type: ignore[attr-defined]
        for d in await Dialog.filter(client_id=dialog.client_id)  # type: ignore[attr-defined]
    }
    now = team.core.clock.now()
    for message in messages:
        if not rich.fits(300):
            break
        who = message.sender_name or ("→" if message.kind.value == "out" else "←")
        body = clip(message.text, 200) or (
            f"[{message.attachments[0]['kind']}]" if message.attachments else ""
        )
        where = dialog_channels.get(message.dialog_id, "")  # type: ignore[attr-defined]
        rich.line(f"{local(message.created_at, tz, now)} · {where} · ", bold=False)
        rich.add(who, bold=True).add(f": {body}")
    if not messages:
        rich.line(t("card.no_history", lang))
    return rich
