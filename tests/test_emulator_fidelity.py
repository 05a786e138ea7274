"""Fidelity with the real Bot API: legacy Markdown (links, escapes) and negative getUpdates
offsets, checked with a real aiogram Bot against the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from tests.emulator.fixtures import EmulatorClient

TOKEN = "111:AAA"
BOT = "bot111"


async def private_chat(emu: EmulatorClient) -> tuple[Bot, int]:
    u = await emu.user("Ivan", username="ivan")
    await emu.bot(TOKEN)
    await emu.send(u["id"], to_bot=BOT, text="/start")
    return emu.make_bot(TOKEN), u["id"]


def spans(entities: list[dict] | None) -> list[tuple]:
    return [(e["type"], e["offset"], e["length"], e.get("url")) for e in entities or []]


async def test_legacy_markdown_link_url_may_hold_underscores(emulator: EmulatorClient) -> None:
    bot, user = await private_chat(emulator)
    url = "https://example.com/help_center/getting_started?a=b_c*d"
    m = await bot.send_message(user, f"Read [the guide]({url}) _now_", parse_mode="Markdown")
    assert m.text == "Read the guide now"
    assert m.entities and [(e.type, e.offset, e.length, e.url) for e in m.entities] == [
        ("text_link", 5, 9, url),
        ("italic", 15, 3, None),
    ]
    # what Ivan sees in his chat with the bot
    shown = (await emulator.private_messages(user, BOT))[-1]
    assert shown["text"] == "Read the guide now"
    assert spans(shown["entities"]) == [("text_link", 5, 9, url), ("italic", 15, 3, None)]
    # [url] alone links to itself; a mention by id; the same rules in a caption
    m = await bot.send_message(
        user, "[https://e.x/a_b] [Ivan](tg://user?id=42)", parse_mode="Markdown"
    )
    assert m.text == "https://e.x/a_b Ivan"
    assert m.entities and [(e.type, e.offset, e.length) for e in m.entities] == [
        ("text_link", 0, 15),
        ("text_mention", 16, 4),
    ]
    assert m.entities[0].url == "https://e.x/a_b"
    assert m.entities[1].user and m.entities[1].user.id == 42
    doc = await bot.send_document(
        user,
        BufferedInputFile(b"x", filename="a.txt"),
        caption="see [my_file](https://e.x/my_file.txt)",
        parse_mode="Markdown",
    )
    assert doc.caption == "see my_file"
    assert doc.caption_entities and doc.caption_entities[0].url == "https://e.x/my_file.txt"


async def test_legacy_markdown_backslash_escapes(emulator: EmulatorClient) -> None:
    bot, user = await private_chat(emulator)
    m = await bot.send_message(
        user,
        r"snake\_case, 2\*2=4, \`tick\`, \[not a link] and C:\temp",
        parse_mode="Markdown",
    )
    assert m.text == r"snake_case, 2*2=4, `tick`, [not a link] and C:\temp"
    assert not m.entities
    shown = (await emulator.private_messages(user, BOT))[-1]
    assert shown["text"] == r"snake_case, 2*2=4, `tick`, [not a link] and C:\temp"
    assert not shown["entities"]
    # Telegram's own examples: no escaping inside an entity, close it and open it again
    m = await bot.send_message(user, r"_snake_\__case_ *2*\**2=4*", parse_mode="Markdown")
    assert m.text == "snake_case 2*2=4"
    assert m.entities and [(e.type, e.offset, e.length) for e in m.entities] == [
        ("italic", 0, 5),
        ("italic", 6, 4),
        ("bold", 11, 1),
        ("bold", 13, 3),
    ]
    # an unescaped marker, or an escape inside an entity, is still refused as Telegram does
    with pytest.raises(
        TelegramBadRequest,
        match="can't parse entities: Can't find end of the entity starting at byte offset 5",
    ):
        await bot.send_message(user, "snake_case", parse_mode="Markdown")
    with pytest.raises(TelegramBadRequest, match="starting at byte offset 5"):
        await bot.send_message(user, r"*2\*2*", parse_mode="Markdown")
    # a pre block with its language
    m = await bot.send_message(user, "```python\nprint(1)```", parse_mode="Markdown")
    assert m.text == "print(1)"
    assert m.entities and (m.entities[0].type, m.entities[0].language) == ("pre", "python")


async def test_get_updates_negative_offset_forgets_older(emulator: EmulatorClient) -> None:
    u = await emulator.user("Ivan")
    bot = emulator.make_bot(TOKEN)
    await emulator.bot(TOKEN)
    for text in ("one", "two", "three", "four", "five"):
        await emulator.send(u["id"], to_bot=BOT, text=text)

    async def texts(**kw: Any) -> list[str | None]:
        return [x.message.text for x in await bot.get_updates(**kw) if x.message]

    assert await texts(offset=-2) == ["four", "five"]
    # the three older ones are gone for good; the last two stay until confirmed
    assert await texts() == ["four", "five"]
    assert (await bot.get_webhook_info()).pending_update_count == 2
    # more than the queue holds: everything that is left
    assert await texts(offset=-100) == ["four", "five"]
    assert await texts(offset=-1) == ["five"]
    assert await texts() == ["five"]
    # a long poll with a negative offset gets what arrives later, and nothing older
    [last] = await bot.get_updates()
    await bot.get_updates(offset=last.update_id + 1)  # confirm everything
    assert await texts() == []

    async def later() -> None:
        await asyncio.sleep(0.2)
        await emulator.send(u["id"], to_bot=BOT, text="six")

    task = asyncio.create_task(later())
    assert await texts(offset=-1, timeout=5) == ["six"]
    await task
