"""Formatting survives the trip through eadesk's channel-neutral content: what Telegram counts
in UTF-16 units (an emoji is two) is stored in code points and shown at the same place again,
in the topic and at the client's, whichever bot sends it."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import build_desk

CLIENT_BOT_TOKEN = "700002:client-bot-token"
CLIENT_BOT = "acme_clients_bot"

# 🙂 takes two UTF-16 units: "Very" starts at unit 3, "docs" at 20.
TEXT = "🙂 Very urgent, see docs"
ENTITIES = [
    {"type": "bold", "offset": 3, "length": 4},
    {"type": "text_link", "offset": 20, "length": 4, "url": "https://acme.io/docs"},
]


async def client_sends(desk, **body: Any) -> dict[str, Any]:
    return await desk.emu.send(desk.client["id"], to_bot=desk.bot_username, **body)


def covered(text: str, entity: dict[str, Any]) -> str:
    """The text an entity covers, counted in UTF-16 units as Telegram counts."""
    units = text.encode("utf-16-le")
    start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
    return units[start:end].decode("utf-16-le")


def formatting(message: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    text = message.get("text") or message.get("caption") or ""
    entities = message.get("entities") or message.get("caption_entities") or []
    return [(e["type"], covered(text, e), e.get("url")) for e in entities]


async def test_a_clients_formatting_after_an_emoji_is_shown_on_the_same_words(desk):
    await client_sends(desk, text=TEXT, entities=ENTITIES)
    thread = (await desk.only_topic())["thread_id"]

    async def posted():
        return [m for m in await desk.topic_messages(thread) if "urgent" in (m.get("text") or "")]

    [post] = await desk.wait(posted)
    assert post["text"] == f"Ann Lee\n{TEXT}"
    assert formatting(post) == [
        ("bold", "Ann Lee", None),
        ("bold", "Very", None),
        ("text_link", "docs", "https://acme.io/docs"),
    ]


async def test_a_clients_edit_keeps_its_formatting_in_the_topic(desk):
    sent = await client_sends(desk, text="🙂 first version")
    thread = (await desk.only_topic())["thread_id"]
    await desk.wait(lambda: desk.topic_messages(thread))
    await desk.emu.edit(
        desk.client["id"], sent["message_id"], to_bot=desk.bot_username, text=TEXT,
        entities=ENTITIES,
    )  # fmt: skip

    async def edited():
        found = [m for m in await desk.topic_messages(thread) if "urgent" in (m.get("text") or "")]
        return found[0] if found else None

    post = await desk.wait(edited)
    assert ("bold", "Very", None) in formatting(post)
    assert ("text_link", "docs", "https://acme.io/docs") in formatting(post)


async def test_an_operators_formatting_reaches_the_client_through_another_bot(emulator):
    # A separate client bot cannot copy the team bot's message: the reply is rebuilt from the
    # stored content, its spans turned back into entities.
    await emulator.bot(CLIENT_BOT_TOKEN, username=CLIENT_BOT)
    async for desk in build_desk(emulator, TELEGRAM_CLIENT_BOT_TOKENS=CLIENT_BOT_TOKEN):
        await rebuilt_reply_keeps_formatting(desk)


async def rebuilt_reply_keeps_formatting(desk) -> None:
    emulator = desk.emu
    await emulator.send(desk.client["id"], to_bot=CLIENT_BOT, text="Hello")
    thread = (await desk.only_topic())["thread_id"]
    await desk.in_topic(thread, TEXT, entities=ENTITIES)

    async def delivered():
        got = [
            m
            for m in await emulator.private_messages(desk.client["id"], CLIENT_BOT)
            if m["from"]["is_bot"] and "urgent" in (m.get("text") or "")
        ]
        return got[0] if got else None

    reply = await desk.wait(delivered)
    assert reply["text"] == TEXT
    assert formatting(reply) == [
        ("bold", "Very", None),
        ("text_link", "docs", "https://acme.io/docs"),
    ]
    assert await emulator.calls("copyMessage") == []
