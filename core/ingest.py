"""The one entry point for inbound client messages from every connector.

Atomic and idempotent: the same (channel, chat, external id) twice yields one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import eventlog
from core.context import CoreContext
from core.dialogs import DialogService, current_episode
from core.events import (
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
    MessageRef,
    fit_key,
)


@dataclass(frozen=True)
class Sender:
    kind: ContactKind
    value: str
    name: str
    display: str = ""


@dataclass
class Inbound:
    """A client message, normalized by its connector."""

    channel_id: int
    chat_key: str
    external_id: str
    sender: Sender
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    album_key: str | None = None
    reply_to_external_id: str | None = None
    subject: str = ""
    # For group conversations: the conversation's own name, not the sender's.
    chat_title: str | None = None


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
    )


async def resolve_reply(dialog_id: int, external_id: str) -> Message | None:
    """The message a client's reply names by its id on the channel: one of the client's own,
    or one of the copies of the team's replies the channel gave ids to."""
    own = await Message.get_or_none(dialog_id=dialog_id, external_id=external_id)
    if own is not None:
        return own
    ref = await MessageRef.get_or_none(dialog_id=dialog_id, external_id=external_id)
    return await Message.get_or_none(id=ref.message_id) if ref else None  # type: ignore[attr-defined]


class Ingest:
    def __init__(self, ctx: CoreContext, dialogs: DialogService) -> None:
        self.ctx = ctx
        self.dialogs = dialogs

    async def __call__(self, inbound: Inbound) -> IngestResult:
        inbound = fitted(inbound)
        try:
            result, events = await self._store(inbound)
        except IntegrityError:
            # Another ingest of the same client/dialog/message won the race: read its result.
            result, events = await self._store(inbound)
        for event in events:
            await self.ctx.bus.publish(event)
        return result

    async def _contact(self, sender: Sender, now: datetime) -> Contact:
        contact = await Contact.get_or_none(kind=sender.kind, value=sender.value)
        if contact is None:
            client = await Client.create(name=sender.name or sender.value, created_at=now)
            contact = await Contact.create(
                client=client,
                kind=sender.kind,
                value=sender.value,
                display=sender.display,
                created_at=now,
            )
        elif sender.display and contact.display != sender.display:
            contact.display = sender.display
            await contact.save(update_fields=["display"])
        return contact

    async def _store(self, inbound: Inbound) -> tuple[IngestResult, list[CoreEvent]]:
        now = self.ctx.clock.now()
        events: list[CoreEvent] = []
        async with in_transaction():
            dialog = (
                await Dialog.filter(channel_id=inbound.channel_id, chat_key=inbound.chat_key)
                .select_for_update()
                .first()
            )
            if dialog is not None:
                existing = await Message.get_or_none(
                    dialog_id=dialog.id, external_id=inbound.external_id
                )
                if existing is not None:
                    return IngestResult(dialog, existing, duplicate=True), []
            contact = await self._contact(inbound.sender, now)
            result = IngestResult(dialog, None)  # type: ignore[arg-type]
            if dialog is None:
                dialog, episode = await self._new_dialog(inbound, contact, now)
                result.dialog, result.created, result.new_episode = dialog, True, True
                events.append(DialogCreated(dialog_id=dialog.id, at=now))
                events.append(EpisodeStarted(dialog_id=dialog.id, episode_id=episode.id, at=now))
            else:
                old = dialog.status
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
                episode = await current_episode(dialog)  # type: ignore[assignment]
            reply_to = None
            if inbound.reply_to_external_id:
                reply_to = await resolve_reply(dialog.id, inbound.reply_to_external_id)
            message = await Message.create(
                dialog=dialog,
                episode=episode,
                kind=MessageKind.IN,
                sender_contact=contact,
                sender_name=inbound.sender.name,
                text=inbound.text,
                entities=inbound.entities,
                attachments=inbound.attachments,
                album_key=inbound.album_key,
                external_id=inbound.external_id,
                reply_to=reply_to,
                created_at=now,
            )
            dialog.last_message_at = now
            if dialog.waiting_since is None:
                dialog.waiting_since = now
            # A client who writes can be written to again (they unblocked us).
            dialog.unreachable = False
            await dialog.save(update_fields=["last_message_at", "waiting_since", "unreachable"])
            result.message = message
        events.append(MessageCreated(dialog_id=dialog.id, at=now, message_id=message.id, kind="in"))
        return result, events

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
        return dialog, episode

    async def edit(
        self, channel_id: int, chat_key: str, external_id: str, text: str, entities: list
    ) -> Message | None:
        """A client edited a message: store the new text; None when we never had it."""
        now = self.ctx.clock.now()
        message = await Message.get_or_none(
            dialog__channel_id=channel_id,
            dialog__chat_key=_key(Dialog, "chat_key", chat_key),
            external_id=_key(Message, "external_id", external_id),
        )
        if message is None or (message.text == text and message.entities == entities):
            return None
        message.text, message.entities, message.edited_at = text, entities, now
        await message.save(update_fields=["text", "entities", "edited_at"])
        await self.ctx.bus.publish(
            MessageEdited(
                dialog_id=message.dialog_id,  # type: ignore[attr-defined]
                at=now,
                message_id=message.id,
                kind=message.kind.value,
            )
        )
        return message
