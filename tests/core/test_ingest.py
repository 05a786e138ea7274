"""Ingest: idempotent per (channel, chat, external id); one client per identity."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.channels import ensure_channel
from core.clock import FrozenClock
from core.content import Content
from core.events import DialogCreated, EpisodeStarted, MessageCreated
from core.ingest import Inbound, Sender
from core.models import (
    Channel,
    ChannelKind,
    Client,
    Contact,
    ContactKind,
    Dialog,
    Message,
    MessageKind,
)
from core.service import Core
from tests.core.helpers import Recorder, inbound, write

pytestmark = pytest.mark.usefixtures("db")

ANNA = Sender(ContactKind.TELEGRAM, "42", "Anna", display="@anna")


async def test_first_message_creates_client_contact_dialog_and_message(
    core: Core, clock: FrozenClock, telegram: Channel, published: Recorder
) -> None:
    result = await write(core, telegram, sender=ANNA, text="Hello!", external_id="1")

    assert result.created and not result.duplicate
    client = await Client.get()
    assert client.name == "Anna" and client.created_at == clock.now()
    contact = await Contact.get()
    assert (contact.kind, contact.value, contact.display) == (ContactKind.TELEGRAM, "42", "@anna")
    assert contact.client_id == client.id  # type: ignore[attr-defined]
    dialog = await Dialog.get()
    assert dialog.client_id == client.id  # type: ignore[attr-defined]
    assert (dialog.chat_key, dialog.waiting_since, dialog.last_message_at) == (
        "chat-1",
        clock.now(),
        clock.now(),
    )
    message = await Message.get()
    assert (message.kind, message.text, message.external_id) == (MessageKind.IN, "Hello!", "1")
    assert message.sender_contact_id == contact.id  # type: ignore[attr-defined]
    assert [type(e) for e in published.events] == [DialogCreated, EpisodeStarted, MessageCreated]
    assert published.events[-1].message_id == message.id  # type: ignore[attr-defined]


async def test_duplicate_ingest_stores_one_message(
    core: Core, clock: FrozenClock, telegram: Channel, published: Recorder
) -> None:
    first = await write(core, telegram, external_id="7", text="once")
    published.clear()
    clock.advance(timedelta(minutes=1))

    again = await write(core, telegram, external_id="7", text="once")

    assert again.duplicate and not again.created
    assert again.message.id == first.message.id
    assert await Message.all().count() == 1
    assert published.events == []
    # The dialog did not move: a redelivered update is not a new message.
    assert (await Dialog.get()).last_message_at == clock.now() - timedelta(minutes=1)


async def test_the_same_external_id_in_another_chat_is_another_message(
    core: Core, telegram: Channel
) -> None:
    await write(core, telegram, "chat-1", external_id="1")
    await write(core, telegram, "chat-2", external_id="1")
    assert await Message.all().count() == 2
    assert await Dialog.all().count() == 2


async def test_concurrent_duplicate_ingest_yields_one_message(
    core: Core, telegram: Channel, published: Recorder
) -> None:
    same = inbound(telegram, external_id="dup", sender=ANNA)
    results = await asyncio.gather(*(core.ingest(same) for _ in range(5)))

    assert await Message.all().count() == 1
    assert await Dialog.all().count() == 1
    assert await Client.all().count() == 1 and await Contact.all().count() == 1
    assert sum(not r.duplicate for r in results) == 1
    assert sum(r.created for r in results) == 1
    assert {r.message.id for r in results} == {(await Message.get()).id}
    assert len(published.of(DialogCreated)) == 1
    assert len(published.of(MessageCreated)) == 1


async def test_concurrent_first_messages_of_one_client_share_the_dialog(
    core: Core, telegram: Channel
) -> None:
    messages = [inbound(telegram, external_id=f"burst-{i}", sender=ANNA) for i in range(4)]
    results = await asyncio.gather(*(core.ingest(m) for m in messages))
    assert await Dialog.all().count() == 1
    assert await Client.all().count() == 1
    assert await Message.all().count() == 4
    assert sum(r.created for r in results) == 1


async def test_one_client_per_identity_and_a_dialog_per_channel(
    core: Core, clock: FrozenClock, telegram: Channel
) -> None:
    business = await ensure_channel(
        "telegram_business:acme", ChannelKind.TELEGRAM_BUSINESS, "Acme", clock.now()
    )
    in_bot = await write(core, telegram, "42", sender=ANNA)
    again = await write(core, telegram, "42", sender=ANNA)
    in_business = await write(core, business, "42", sender=ANNA)

    assert await Client.all().count() == 1
    assert await Contact.all().count() == 1
    assert in_bot.dialog.id == again.dialog.id
    assert in_business.created and in_business.dialog.id != in_bot.dialog.id
    dialogs = await Dialog.all().order_by("id")
    assert [d.channel_id for d in dialogs] == [telegram.id, business.id]  # type: ignore[attr-defined]
    assert {d.client_id for d in dialogs} == {(await Client.get()).id}  # type: ignore[attr-defined]

    # The same value on another contact kind is another person.
    await write(core, telegram, "43", sender=Sender(ContactKind.PHONE, "42", "Boris"))
    assert await Client.all().count() == 2
    assert await Contact.all().count() == 2


async def test_contact_display_follows_the_channel(core: Core, telegram: Channel) -> None:
    await write(core, telegram, sender=ANNA)
    await write(core, telegram, sender=Sender(ContactKind.TELEGRAM, "42", "Anna", "@anna_new"))
    contact = await Contact.get()
    assert contact.display == "@anna_new"
    # The client's name is the operators' to edit: a channel does not overwrite it.
    await write(core, telegram, sender=Sender(ContactKind.TELEGRAM, "42", "Someone else"))
    assert (await Client.get()).name == "Anna"


async def test_waiting_since_keeps_the_oldest_unanswered_message(
    core: Core, clock: FrozenClock, telegram: Channel
) -> None:
    first_at = clock.now()
    await write(core, telegram)
    clock.advance(timedelta(minutes=10))
    await write(core, telegram)
    dialog = await Dialog.get()
    assert dialog.waiting_since == first_at
    assert dialog.last_message_at == clock.now()


async def test_reply_to_links_the_client_message(core: Core, telegram: Channel) -> None:
    first = await write(core, telegram, external_id="10")
    second = await core.ingest(
        Inbound(
            channel_id=telegram.id,
            chat_key="chat-1",
            external_id="11",
            sender=ANNA,
            content=Content("see above"),
            reply_to_external_id="10",
        )
    )
    stored = await Message.get(id=second.message.id)
    assert stored.reply_to_id == first.message.id  # type: ignore[attr-defined]
