"""The one entry point for inbound client messages from every connector.

Atomic and idempotent: the same (channel, chat, external id) twice yields one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import RawSQL, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core import copies, eventlog, reporting
from core.channels import Participant
from core.content import Attachment, Content
from core.context import CoreContext
from core.dialogs import DialogService, current_episode
from core.events import (
    ContextChanged,
    CoreEvent,
    DialogCreated,
    EpisodeStarted,
    MessageCreated,
    MessageEdited,
)
from core.lifecycle import Action, DialogStatus
from core.models import (
    ActorKind,
    Client,
    Contact,
    ContactKind,
    Dialog,
    Episode,
    Message,
    MessageKind,
    ReportKind,
    fit_key,
    storable,
)
from core.models import Participant as DialogParticipant
from core.prepared import PreparedSelect, insert_ignoring_conflicts


@dataclass(frozen=True)
class Sender:
    kind: ContactKind
    value: str
    name: str
    display: str = ""
    # Other contacts the channel verified to be this same person (a website's signed-in
    # user's e-mail): a new contact joins the client of the first of them that exists, so
    # that client's other dialogs are theirs.
    same_as: tuple[tuple[ContactKind, str], ...] = ()


@dataclass
class Inbound:
    """A client message, normalized by its connector."""

    channel_id: int
    chat_key: str
    external_id: str
    sender: Sender
    content: Content = field(default_factory=Content)
    album_key: str | None = None
    reply_to_external_id: str | None = None
    subject: str = ""
    # For group conversations: the conversation's own name, not the sender's.
    chat_title: str | None = None
    # Everyone else on the conversation (e-mail To/Cc, a client group's members), each
    # stored as a participant of the dialog besides the sender.
    participants: list[Participant] = field(default_factory=list)
    # The message exactly as its channel delivered it, when the content shows less of it (a
    # mail's quoted thread and signature cut away): a file the team can ask for.
    original: Attachment | None = None
    # What the channel could not carry in (a part it could not read, a file over its limit):
    # each a key (the front end's words for it) and its values, told with the message.
    notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Written by a machine (an auto-reply, a list, a bounce): nothing automatic answers it.
    automatic: bool = False
    # Where the client writes from (a web page, their language, time zone): key -> value,
    # the dialog's whole context now, kept on the dialog for its card. None: not told.
    context: dict[str, str] | None = None


@dataclass
class IngestResult:
    dialog: Dialog
    message: Message
    duplicate: bool = False
    created: bool = False
    new_episode: bool = False
    reopened: bool = False
    woke: bool = False


def _key(model: Any, name: str, value: str) -> str:
    """An outside id as its column stores it (a too long one cut and ended by a digest)."""
    return fit_key(value, model._meta.fields_map[name].max_length)


def fitted(inbound: Inbound) -> Inbound:
    """The inbound message with every id fitted to its column, for storing and looking up
    alike: no id, however long, makes ingest fail, and long ids stay distinct."""

    def key(model: Any, name: str, value: str | None) -> str | None:
        return None if value is None else _key(model, name, value)

    return replace(
        inbound,
        chat_key=_key(Dialog, "chat_key", inbound.chat_key),
        external_id=_key(Message, "external_id", inbound.external_id),
        album_key=key(Message, "album_key", inbound.album_key),
        reply_to_external_id=key(Message, "external_id", inbound.reply_to_external_id),
        sender=replace(inbound.sender, value=_key(Contact, "value", inbound.sender.value)),
        participants=[
            replace(p, value=_key(Contact, "value", p.value)) for p in inbound.participants
        ],
    )


def context_of(inbound: Inbound) -> list[list[str]] | None:
    """The context as the dialog keeps it: [[key, value], ...], in the channel's order."""
    if inbound.context is None:
        return None
    return [[str(key), storable(str(value))[:1000]] for key, value in inbound.context.items()]


async def resolve_reply(dialog_id: int, external_id: str) -> Message | None:
    """The message a client's reply names by its id on the channel: one of the client's own,
    or one of the copies of the team's replies the channel gave ids to."""
    own = await Message.get_or_none(dialog_id=dialog_id, external_id=external_id)
    if own is not None:
        return own
    return await copies.find_in_dialog(dialog_id, external_id)


_DISPLAY = Contact._meta.fields_map["display"].max_length  # type: ignore[attr-defined]


def _current_episode() -> RawSQL:
    """The id of the dialog's latest episode, as a column of a query of dialogs."""
    episodes, dialogs = Episode._meta.db_table, Dialog._meta.db_table
    return RawSQL(
        f'(SELECT "id" FROM "{episodes}" WHERE "{episodes}"."dialog_id" = "{dialogs}"."id"'
        ' ORDER BY "number" DESC LIMIT 1)'
    )


