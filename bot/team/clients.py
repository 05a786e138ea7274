"""Editing the client in their dialog's topic: `/client` (the form), `/client name …`,
`/client about …` (`-` clears it), `/contact add|del KIND value`, `/merge` (a reply to a message
in another client's topic, a contact, or a topic link), the *Merge with …* button a contact of
another client offers, and the card's 👥 *Participants*, each of whom opens their own card in
the presser's private chat. The rules are core/clients.py's."""

from __future__ import annotations

import logging
import re

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)

from bot.callbacks import ClientCardData, MergeData, ParticipantsData
from bot.group.card_view import CardView
from bot.group.rows import queue_title
from bot.i18n import pick_language, t
from bot.team.answers import quietly
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_answer, thread_of
from bot.team.middlewares import topic_dialog
from bot.team.richtext import Rich
from bot.team.steps import done, mark, press_key, update_key
from core.clients import (
    EDITABLE_KINDS,
    ClientService,
    ContactError,
    MergeError,
    contact_kind,
    find_contact,
    normalise,
)
from core.content import Content
from core.events import ClientChanged
from core.history import root_client
from core.models import Client, Contact, ContactKind, Dialog, Operator

log = logging.getLogger(__name__)

TOPIC_LINK = re.compile(
    r"(?:https?://)?t\.me/c/(?P<chat>\d+)/(?P<first>\d+)(?:/(?P<second>\d+))?"
    r"(?:\?thread=(?P<thread>\d+))?/?"
)
# Phones without a leading + are read as numbers of this region, by the group's language.
PHONE_REGIONS = {"ru": "RU"}


def phone_region(lang: str) -> str | None:
    """The region a phone number without + belongs to: Russia when the team speaks Russian
    (LANGUAGE=ru); otherwise none, and a number needs its + and country code."""
    return PHONE_REGIONS.get(lang)


def topic_of_link(text: str, chat_id: int) -> int | None:
    """The thread a topic link (https://t.me/c/<chat>/<thread>, or a message link in it) names
    in our group; None for anything else."""
    found = TOPIC_LINK.fullmatch(text.strip())
    if found is None:
        return None
    if found["chat"] != str(chat_id).removeprefix("-100").lstrip("-"):
        return None
    return int(found["thread"] or found["first"])


def contact_form(kind: ContactKind | None, lang: str) -> str:
    """The right form of a contact of `kind` (None: the kinds there are)."""
    if kind is None:
        return t("clients.kinds", lang, kinds=", ".join(k.value for k in EDITABLE_KINDS))
    key = f"clients.form_{kind.value}"
    if kind in (ContactKind.PHONE, ContactKind.WHATSAPP) and phone_region(lang) is None:
        key = f"clients.form_{kind.value}_plus"
    return t(key, lang)


def merge_button(dialog: Dialog, other: Client, lang: str) -> InlineKeyboardMarkup:
    data = MergeData(dialog_id=dialog.id, gone=other.id).pack()
    label = t("clients.button.merge", lang, name=other.name[:40])
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=data)]]
    )


