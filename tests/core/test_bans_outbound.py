"""The ban rule in ingest and the outbound service, on every database (PostgreSQL too)."""

from __future__ import annotations

import pytest

from core.bans import BanService
from core.channels import ensure_channel
from core.clock import FrozenClock
from core.content import Content
from core.events import DialogCreated, MessageCreated
from core.ingest import Sender
from core.lifecycle import DialogStatus
from core.models import (
    Channel,
    ChannelKind,
    Client,
    ContactKind,
    Dialog,
    Event,
    Message,
    MessageKind,
    Operator,
    OutboxItem,
)
from core.outbound import Banned, OutboundService, new_thread_key
from core.service import Core
from tests.core.helpers import Recorder, write

pytestmark = pytest.mark.usefixtures("db")

ANNA = Sender(ContactKind.TELEGRAM, "42", "Anna", display="@anna")


async def test_a_banned_clients_message_is_stored_and_wakes_nothing(
    core: Core, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    await write(core, telegram, sender=ANNA, text="Hello", external_id="1")
    dialog = await Dialog.get()
    bans = BanService(core.ctx, core.dialogs)
    assert (await bans.ban(dialog.id, operator)).changed
    assert not (await bans.ban(dialog.id, operator)).changed
    assert (await Dialog.get()).status is DialogStatus.CLOSED
    published.events.clear()

    result = await write(core, telegram, sender=ANNA, text="spam", external_id="2")
    # And from a chat of their own never seen before: a closed dialog, nothing told.
    await write(core, telegram, "chat-2", sender=ANNA, text="more spam", external_id="3")
    assert result.message.text == "spam" and result.message.kind is MessageKind.IN
    assert published.events == []
    assert {d.status for d in await Dialog.all()} == {DialogStatus.CLOSED}

    unbanned = await bans.unban(dialog.id, operator)
    assert unbanned.changed and unbanned.held == 2
    assert not (await Client.get()).banned
    names = [e.name for e in await Event.filter(name__startswith="client.").order_by("id")]
    assert names == ["client.banned", "client.unbanned"]
    await write(core, telegram, sender=ANNA, text="real", external_id="4")
    assert (await Dialog.get(id=dialog.id)).status is DialogStatus.OPEN
    assert any(isinstance(e, MessageCreated) for e in published.events)


async def test_outbound_opens_a_dialog_with_a_new_contact_and_queues_the_message(
    core: Core, clock: FrozenClock, operator: Operator, published: Recorder
) -> None:
    email = await ensure_channel("email:desk", ChannelKind.EMAIL, "E-mail", clock.now())
    service = OutboundService(core.ctx, core.dialogs)
    started = await service.start(
        channel_id=email.id,
        chat_key=new_thread_key(),
        kind=ContactKind.EMAIL,
        value="bob@example.com",
        name="bob@example.com",
        subject="Delivery",
        content=Content.plain("When?"),
        author=operator,
    )
    assert started.created
    dialog = await Dialog.get(id=started.dialog.id)
    assert (dialog.status, dialog.subject, dialog.waiting_since) == (
        DialogStatus.OPEN,
        "Delivery",
        None,
    )
    message = await Message.get(dialog_id=dialog.id)
    assert (message.kind, message.text) == (MessageKind.OUT, "When?")
    assert await OutboxItem.exists(kind="channel.send")
    assert [type(e) for e in published.events][:1] == [DialogCreated]

    client = await Client.get()
    client.banned = True
    await client.save()
    with pytest.raises(Banned):
        await service.start(
            channel_id=email.id,
            chat_key=new_thread_key(),
            kind=ContactKind.EMAIL,
            value="bob@example.com",
            name="",
            subject="Again",
            content=Content.plain("?"),
            author=operator,
        )
    assert await Dialog.all().count() == 1
