"""Dialogs the team starts: /new toward a contact who has not written (e-mail), or toward a
Telegram client who has (Telegram lets a bot write only to someone who started it).

One transaction: the client and contact (found or made), the dialog and its first episode
(or the known dialog, reopened), the operator's message stored as OUT and queued for the
client's channel as every reply is (core.conversation's SEND_TO_CLIENT), the event log, and
the durable side effects (the topic and its card).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from core import eventlog, reporting
from core.content import Content
from core.context import CoreContext
from core.conversation import SEND_TO_CLIENT
from core.dialogs import DialogService, current_episode
from core.events import CoreEvent, DialogCreated, EpisodeStarted, MessageCreated
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
    Operator,
    ReportKind,
)
from core.models import Participant as DialogParticipant
from core.outbox import Priority, enqueue

# A dialog the team began on a channel whose conversations are threads (e-mail): its chat
# key until the client answers; its connector starts a new thread for it (no "Re:").
NEW_THREAD = "new:"


class Banned(Exception):
    """The contact's client is banned: nothing is sent."""


@dataclass
class Started:
    dialog: Dialog
    message: Message
    # False: the dialog existed (a Telegram chat is one dialog) and goes on.
    created: bool


def new_thread_key() -> str:
    return f"{NEW_THREAD}{uuid.uuid4().hex}"


async def known_private_dialog(channel_ids: list[int], who: str) -> Dialog | None:
    """The newest private dialog on one of `channel_ids` (Telegram channels) with the person
    `who` names: their user id, or @username as the channel last saw it."""
    who = who.strip()
    if who.startswith("@"):
        contacts = await Contact.filter(kind=ContactKind.TELEGRAM, display__iexact=who)
    elif who.lstrip("-").isdigit():
        contacts = await Contact.filter(kind=ContactKind.TELEGRAM, value=who)
    else:
        return None
    for contact in contacts:
        dialog = (
            await Dialog.filter(channel_id__in=channel_ids, chat_key=contact.value)
            .order_by("-last_message_at")
            .first()
        )
        if dialog is not None:
            return dialog
    return None


class OutboundService:
    def __init__(self, ctx: CoreContext, dialogs: DialogService) -> None:
        self.ctx = ctx
        self.dialogs = dialogs

    async def start(
        self,
        *,
        channel_id: int,
        chat_key: str,
        kind: ContactKind,
        value: str,
        name: str,
        subject: str,
        content: Content,
        author: Operator,
    ) -> Started:
        """Begin (or go on with) the dialog on `channel_id` at `chat_key` with the contact
        (`kind`, `value`), and send `content` as the operator's first message."""
        now = self.ctx.clock.now()
        events: list[CoreEvent] = []
        async with in_transaction():
            contact = await Contact.get_or_none(kind=kind, value=value)
            if contact is None:
                client = await Client.create(name=name or value, created_at=now)
                contact = await Contact.create(
                    client=client, kind=kind, value=value, display=value, created_at=now
                )
            else:
                client = await Client.get(id=contact.client_id)  # type: ignore[attr-defined]
            if client.banned:
                raise Banned(client.name)
            dialog = (
                await Dialog.select_for_update()
                .filter(channel_id=channel_id, chat_key=chat_key)
                .first()
            )
            created = dialog is None
            if dialog is None:
                dialog = await Dialog.create(
                    client=client,
                    channel_id=channel_id,
                    chat_key=chat_key,
                    subject=subject[:255],
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
                    actor=author,
                    actor_kind=ActorKind.OPERATOR,
                    reason="outbound",
                )
                await reporting.record(
                    self.ctx,
                    ReportKind.OPENED,
                    at=now,
                    dialog=dialog,
                    episode=episode,
                    operator_id=author.id,
                )
                # The person written to answers as the thread's client.
                await DialogParticipant.create(
                    dialog=dialog, contact=contact, role="from", created_at=now
                )
                events.append(DialogCreated(dialog_id=dialog.id, actor_id=author.id, at=now))
                events.append(EpisodeStarted(dialog_id=dialog.id, episode_id=episode.id, at=now))
            elif dialog.status is not DialogStatus.OPEN:
                events += await self.dialogs.change_status(
                    dialog,
                    Action.REOPEN,
                    now=now,
                    actor=author,
                    actor_kind=ActorKind.OPERATOR,
                    reason="outbound",
                )
            message = await Message.create(
                dialog=dialog,
                episode=await current_episode(dialog),
                kind=MessageKind.OUT,
                author=author,
                sender_name=author.name,
                **content.to_json(),
                created_at=now,
            )
            dialog.last_message_at = now
            await dialog.save(update_fields=["last_message_at"])
            await enqueue(
                self.ctx,
                SEND_TO_CLIENT,
                {"message_id": message.id},
                priority=Priority.CLIENT_REPLY,
                lane=f"dialog:{dialog.id}:out",
            )
            events.append(
                MessageCreated(
                    dialog_id=dialog.id,
                    actor_id=author.id,
                    at=now,
                    message_id=message.id,
                    kind="out",
                    # The front end shows the team's first words in the topic (its reply
                    # copies come from the operator's own post, which this has none of).
                    data={"outbound": True},
                    message=message,
                    dialog=dialog,
                )
            )
            events = await self.ctx.bus.changed(events)
        await self.ctx.bus.publish_all(events)
        return Started(dialog, message, created)
