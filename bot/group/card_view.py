"""What the pinned client card shows: who the client is, where the dialog stands, the client's
other dialogs, and its buttons (Close and Snooze or Reopen, Assign, History, Dialogs; 📧 for
the originals of the first words it shows)."""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import AssignMenuData, CardData, DialogData, ParticipantsData
from bot.group.batches import opening_text
from bot.i18n import t
from bot.team.context import Team
from bot.team.keyboards import with_originals
from bot.team.lines import add_dialog_line, assignee_name, local
from bot.team.richtext import Rich
from core.channels import UnknownChannel
from core.csat import client_ratings
from core.history import root_client
from core.lifecycle import DialogStatus
from core.models import (
    ChannelKind,
    Client,
    ContactKind,
    Dialog,
    Participant,
)
from core.models import Message as ClientMessage
from core.queries import (
    client_and_channel,
    client_channels,
    client_contacts,
    count_other_dialogs,
    last_message,
    open_tasks,
    other_dialogs,
    tag_names,
)

OTHER_DIALOGS = 3
# A participant's card in private lists this many of their dialogs.
PRIVATE_DIALOGS = 10
OPEN_TASKS = 3
CONTEXT_VALUE = 200
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


def context_lines(dialog: Dialog) -> list[tuple[str, str]]:
    """Where the client writes from, as their channel told it (the dialog's context)."""
    return [
        (str(pair[0]), str(pair[1]))
        for pair in dialog.context or []
        if isinstance(pair, list) and len(pair) == 2 and pair[1]
    ]


def clip(text: str, size: int = 50) -> str:
    text = " ".join(text.split())
    return text[:size] + ("…" if len(text) > size else "")