def _other_dialogs() -> RawSQL:
    """How many other dialogs the dialog's client has, as a column of a query of dialogs."""
    dialogs = Dialog._meta.db_table
    return RawSQL(
        f'(SELECT COUNT(*) FROM "{dialogs}" "other" WHERE "other"."client_id" ='
        f' "{dialogs}"."client_id" AND "other"."id" <> "{dialogs}"."id")'
    )


def _client_banned() -> RawSQL:
    """Whether the dialog's client is banned, as a column of a query of dialogs."""
    clients, dialogs = Client._meta.db_table, Dialog._meta.db_table
    return RawSQL(
        f'(SELECT "banned" FROM "{clients}" WHERE "{clients}"."id" = "{dialogs}"."client_id")'
    )


def _dialog_for_message(
    kind: ContactKind,
    with_display: bool,
    *,
    channel_id: int,
    chat_key: str,
    value: str,
    display: str = "",
) -> QuerySet[Dialog]:
    sender = Contact.filter(kind=kind, value=value)
    if with_display:
        sender = sender.filter(display=display)
    return (
        Dialog.filter(channel_id=channel_id, chat_key=chat_key)
        .select_for_update()
        .annotate(
            current_episode_id=_current_episode(),
            other_dialogs=_other_dialogs(),
            client_banned=_client_banned(),
            sender_id=Subquery(sender.values("id")),
            sender_client_id=Subquery(sender.values("client_id")),
        )
        .limit(1)
    )


# Built once: run for every client message (see core/prepared.py).
_DIALOG_FOR_MESSAGE = PreparedSelect(
    Dialog,
    _dialog_for_message,
    for_update=True,
    channel_id=int,
    chat_key=str,
    value=str,
    display=str,
)


def _known_sender(dialog: Dialog | None, inbound: Inbound) -> Contact | None:
    """The sender's contact as `Ingest._dialog` found it, unchanged (None: not found)."""
    contact_id = getattr(dialog, "sender_id", None)
    if contact_id is None:
        return None
    contact = Contact(
        id=contact_id,
        client_id=dialog.sender_client_id,  # type: ignore[union-attr]
        kind=inbound.sender.kind,
        value=inbound.sender.value,
        display=inbound.sender.display,
    )
    contact._saved_in_db = True
    return contact


