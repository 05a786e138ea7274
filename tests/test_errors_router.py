"""The front end's errors router under the durable poller: a failed update is logged once,
with what it was; a passing trouble is tried again, a refusal by Telegram is not."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.exceptions import TelegramBadRequest, TelegramServerError
from aiogram.methods import SendMessage
from aiogram.types import Message

from core.clock import FrozenClock
from core.models import InboxItem
from tgapi.failures import errors_router
from tgapi.polling import DurablePoller

TOKEN = "880002:errors-test"
BOT = "errors_test_bot"
METHOD = SendMessage(chat_id=1, text="x")


class Chat:
    """Ann's chat with a bot whose handler raises, for a text, what `fails` holds for it
    (one exception an attempt), and notes every text it was given."""

    def __init__(self, emulator: Any, ann: dict[str, Any]) -> None:
        self.emu = emulator
        self.ann = ann
        self.router = Router()
        self.tries: list[str] = []
        self.fails: dict[str, list[BaseException]] = {}

        @self.router.message()
        async def handle(message: Message) -> None:
            text = message.text or ""
            self.tries.append(text)
            if self.fails.get(text):
                raise self.fails[text].pop(0)

    async def says(self, text: str) -> None:
        await self.emu.send(self.ann["id"], to_bot=BOT, text=text)


@pytest.fixture
async def chat(emulator: Any, db: str, clock: FrozenClock) -> AsyncIterator[Chat]:
    await emulator.bot(TOKEN, username=BOT)
    chat = Chat(emulator, await emulator.user("Ann"))
    dispatcher = Dispatcher()
    dispatcher.include_routers(errors_router(), chat.router)
    poller = DurablePoller(emulator.make_bot(TOKEN), dispatcher, clock, timeout=1)
    poller.start()
    try:
        yield chat
    finally:
        await poller.stop()


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every log record about a failed update, whoever wrote it."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name in ("tgapi.failures", "tgapi.polling")
    ]


async def test_a_passing_trouble_is_logged_once_with_the_update_and_tried_again(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    chat.fails["/list open"] = [TelegramServerError(METHOD, "Internal Server Error")]
    await chat.says("/list open")
    await chat.emu.wait_for(lambda: len(chat.tries) == 2, timeout=15)
    item = await chat.emu.wait_for(
        lambda: InboxItem.filter(processed_at__not_isnull=True).first(), timeout=10
    )
    assert item.attempts == 2 and item.error == ""
    logged = failures(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    line = logged[0].getMessage()
    assert logged[0].name == "tgapi.failures" and logged[0].exc_info is not None
    assert f"message from {chat.ann['id']} in chat {chat.ann['id']}" in line, line
    assert "'/list open'" in line and "Internal Server Error" in line, line


async def test_a_refusal_by_telegram_is_logged_once_and_not_tried_again(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = TelegramBadRequest(METHOD, "Bad Request: message is too long")
    chat.fails["refused"] = [refusal, refusal, refusal]
    await chat.says("refused")
    await chat.says("next")
    await chat.emu.wait_for(lambda: "next" in chat.tries, timeout=15)
    item = await InboxItem.filter(processed_at__not_isnull=True).order_by("id").first()
    assert item is not None and item.attempts == 1
    assert chat.tries == ["refused", "next"]
    logged = failures(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].levelno == logging.WARNING and "'refused'" in logged[0].getMessage()
