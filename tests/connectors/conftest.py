"""The Telegram client channel against the emulator: a team bot (also the client bot, as in the
default setup), a client who started it, and a dialog stored in an in-memory SQLite.

The emulator plugin is registered once in tests/conftest.py (pytest refuses `pytest_plugins`
in a nested conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from aiogram import Bot
from aiogram.types import Update

from bot.storage import EXTRA_APPS
from connectors.telegram.client import TelegramClientConnector
from core import copies
from core.channels import ConnectorRegistry, ensure_channel
from core.content import Attachment, Content, Span
from core.context import CoreContext
from core.conversation import EDIT_AT_CLIENT, SEND_TO_CLIENT
from core.db import close_database, open_database
from core.delivery import ClientDelivery, copy_ids
from core.models import Channel, ChannelKind, Client, Dialog, Message, MessageKind, OutboxItem
from core.outbox import GiveUp, RetryLater
from tests.emulator.fixtures import EmulatorClient
from tgapi.parse import source_key

TEAM_TOKEN = "111:AAA"
TEAM_BOT = "acme_help_bot"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


@pytest_asyncio.fixture
async def store() -> AsyncIterator[None]:
    await open_database("sqlite://:memory:", extra_apps=EXTRA_APPS)
    try:
        yield
    finally:
        await close_database()


async def updates(bot: Bot) -> list[Update]:
    """Pending updates, confirmed so that the next call sees only newer ones."""
    got = await bot.get_updates(timeout=0)
    if got:
        await bot.get_updates(offset=got[-1].update_id + 1, timeout=0)
    return got


@dataclass
class Desk:
    emu: EmulatorClient
    bot: Bot
    client_id: int
    team_chat_id: int
    operator_id: int
    channel: Channel
    dialog: Dialog
    connector: TelegramClientConnector

    async def client_view(self, bot_username: str = TEAM_BOT) -> list[dict[str, Any]]:
        return await self.emu.private_messages(self.client_id, bot_username)

    async def out(
        self,
        text: str = "",
        *,
        spans: Sequence[Span] = (),
        attachments: Sequence[Attachment] = (),
        posted_as: Sequence[int] = (),
        dialog: Dialog | None = None,
    ) -> Message:
        """An operator's reply; `posted_as`: the ids of the operator's posts in the team's
        topic it was written as (its copies there, seen by the team bot)."""
        message = await Message.create(
            dialog=dialog or self.dialog,
            kind=MessageKind.OUT,
            **Content(text, tuple(spans), tuple(attachments)).to_json(),
            created_at=NOW,
        )
        await copies.record(
            message,
            copies.TEAM,
            list(posted_as),
            at=NOW,
            chat=self.team_chat_id,
            via=source_key(self.bot.id),
        )
        return message

    async def deliver(
        self,
        message: Message,
        reply_to: Message | None = None,
        connector: TelegramClientConnector | None = None,
    ) -> list[str]:
        """What the core's delivery does with an operator's reply: the connector gets it as
        Outgoing (with the progress of an earlier attempt), what the client now has is
        remembered. The ids the client's side gave it; a failure as the connector raised it."""
        if reply_to is not None:
            message.reply_to = reply_to  # type: ignore[assignment]
            await message.save(update_fields=["reply_to_id"])
        item = await self._item(SEND_TO_CLIENT, message)
        await self._through_core(ClientDelivery.send, item, connector)
        return await copy_ids(await Message.get(id=message.id))

    async def mirror_edit(
        self, message: Message, connector: TelegramClientConnector | None = None
    ) -> None:
        """The core's handling of an operator's edit of `message` (saved first)."""
        await message.save(update_fields=["text", "spans"])
        item = await self._item(EDIT_AT_CLIENT, message)
        await self._through_core(ClientDelivery.edit, item, connector)

    async def _item(self, kind: str, message: Message) -> OutboxItem:
        # One outbox row per message and kind, as the conversation service queues them: a
        # retry finds the progress of the attempt before.
        for item in await OutboxItem.filter(kind=kind):
            if item.payload.get("message_id") == message.id:
                return item
        return await OutboxItem.create(
            kind=kind, payload={"message_id": message.id}, not_before=NOW, created_at=NOW
        )

    async def _through_core(
        self, handler: Any, item: OutboxItem, connector: TelegramClientConnector | None
    ) -> None:
        registry = ConnectorRegistry()
        registry.register(self.channel.id, connector or self.connector)
        try:
            await handler(ClientDelivery(CoreContext(), registry), item)
        except (GiveUp, RetryLater) as exc:
            # The outbox's verdict; the test wants the connector's own failure.
            raise (exc.__cause__ or exc) from None

    async def incoming(self, external_id: int, dialog: Dialog | None = None) -> Message:
        return await Message.create(
            dialog=dialog or self.dialog,
            kind=MessageKind.IN,
            text="question",
            external_id=str(external_id),
            created_at=NOW,
        )


async def new_dialog(channel: Channel, chat_key: str, name: str = "Ivan") -> Dialog:
    client = await Client.create(name=name, created_at=NOW)
    return await Dialog.create(
        client=client, channel=channel, chat_key=chat_key, created_at=NOW, last_message_at=NOW
    )


@pytest_asyncio.fixture
async def desk(emulator: EmulatorClient, store: None) -> Desk:
    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    client = await emulator.user("Ivan", last_name="Petrov", username="ivan", language_code="en")
    operator = await emulator.user("Olga")
    group = await emulator.group(
        "Support",
        forum=True,
        members=[{"user_id": operator["id"], "status": "member"}],
        bots=[{"token": TEAM_TOKEN, "status": "administrator", "rights": RIGHTS}],
    )
    bot = emulator.make_bot(TEAM_TOKEN)
    await emulator.send(client["id"], to_bot=TEAM_BOT, text="/start")
    await updates(bot)
    channel = await ensure_channel(f"telegram:{bot.id}", ChannelKind.TELEGRAM, "@" + TEAM_BOT, NOW)
    dialog = await new_dialog(channel, str(client["id"]))
    connector = TelegramClientConnector(bot, bots={bot.id: bot}, team_chat_id=group["chat_id"])
    # These tests call send() back to back: the chat's pace has tests of its own.
    connector.pace.take = lambda chat_id, n=1: 0.0  # type: ignore[method-assign]
    return Desk(
        emulator, bot, client["id"], group["chat_id"], operator["id"], channel, dialog, connector
    )
