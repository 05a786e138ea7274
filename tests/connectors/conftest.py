"""The Telegram client channel against the emulator: a team bot (also the client bot, as in the
default setup), a client who started it, and a dialog stored in an in-memory SQLite.

The emulator plugin is registered once in tests/conftest.py (pytest refuses `pytest_plugins`
in a nested conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from aiogram import Bot
from aiogram.types import Update

from bot.storage import EXTRA_APPS
from connectors.telegram.client import TelegramClientConnector
from core.connector import ensure_channel
from core.db import close_database, open_database
from core.models import Channel, ChannelKind, Client, Dialog, Message, MessageKind
from tests.emulator.fixtures import EmulatorClient

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
        entities: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        dialog: Dialog | None = None,
    ) -> Message:
        return await Message.create(
            dialog=dialog or self.dialog,
            kind=MessageKind.OUT,
            text=text,
            entities=entities or [],
            attachments=attachments or [],
            meta=meta or {},
            created_at=NOW,
        )

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
    connector = TelegramClientConnector(channel, bot, {bot.id: bot}, group["chat_id"])
    # These tests call send() back to back: the chat's pace has tests of its own.
    connector.pace.take = lambda chat_id, n=1: 0.0  # type: ignore[method-assign]
    return Desk(
        emulator, bot, client["id"], group["chat_id"], operator["id"], channel, dialog, connector
    )