class Ingest:
    def __init__(self, ctx: CoreContext, dialogs: DialogService) -> None:
        self.ctx = ctx
        self.dialogs = dialogs

    async def __call__(self, inbound: Inbound) -> IngestResult:
        inbound = fitted(inbound)
        try:
            result, events = await self._store(inbound)
        except IntegrityError:
            # The message was stored before (a duplicate delivery: its unique id says so), or
            # another ingest of the same client/dialog won the race: read its result.
            result, events = await self._store(inbound, check=True)
        await self.ctx.bus.publish_all(events)
        return result

    async def _contact(self, sender: Sender, now: datetime) -> Contact:
        return (await self._contact_of(sender, now))[0]

    async def _contact_of(self, sender: Sender, now: datetime) -> tuple[Contact, bool]:
        """The sender's contact, and whether it is new (and so its client: no dialogs)."""
        contact = await Contact.get_or_none(kind=sender.kind, value=sender.value)
        if contact is None:
            for kind, value in sender.same_as:
                known = await Contact.get_or_none(kind=kind, value=_key(Contact, "value", value))
                if known is not None:
                    contact = await Contact.create(
                        client_id=known.client_id,  # type: ignore[attr-defined]
                        kind=sender.kind,
                        value=sender.value,
                        display=sender.display,
                        created_at=now,
                    )
                    return contact, False
            client = await Client.create(name=sender.name or sender.value, created_at=now)
            contact = await Contact.create(
                client=client,
                kind=sender.kind,
                value=sender.value,
                display=sender.display,
                created_at=now,
            )
            return contact, True
        if sender.display and contact.display != sender.display:
            contact.display = sender.display
            await contact.save(update_fields=["display"])
        return contact, False

    async def _participants(
        self, dialog: Dialog, sender: Contact, inbound: Inbound, created: bool, now: datetime
    ) -> None:
        """The sender and everyone the message names join the dialog's participants, once
        each. The dialog's own client writing again with nobody else named costs nothing:
        they joined when it began."""
        own = sender.client_id == dialog.client_id  # type: ignore[attr-defined]
        if not created and own and not inbound.participants:
            return
        rows = {
            sender.id: DialogParticipant(dialog=dialog, contact=sender, role="from", created_at=now)
        }
        for person in inbound.participants:
            kind = person.kind or inbound.sender.kind
            contact = await self._contact(
                Sender(kind, person.value, person.name, person.display), now
            )
            if contact.id not in rows:
                rows[contact.id] = DialogParticipant(
                    dialog=dialog, contact=contact, role=person.role, created_at=now
                )
        await insert_ignoring_conflicts(DialogParticipant, list(rows.values()))

    async def _dialog(self, inbound: Inbound) -> Dialog | None:
        """The dialog (locked), read with what storing a message in it needs: its current
        episode, the sender's contact (its id and client; none when the contact is new or its
        display name changed) and how many other dialogs its client has. One statement."""
        sender = inbound.sender
        if sender.display:
            # As the contact stores it (a long one cut to its column).
            return await _DIALOG_FOR_MESSAGE.first(
                sender.kind,
                True,
                channel_id=inbound.channel_id,
                chat_key=inbound.chat_key,
                value=sender.value,
                display=storable(sender.display)[:_DISPLAY],
            )
        return await _DIALOG_FOR_MESSAGE.first(
            sender.kind,
            False,
            channel_id=inbound.channel_id,
            chat_key=inbound.chat_key,
            value=sender.value,
        )

    async def _store(
        self, inbound: Inbound, *, check: bool = False
    ) -> tuple[IngestResult, list[CoreEvent]]:
        """`check`: look for the message first (a retry after the unique id refused it)."""
        now = self.ctx.clock.now()
        events: list[CoreEvent] = []
        async with in_transaction():
            dialog = await self._dialog(inbound)
            if dialog is not None and check:
                existing = await Message.get_or_none(
                    dialog_id=dialog.id, external_id=inbound.external_id
                )
                if existing is not None:
                    return IngestResult(dialog, existing, duplicate=True), []
            contact, new_client = _known_sender(dialog, inbound), False
            if contact is None:
                contact, new_client = await self._contact_of(inbound.sender, now)
            if await self._banned(dialog, contact, new_client):
                return await self._store_banned(dialog, contact, inbound, now), []
            result = IngestResult(dialog, None)  # type: ignore[arg-type]
            episode_id: int | None
            if dialog is None:
                dialog, episode = await self._new_dialog(inbound, contact, now)
                result.dialog, result.created, result.new_episode = dialog, True, True
                events.append(DialogCreated(dialog_id=dialog.id, at=now))
                events.append(EpisodeStarted(dialog_id=dialog.id, episode_id=episode.id, at=now))
                episode_id = episode.id
            else:
                old = dialog.status
                episode_id = getattr(dialog, "current_episode_id", None)
                if old is not DialogStatus.OPEN:
                    changes = await self.dialogs.change_status(
                        dialog,
                        Action.CLIENT_WROTE,
                        now=now,
                        actor=None,
                        actor_kind=ActorKind.CLIENT,
                        reason="client wrote",
                    )
                    events.extend(changes)
                    result.reopened = old is DialogStatus.CLOSED
                    result.woke = old is DialogStatus.SNOOZED
                    result.new_episode = any(isinstance(e, EpisodeStarted) for e in changes)
                    episode_id = None  # it may have begun a new one
                if episode_id is None:
                    latest = await current_episode(dialog)
                    episode_id = latest.id if latest else None
            await self._participants(dialog, contact, inbound, result.created, now)
            reply_to = None
            if inbound.reply_to_external_id:
                reply_to = await resolve_reply(dialog.id, inbound.reply_to_external_id)
            message = await Message.create(
                dialog=dialog,
                episode_id=episode_id,
                kind=MessageKind.IN,
                sender_contact=contact,
                sender_name=inbound.sender.name,
                **inbound.content.to_json(),
                album_key=inbound.album_key,
                external_id=inbound.external_id,
                reply_to=reply_to,
                subject=inbound.subject[:255],
                original=inbound.original.to_json() if inbound.original else None,
                notices=[{"key": k, "values": v} for k, v in inbound.notices] or None,
                automatic=inbound.automatic,
                created_at=now,
            )
            dialog.last_message_at = now
            if dialog.waiting_since is None:
                dialog.waiting_since = now
            # A client who writes can be written to again (they unblocked us).
            reachable_again = dialog.unreachable
            dialog.unreachable = False
            changed = ["last_message_at", "waiting_since", "unreachable"]
            context = context_of(inbound)
            if context is not None and context != dialog.context:
                dialog.context = context
                changed.append("context")
                events.append(ContextChanged(dialog_id=dialog.id, at=now))
            await dialog.save(update_fields=changed)
            result.message = message
            events.append(
                MessageCreated(
                    dialog_id=dialog.id,
                    at=now,
                    message_id=message.id,
                    kind="in",
                    data={"reachable_again": True} if reachable_again else {},
                    message=message,
                    dialog=dialog,
                    # A new client has no other dialog; else as `_dialog` counted them.
                    other_dialogs=0 if new_client else getattr(dialog, "other_dialogs", None),
                )
            )
            # The side effects (the topic post, the card, the board) commit with the message.
            events = await self.ctx.bus.changed(events)
        return result, events

    @staticmethod
    async def _banned(dialog: Dialog | None, contact: Contact, new_client: bool) -> bool:
        """The dialog's client is banned (`_dialog` read it); a new dialog's: asked once."""
        if dialog is not None:
            return bool(getattr(dialog, "client_banned", False))
        if new_client:
            return False
        return await Client.exists(id=contact.client_id, banned=True)  # type: ignore[attr-defined]

    async def _store_banned(
        self, dialog: Dialog | None, contact: Contact, inbound: Inbound, now: datetime
    ) -> IngestResult:
        """A banned client's message: stored (never lost; /history shows it), and nothing
        else — no reopening, no wake-up, no event, so the front end posts nothing. A first
        message on a new chat makes the dialog closed, without a topic."""
        created = dialog is None
        if dialog is None:
            dialog = await Dialog.create(
                client_id=contact.client_id,  # type: ignore[attr-defined]
                channel_id=inbound.channel_id,
                chat_key=inbound.chat_key,
                subject=(inbound.subject or inbound.chat_title or "")[:255],
                status=DialogStatus.CLOSED,
                created_at=now,
                closed_at=now,
                last_message_at=now,
            )
        message = await Message.create(
            dialog=dialog,
            kind=MessageKind.IN,
            sender_contact=contact,
            sender_name=inbound.sender.name,
            **inbound.content.to_json(),
            album_key=inbound.album_key,
            external_id=inbound.external_id,
            subject=inbound.subject[:255],
            original=inbound.original.to_json() if inbound.original else None,
            automatic=inbound.automatic,
            created_at=now,
        )
        return IngestResult(dialog, message, created=created)

    async def _new_dialog(
        self, inbound: Inbound, contact: Contact, now: datetime
    ) -> tuple[Dialog, Episode]:
        dialog = await Dialog.create(
            client_id=contact.client_id,  # type: ignore[attr-defined]
            channel_id=inbound.channel_id,
            chat_key=inbound.chat_key,
            subject=(inbound.subject or inbound.chat_title or "")[:255],
            status=DialogStatus.OPEN,
            created_at=now,
            last_message_at=now,
            context=context_of(inbound),
        )
        episode = await Episode.create(dialog=dialog, number=1, started_at=now)
        await eventlog.record(
            "dialog.created",
            at=now,
            dialog=dialog,
            episode=episode,
            actor_kind=ActorKind.CLIENT,
            reason="first message",
        )
        await reporting.record(self.ctx, ReportKind.OPENED, at=now, dialog=dialog, episode=episode)
        return dialog, episode

    async def edited(self, inbound: Inbound) -> Message | None:
        """A client's edit as its connector parsed it (the whole message as it is now)."""
        return await self.edit(
            inbound.channel_id,
            inbound.chat_key,
            inbound.external_id,
            inbound.content,
        )

    async def edit(
        self, channel_id: int, chat_key: str, external_id: str, content: Content
    ) -> Message | None:
        """A client edited a message: store its new text and formatting (its attachments stay
        what arrived first); None when we never had it or nothing changed."""
        now = self.ctx.clock.now()
        message = await Message.get_or_none(
            dialog__channel_id=channel_id,
            dialog__chat_key=_key(Dialog, "chat_key", chat_key),
            external_id=_key(Message, "external_id", external_id),
        )
        spans = [span.to_json() for span in content.spans]
        if message is None or (message.text == content.text and message.spans == spans):
            return None
        message.text, message.spans, message.edited_at = content.text, spans, now
        edited = MessageEdited(
            dialog_id=message.dialog_id,  # type: ignore[attr-defined]
            at=now,
            message_id=message.id,
            kind=message.kind.value,
        )
        async with in_transaction():
            await message.save(update_fields=["text", "spans", "edited_at"])
            events = await self.ctx.bus.changed([edited])
        await self.ctx.bus.publish_all(events)
        return message
