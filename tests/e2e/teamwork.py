"""Helpers for the team-work tests: a desk with short debounces, and ways to look."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.conftest import Desk, build_desk


async def teamwork_desk(emulator: Any, **settings: Any) -> AsyncIterator[Desk]:
    settings.setdefault("GROUP_MESSAGES_PER_MINUTE", 600)
    async for desk in build_desk(emulator, **settings):
        timings = desk.app.teamwork.timings
        timings.card, timings.board, timings.activity = 0.3, 0.3, 0.3
        yield desk


def desk_fixture() -> Any:
    """A team-work test module's `desk` fixture: `desk = desk_fixture()`."""

    @pytest.fixture
    async def desk(emulator: Any) -> AsyncIterator[Desk]:
        async for value in teamwork_desk(emulator):
            yield value

    return desk


async def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]


def has(messages: list[dict[str, Any]], needle: str) -> bool:
    return any(needle in (m.get("text") or m.get("caption") or "") for m in messages)


async def card_of(desk: Desk, thread_id: int) -> dict[str, Any] | None:
    """The pinned card: the bot's pinned message in the topic."""
    for message in await desk.topic_messages(thread_id):
        if message.get("pinned") and message["from"]["is_bot"] and message.get("kind") == "text":
            return message
    return None


async def board_of(desk: Desk) -> dict[str, Any] | None:
    for message in await desk.emu.messages(desk.chat_id, thread_id="general"):
        if message.get("pinned") and message["from"]["is_bot"] and message.get("kind") == "text":
            return message
    return None


async def new_topic(desk: Desk, text: str = "Hello") -> int:
    await desk.client_says(text)
    topic = await desk.only_topic()
    thread = int(topic["thread_id"])
    await desk.wait(lambda: _shown(desk, thread, text))
    return thread


async def _shown(desk: Desk, thread: int, text: str) -> bool:
    return has(await desk.topic_messages(thread), text)


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}


async def said(desk: Desk, thread: int | str, needle: str) -> bool:
    return has(await desk.emu.messages(desk.chat_id, thread_id=thread), needle)


async def private_has(desk: Desk, who: dict[str, Any], needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.operator_private(who)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def client_got(desk: Desk, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.client_chat()
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def start_private(desk: Desk, who: dict[str, Any]) -> None:
    await desk.emu.send(who["id"], to_bot=desk.bot_username, text="/start")
    await desk.wait(lambda: private_has(desk, who, "/notes"))


async def press(desk: Desk, who: dict[str, Any], message: dict[str, Any], label: str) -> str:
    """Press the button whose text contains `label`; returns the callback query id."""
    data = next(v for k, v in buttons(message).items() if label in k)
    return await desk.emu.callback(
        who["id"], message["message_id"], data, chat_id=message["chat_id"]
    )


async def pressed(desk: Desk, who: dict[str, Any], message: dict[str, Any], label: str) -> Any:
    """`who` presses the button whose text contains `label` (in the group or in their private
    chat); what they were answered, once the bot answered."""
    data = next(v for k, v in buttons(message).items() if label in k)
    where = (
        {"chat_id": desk.chat_id}
        if message["chat_id"] == desk.chat_id
        else {"to_bot": desk.bot_username}
    )
    query = await desk.emu.callback(who["id"], message["message_id"], data, **where)

    async def answered() -> Any:
        answer = await desk.emu.callback_answer(query)
        return answer if answer.get("answered") else None

    return await desk.wait(answered)


async def last_bot_message(desk: Desk, thread: int | str, needle: str) -> dict[str, Any] | None:
    found = [
        m
        for m in await desk.emu.messages(desk.chat_id, thread_id=thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]
    return found[-1] if found else None