class Clients:
    def __init__(self, team: Team, view: CardView) -> None:
        self.team = team
        self.core = team.core
        self.view = view
        self.service = ClientService(team.core.ctx)

    def install(self) -> None:
        # Durable: the titles of a renamed (or merged) client's topics are queued with the change.
        self.core.bus.on_change(ClientChanged, self.on_changed)

    async def on_changed(self, event: ClientChanged) -> None:
        if not event.data.get("titles"):
            return
        for dialog_id in await Dialog.filter(client_id=event.client_id).values_list(
            "id", flat=True
        ):
            await queue_title(self.core.ctx, int(dialog_id))  # type: ignore[call-overload]

    async def form(self, client_id: int, lang: str) -> Rich:
        """/client alone: who the client is, and how to change it."""
        client = await Client.get(id=await root_client(client_id))
        rich = Rich().add(f"👤 {client.name}", bold=True)
        rich.line(t("clients.about", lang), bold=True).add(" " + (client.description or "—"))
        await self.view.add_contacts(rich, client.id, lang)
        rich.line("")
        rich.line(t("clients.usage", lang))
        return rich

    async def other_client(
        self, message: Message, args: str, dialog: Dialog, lang: str
    ) -> Client | str:
        """The client /merge names, or the key of what to answer."""
        args = args.strip()
        if not args:
            replied = message.reply_to_message
            if replied is None or replied.message_thread_id == message.message_thread_id:
                return "clients.merge_usage"
            other = await topic_dialog(self.team.chat_id, replied)
            if other is None:
                return "clients.merge_unknown_topic"
            return await Client.get(id=await root_client(other.client_id))  # type: ignore[attr-defined]
        if "t.me/" in args:
            thread = topic_of_link(args, self.team.chat_id)
            other = (
                await Dialog.get_or_none(topic__chat_id=self.team.chat_id, topic__thread_id=thread)
                if thread is not None
                else None
            )
            if other is None:
                return "clients.merge_unknown_topic"
            return await Client.get(id=await root_client(other.client_id))  # type: ignore[attr-defined]
        kind_word, _, value = args.partition(" ")
        try:
            found = await find_contact(normalise(kind_word, value, phone_region(lang)))
        except ContactError:
            # An address a client did write from, though no checker would take it
            # (an intranet's .local): as the e-mail channel stored it.
            if kind_word.lower() not in ("email", "mail", "e-mail"):
                raise  # the caller answers with the right form
            found = await Contact.get_or_none(kind=ContactKind.EMAIL, value=value.strip().lower())
            if found is None:
                raise
        if found is None:
            return "clients.merge_unknown_contact"
        return await Client.get(id=await root_client(found.client_id))  # type: ignore[attr-defined]

    async def merge(self, dialog: Dialog, gone: Client, operator: Operator, lang: str) -> str:
        """The answer line of a merge of `gone` into the dialog's client."""
        keep_id = dialog.client_id  # type: ignore[attr-defined]
        try:
            kept = await self.service.merge(keep_id, gone.id, operator, dialog)
        except MergeError as error:
            return t(f"clients.merge_{error.reason}", lang)
        return t("clients.merged", lang, gone=gone.name, name=kept.name, who=operator.name)

    async def send_card(self, operator: Operator, client_id: int) -> bool:
        """A client's card to the operator's private chat; False when the bot may not write
        to them (they never started it)."""
        lang = pick_language(operator.language)
        rich = await self.view.client_card(client_id, lang)
        try:
            await self.team.bot.send_message(
                operator.user_id,
                rich.text,
                entities=rich.message_entities(),
                parse_mode=None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            log.info("client card not sent to %s: %s", operator.user_id, exc)
            return False
        return True


def usage_of(command: str, lang: str) -> str:
    return t(f"clients.{command}_usage", lang)


def clients_router(team: Team, view: CardView) -> Router:
    router = group_router("team-clients", team)
    clients = Clients(team, view)
    clients.install()
    service = clients.service

    @router.message(Command("client"), flags={"dialog": True})
    async def client_command(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        client_id = dialog.client_id  # type: ignore[attr-defined]
        what, _, rest = (command.args or "").strip().partition(" ")
        what, rest = what.lower(), rest.strip()
        if not what:
            rich = await clients.form(client_id, lang)
            await team.answer(message, rich.text, entities=rich.message_entities())
            return
        if what in ("name", "имя") and rest:
            client, changed = await service.rename(client_id, rest, operator, dialog)
            key = "clients.renamed" if changed else "clients.unchanged"
            await team.confirm(message, t(key, lang, name=client.name, who=operator.name))
            return
        if what in ("about", "описание") and rest:
            text = "" if rest == "-" else rest
            _, changed = await service.describe(client_id, text, operator, dialog)
            if not changed:
                key = "clients.unchanged"
            else:
                key = "clients.described" if text else "clients.description_cleared"
            await team.confirm(message, t(key, lang, who=operator.name, name=""))
            return
        await team.answer(message, usage_of("client", lang))

    @router.message(Command("contact"), flags={"dialog": True})
    async def contact_command(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        words = (command.args or "").split(maxsplit=2)
        if len(words) < 3 or words[0].lower() not in ("add", "del", "delete", "remove"):
            await team.answer(message, usage_of("contact", lang))
            return
        action, kind_word, value = words
        try:
            contact = normalise(contact_kind(kind_word), value, phone_region(lang))
        except ContactError as error:
            await team.answer(message, contact_form(error.kind, lang))
            return
        client_id = dialog.client_id  # type: ignore[attr-defined]
        shown = contact.display or contact.value
        if action.lower() == "add":
            result = await service.add_contact(client_id, contact, operator, dialog)
            if result.elsewhere is not None:
                text = t(
                    "clients.contact_elsewhere", lang, contact=shown, name=result.elsewhere.name
                )
                await team.answer(
                    message, text, reply_markup=merge_button(dialog, result.elsewhere, lang)
                )
                return
            key = "clients.contact_added" if result.added else "clients.contact_known"
            await team.confirm(message, t(key, lang, contact=f"{contact.kind.value} {shown}"))
            return
        outcome = await service.remove_contact(client_id, contact, operator, dialog)
        text = t(f"clients.contact_{outcome}", lang, contact=f"{contact.kind.value} {shown}")
        if outcome == "removed":
            await team.confirm(message, text)
        else:
            await team.answer(message, text)

    @router.message(Command("merge"), flags={"dialog": True})
    async def merge_command(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        key = update_key(message, "merge")
        if await done(key):
            return
        try:
            other = await clients.other_client(message, command.args or "", dialog, lang)
        except ContactError as error:
            await team.answer(
                message, contact_form(error.kind, lang) + "\n" + usage_of("merge", lang)
            )
            return
        if isinstance(other, str):
            extra = "" if other == "clients.merge_usage" else "\n" + usage_of("merge", lang)
            await team.answer(message, t(other, lang) + extra)
            return
        text = await clients.merge(dialog, other, operator, lang)
        await mark(key, team.core.clock.now())
        await team.answer(message, text)

    @router.callback_query(MergeData.filter())
    async def merge_pressed(
        query: CallbackQuery,
        callback_data: MergeData,
        operator: Operator,
        lang: str,
        dialog: Dialog | None,
    ) -> None:
        gone = await Client.get_or_none(id=callback_data.gone)
        if dialog is None or gone is None or not isinstance(query.message, Message):
            await quietly(lambda: query.answer(t("clients.merge_unknown", lang), show_alert=True))
            return
        key = press_key(query, "merge")
        if await done(key):
            await quietly(lambda: query.answer())
            return
        text = await clients.merge(dialog, gone, operator, lang)
        await mark(key, team.core.clock.now())
        await quietly(lambda: query.answer(text[:190]))
        shown = query.message
        await queue_answer(
            team.core.ctx,
            shown.chat.id,
            Content(text),
            thread_id=thread_of(shown),
            reply_to=shown.message_id,
        )

    @router.callback_query(ParticipantsData.filter())
    async def participants_pressed(query: CallbackQuery, lang: str, dialog: Dialog | None) -> None:
        if dialog is None or not isinstance(query.message, Message):
            await quietly(lambda: query.answer(t("error.not_dialog", lang), show_alert=True))
            return
        await quietly(lambda: query.answer())
        people = await view.participant_clients(dialog)
        rows = [
            [
                InlineKeyboardButton(
                    text=f"👤 {name[:60]}", callback_data=ClientCardData(client_id=client_id).pack()
                )
            ]
            for client_id, name in people[:20]
        ]
        text = t("clients.participants", lang, count=len(people))
        shown = query.message
        await queue_answer(
            team.core.ctx,
            shown.chat.id,
            Content(text),
            thread_id=thread_of(shown),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None,
        )

    @router.callback_query(ClientCardData.filter())
    async def client_card_pressed(
        query: CallbackQuery, callback_data: ClientCardData, operator: Operator, lang: str
    ) -> None:
        if not await Client.exists(id=callback_data.client_id):
            await quietly(lambda: query.answer(t("clients.merge_unknown", lang), show_alert=True))
            return
        bot = (await team.bot.me()).username or ""
        if await clients.send_card(operator, callback_data.client_id):
            await quietly(lambda: query.answer(t("clients.card_sent", lang, bot=bot)))
        else:
            await quietly(
                lambda: query.answer(t("history.start_first", lang, bot=bot), show_alert=True)
            )

    return router