class CardView:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core
        self.feed = team.desk.feed
        self.lang = team.desk.gateway.lang

    async def render(
        self, dialog: Dialog, opening: list[ClientMessage] | None = None
    ) -> tuple[Rich, InlineKeyboardMarkup]:
        lang = self.lang
        now = self.core.clock.now()
        client, channel = await client_and_channel(dialog)
        rich = Rich().add(f"👤 {client.name}", bold=True)
        if client.description:
            rich.line(clip(client.description, 300))
        await self.add_contacts(rich, client.id)
        rich.line(t("card.channel", lang, channel=channel.name))
        others = await self.others_on_thread(dialog)
        if others:
            rich.line(t("card.participants", lang, names=", ".join(others)))
        for key, value in context_lines(dialog):
            label = t(f"card.context.{key}", lang)
            rich.line(f"{label}: {clip(value, CONTEXT_VALUE)}")
        rich.line(t("card.status", lang, status=self.status_text(dialog)))
        if client.banned:
            rich.line(t("card.banned", lang))
        if dialog.unreachable:
            rich.line(t("card.unreachable", lang))
        name = await assignee_name(dialog)
        rich.line(t("card.assignee", lang, name=name or t("card.nobody", lang)))
        tags = await tag_names(dialog.id)
        rich.line(t("card.tags", lang, tags=" ".join(f"#{x}" for x in tags) or "—"))
        rating = await client_ratings(client.id)  # the satisfaction survey (core.csat)
        if rating is not None:
            key = "csat.card_average" if rating.count > 1 else "csat.card"
            average = f"{rating.average:.1f}"
            rich.line(t(key, lang, latest=rating.latest, average=average, count=rating.count))
        await self.add_open_tasks(rich, client.id, now)
        await self.add_deals(rich, client.id)
        total = await count_other_dialogs(client.id, dialog.id)
        if total:
            rich.line(t("card.other_dialogs", lang, count=total), bold=True)
            for other in await other_dialogs(client.id, dialog.id, OTHER_DIALOGS):
                await self.add_other(rich, other, now)
        if opening:
            # The client's first words, so that a new dialog costs one post, not two.
            rich.line(OPENING_RULE)
            rich.block(*opening_text(dialog, opening, self.feed.tz))
        markup = self.buttons(dialog, total > OTHER_DIALOGS, participants=bool(others))
        # The first words it shows whose original is kept (a whole mail): 📧 each, as
        # their own posts would have.
        originals = [m.id for m in opening or [] if m.original]
        return rich, with_originals(markup, originals, lang) or markup

    async def add_contacts(self, rich: Rich, client_id: int, lang: str | None = None) -> None:
        """Every contact of the client, each with the channels the client wrote on through it."""
        rich.line(t("card.contacts", lang or self.lang), bold=True)
        channels = await client_channels(client_id)
        for contact in await client_contacts(client_id):
            where = sorted({c.name for c in channels if CONTACT_OF_CHANNEL[c.kind] == contact.kind})
            shown = contact.display or contact.value
            if contact.display and contact.display != contact.value:
                shown = f"{contact.display} ({contact.value})"
            rich.line(
                f"• {contact.kind.value}: {shown}" + (f" — {', '.join(where)}" if where else "")
            )

    async def client_card(self, client_id: int, lang: str) -> Rich:
        """A client's own card, for a private chat (a participant's button): the name, the
        description, the contacts and their dialogs as links to the topics."""
        client = await Client.get(id=await root_client(client_id))
        rich = Rich().add(f"👤 {client.name}", bold=True)
        if client.description:
            rich.line(clip(client.description, 300))
        await self.add_contacts(rich, client.id, lang)
        dialogs = await Dialog.filter(client_id=client.id).order_by("-last_message_at", "-id")
        rich.line(t("clients.dialogs", lang, count=len(dialogs)), bold=True)
        now = self.core.clock.now()
        for other in dialogs[:PRIVATE_DIALOGS]:
            await self.add_other(rich, other, now, lang)
        return rich

    async def participant_clients(self, dialog: Dialog) -> list[tuple[int, str]]:
        """The other people on the dialog's thread as clients (id, name), once each."""
        people = await Participant.filter(dialog_id=dialog.id).select_related("contact__client")
        found: dict[int, str] = {}
        for person in sorted(people, key=lambda p: p.id):
            client = person.contact.client
            if client.id != dialog.client_id:  # type: ignore[attr-defined]
                found.setdefault(client.id, client.name or person.contact.value)
        return list(found.items())

    async def add_open_tasks(self, rich: Rich, client_id: int, now: Any) -> None:
        """The client's open tasks, soonest due first (/tasks in the topic lists them all)."""
        tasks = await open_tasks(client_id)
        if not tasks:
            return
        lang, tz = self.lang, self.team.settings.tz
        rich.line(t("card.open_tasks", lang, count=len(tasks)), bold=True)
        tasks.sort(key=lambda task: (task.due_at is None, task.due_at or now, task.id))
        for task in tasks[:OPEN_TASKS]:
            line = f"• {clip(task.title, 60)}"
            if task.due_at is not None:
                # No ⏰ here: the card is not redrawn when the moment passes (/tasks marks it).
                line += f" — {local(task.due_at, tz, now)}"
            rich.line(line)

    async def others_on_thread(self, dialog: Dialog) -> list[str]:
        """Everyone on the conversation besides the client (e-mail To/Cc, a client group's
        members), on channels that have such people: others read nothing."""
        try:
            connector = self.core.connectors.for_dialog(dialog)
        except UnknownChannel:
            return []
        if not connector.capabilities.participants:
            return []
        people = await Participant.filter(dialog_id=dialog.id).select_related("contact__client")
        shown = []
        for person in sorted(people, key=lambda p: p.id):
            contact = person.contact
            if contact.client_id == dialog.client_id:  # type: ignore[attr-defined]
                continue
            name, address = contact.client.name, contact.display or contact.value
            who = f"{name} <{address}>" if name and name != address else address
            shown.append(f"{who} ({person.role})" if person.role in ("to", "cc") else who)
        return shown

    async def add_other(self, rich: Rich, other: Dialog, now: Any, lang: str | None = None) -> None:
        lang, tz = lang or self.lang, self.team.settings.tz
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

    def buttons(
        self, dialog: Dialog, more: bool, participants: bool = False
    ) -> InlineKeyboardMarkup:
        lang, d = self.lang, dialog.id

        def button(key: str, data: CallbackData) -> InlineKeyboardButton:
            return InlineKeyboardButton(text=t(key, lang), callback_data=data.pack())

        if dialog.status is DialogStatus.CLOSED:
            first = [button("card.button.reopen", CardData(action="reopen", dialog_id=d))]
        else:
            first = [
                button("button.close", DialogData(action="close", dialog_id=d)),
                button("button.snooze", DialogData(action="snooze", dialog_id=d)),
            ]
        second = [
            button("card.button.assign", AssignMenuData(dialog_id=d)),
            button("card.button.history", CardData(action="history", dialog_id=d)),
        ]
        if more:
            second.append(button("card.button.dialogs", CardData(action="dialogs", dialog_id=d)))
        if participants:
            second.append(button("clients.button.participants", ParticipantsData(dialog_id=d)))
        return InlineKeyboardMarkup(inline_keyboard=[first, second])

    async def add_deals(self, rich: Rich, client_id: int) -> None:
        """The client's amoCRM deals as last known (the card never waits for amoCRM): three
        at most, open ones first, each a link to the deal."""
        deals = await self.core.crm.deals_for(client_id)
        if not deals:
            return
        rich.line(t("crm.card.deals", self.lang, count=len(deals)), bold=True)
        for deal in deals[:3]:
            rich.line("• ").add(clip(deal.name, 60), url=deal.url or None)
            amount = f"{deal.amount:,}".replace(",", " ") if deal.amount else ""
            if amount and deal.currency:
                amount += f" {deal.currency}"
            rich.add("".join(f" — {part}" for part in (deal.status, amount) if part))
