"""The client side of the bot: /start greets, everything else a client sends is ingested."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from connectors.telegram.router import client_router
from core.clock import FrozenClock
from core.content import Content, Span, SpanKind
from core.context import CoreContext
from core.ingest import Inbound
from core.models import Dialog, Message
from core.service import Core
from tests.connectors.conftest import TEAM_BOT, Desk, updates


class Recorder:
    def __init__(self) -> None:
        self.inbound: list[Inbound] = []
        self.edits: list[tuple[Any, ...]] = []

    async def ingest(self, inbound: Inbound) -> Any:
        self.inbound.append(inbound)

    async def on_edit(self, *args: Any) -> None:
        self.edits.append(args)


def greeting(language: str | None) -> str:
    return f"<b>Hello</b> ({language})"


async def deliver(dp: Dispatcher, bot: Bot) -> None:
    for update in await updates(bot):
        await dp.feed_update(bot, update)


def dispatcher(desk: Desk, recorder: Recorder) -> Dispatcher:
    dp = Dispatcher()
    dp.include_router(
        client_router(
            channel_id=desk.channel.id,
            bot_id=desk.bot.id,
            ingest=recorder.ingest,  # type: ignore[arg-type]
            on_edit=recorder.on_edit,
            greeting=greeting,
        )
    )
    return dp


async def test_start_greets_in_plain_text_and_makes_no_dialog(desk: Desk) -> None:
    recorder = Recorder()
    dp = dispatcher(desk, recorder)
    # a process-wide default parse mode must not turn the greeting into markup
    session = AiohttpSession(api=TelegramAPIServer.from_base(desk.emu.base_url))
    bot = Bot(desk.bot.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    try:
        for text in ("/start", "/start promo42", f"/start@{TEAM_BOT}"):
            await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text=text)
            await deliver(dp, bot)
            assert (await desk.client_view())[-1]["text"] == "<b>Hello</b> (en)"
    finally:
        await session.close()
    assert recorder.inbound == []


async def test_everything_else_is_ingested_commands_included(desk: Desk) -> None:
    recorder = Recorder()
    dp = dispatcher(desk, recorder)
    await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text="/help me")
    await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text="/started yesterday")
    await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, photo={}, caption="look")
    await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, media_group=[{"photo": {}}, {"photo": {}}])
    await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, location={"latitude": 1, "longitude": 2})
    await desk.emu.send(
        desk.client_id, to_bot=TEAM_BOT, contact={"phone_number": "+1", "first_name": "A"}
    )
    await deliver(dp, desk.bot)
    got = recorder.inbound
    assert [i.content.text for i in got[:3]] == ["/help me", "/started yesterday", "look"]
    assert got[3].album_key and got[3].album_key == got[4].album_key
    assert [i.content.attachments[0].kind for i in got[2:]] == [
        "photo", "photo", "photo", "location", "contact"
    ]  # fmt: skip
    assert all(i.channel_id == desk.channel.id and i.chat_key == str(desk.client_id) for i in got)
    # nothing was answered in the chat: commands are the operators' business, not the bot's
    assert [v["from"]["is_bot"] for v in await desk.client_view()].count(True) == 0


async def test_group_messages_are_not_the_client_routers(desk: Desk) -> None:
    recorder = Recorder()
    dp = dispatcher(desk, recorder)
    await desk.emu.send(desk.operator_id, chat_id=desk.team_chat_id, text="internal talk")
    await desk.emu.send(desk.operator_id, chat_id=desk.team_chat_id, text="/start")
    await deliver(dp, desk.bot)
    assert recorder.inbound == []
    assert all(
        v["text"] != "<b>Hello</b> (None)" for v in await desk.emu.messages(desk.team_chat_id)
    )


async def test_client_edits_are_reported(desk: Desk) -> None:
    recorder = Recorder()
    dp = dispatcher(desk, recorder)
    sent = await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text="helo")
    await deliver(dp, desk.bot)
    await desk.emu.edit(desk.client_id, sent["message_id"], to_bot=TEAM_BOT, text="<b>hello</b>",
                        parse_mode="HTML")  # fmt: skip
    await deliver(dp, desk.bot)
    [(edited,)] = recorder.edits
    assert (edited.channel_id, edited.chat_key, edited.external_id) == (
        desk.channel.id,
        str(desk.client_id),
        str(sent["message_id"]),
    )
    assert edited.content == Content("hello", (Span(SpanKind.BOLD, 0, 5),))


async def test_end_to_end_with_the_core(desk: Desk) -> None:
    core = Core(CoreContext(clock=FrozenClock()))
    dp = Dispatcher()
    dp.include_router(
        client_router(
            channel_id=desk.channel.id,
            bot_id=desk.bot.id,
            ingest=core.ingest,
            on_edit=core.ingest.edited,
            greeting=greeting,
        )
    )
    stranger = await desk.emu.user("Maria", username="maria")
    await desk.emu.send(stranger["id"], to_bot=TEAM_BOT, text="/start")
    await deliver(dp, desk.bot)
    assert not await Dialog.exists(chat_key=str(stranger["id"]))
    first = await desk.emu.send(stranger["id"], to_bot=TEAM_BOT, text="my order is late")
    await deliver(dp, desk.bot)
    dialog = await Dialog.get(channel_id=desk.channel.id, chat_key=str(stranger["id"]))
    await desk.emu.edit(stranger["id"], first["message_id"], to_bot=TEAM_BOT, text="order #5 late")
    await deliver(dp, desk.bot)
    [message] = await Message.filter(dialog=dialog)
    assert message.text == "order #5 late" and message.external_id == str(first["message_id"])
    assert message.sender_name == "Maria"
