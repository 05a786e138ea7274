"""Delivery and privacy: getUpdates long polling, webhooks, callbacks, inline mode, members."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramForbiddenError
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from aiohttp import web

from tests.emulator.fixtures import EmulatorClient

A, B = "111:AAA", "222:BBB"
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


async def test_privacy_group_and_private(emulator: EmulatorClient) -> None:
    u = await emulator.user("Ivan", username="ivan")
    g = await emulator.group(
        "G",
        forum=True,
        members=[{"user_id": u["id"], "status": "member"}],
        bots=[
            {"token": A, "status": "administrator", "rights": RIGHTS},
            {"token": B, "status": "administrator", "rights": RIGHTS},
        ],
    )
    a, b = emulator.make_bot(A), emulator.make_bot(B)
    await emulator.send(u["id"], chat_id=g["chat_id"], text="from user")
    await a.send_message(g["chat_id"], "from bot A")
    got_b = [x.message.text for x in await b.get_updates()]
    got_a = [x.message.text for x in await a.get_updates()]
    assert got_b == ["from user"] and got_a == ["from user"]  # never other bots', nor own
    # private chats are per (user, bot)
    with pytest.raises(
        TelegramForbiddenError, match="Forbidden: bot can't initiate conversation with a user"
    ):
        await a.send_message(u["id"], "hi")
    await emulator.send(u["id"], to_bot="bot111", text="/start")
    assert (await a.send_message(u["id"], "hello")).chat.id == u["id"]
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await b.send_message(u["id"], "hi")
    assert [m["text"] for m in await emulator.private_messages(u["id"], "bot111")] == [
        "/start",
        "hello",
    ]
    assert await emulator.private_messages(u["id"], "bot222") == []
    assert [x.message.text for x in await b.get_updates(offset=-1)] == ["from user"]
    # blocking
    await emulator.block(u["id"], "bot111")
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await a.send_message(u["id"], "hi")
    ups = await a.get_updates(allowed_updates=["message", "my_chat_member"])
    assert ups[-1].my_chat_member and ups[-1].my_chat_member.new_chat_member.status == "kicked"
    await emulator.block(u["id"], "bot111", unblock=True)
    assert await a.send_message(u["id"], "back")


async def test_polling_offset_timeout_allowed(emulator: EmulatorClient) -> None:
    u = await emulator.user("Ivan")
    g = await emulator.group(
        "G",
        forum=True,
        members=[{"user_id": u["id"], "status": "member"}],
        bots=[{"token": A, "status": "administrator", "rights": RIGHTS}],
    )
    a = emulator.make_bot(A)
    t0 = time.monotonic()
    assert await a.get_updates(timeout=1) == []
    assert time.monotonic() - t0 >= 0.9

    async def later() -> None:
        await asyncio.sleep(0.2)
        await emulator.send(u["id"], chat_id=g["chat_id"], text="wake")

    task = asyncio.create_task(later())
    t0 = time.monotonic()
    ups = await a.get_updates(timeout=5)
    await task
    assert [x.message.text for x in ups] == ["wake"] and time.monotonic() - t0 < 2
    await emulator.send(u["id"], chat_id=g["chat_id"], text="two")
    ups = await a.get_updates(offset=ups[-1].update_id + 1, limit=1)
    assert [x.message.text for x in ups] == ["two"]
    assert await a.get_updates(offset=ups[-1].update_id + 1) == []
    # chat_member and message_reaction only when asked for
    other = await emulator.user("Petr")
    await emulator.member(g["chat_id"], other["id"], "member")
    msg = await emulator.send(u["id"], chat_id=g["chat_id"], text="react me")
    await emulator.react(u["id"], msg["message_id"], ["👍"], chat_id=g["chat_id"])
    ups = await a.get_updates()
    assert not any(x.chat_member or x.message_reaction for x in ups)
    assert any(x.message and x.message.new_chat_members for x in ups)
    ups = await a.get_updates(
        offset=ups[-1].update_id + 1, allowed_updates=["message", "chat_member", "message_reaction"]
    )
    await emulator.member(g["chat_id"], other["id"], "left")
    await emulator.react(u["id"], msg["message_id"], ["🔥"], chat_id=g["chat_id"])
    ups = await a.get_updates()  # allowed_updates persist
    assert any(x.chat_member and x.chat_member.new_chat_member.status == "left" for x in ups)
    assert any(x.message and x.message.left_chat_member for x in ups)
    assert any(x.message_reaction for x in ups)


async def test_webhook_delivery_with_secret(emulator: EmulatorClient) -> None:
    received: list[tuple[str | None, dict]] = []
    fail_first = {"n": 1}

    async def hook(request: web.Request) -> web.Response:
        if fail_first["n"]:
            fail_first["n"] -= 1
            return web.Response(status=500)
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        u = await emulator.user("Ivan")
        a = emulator.make_bot(A)
        assert await a.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await a.get_updates()
        await emulator.send(u["id"], to_bot="bot111", text="hi")
        await emulator.send(u["id"], to_bot="bot111", text="again")
        await emulator.wait_for(lambda: len(received) == 2, timeout=5)
        assert [r[0] for r in received] == ["s3cret", "s3cret"]
        assert [r[1]["message"]["text"] for r in received] == ["hi", "again"]
        info = await a.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message  # the first attempt failed and was retried
        assert await a.delete_webhook()
        await emulator.send(u["id"], to_bot="bot111", text="polled")
        assert [x.message.text for x in await a.get_updates()] == ["polled"]
    finally:
        await runner.cleanup()


async def test_callbacks(emulator: EmulatorClient) -> None:
    u = await emulator.user("Ivan")
    a = emulator.make_bot(A)
    await emulator.bot(A)
    await emulator.send(u["id"], to_bot="bot111", text="/start")
    kb = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go:1")]]
    )
    m = await a.send_message(u["id"], "choose", reply_markup=kb)
    await a.get_updates()
    qid = await emulator.callback(u["id"], m.message_id, "go:1", to_bot="bot111")
    ups = await a.get_updates(offset=-1)
    cq = ups[-1].callback_query
    assert cq and cq.id == qid and cq.data == "go:1" and cq.message.message_id == m.message_id
    assert (await emulator.callback_answer(qid))["answered"] is False
    assert await a.answer_callback_query(qid, text="Done", show_alert=True)
    ans = await emulator.callback_answer(qid)
    assert ans["answered"] and ans["text"] == "Done" and ans["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await a.answer_callback_query(qid)


async def test_inline_mode(emulator: EmulatorClient) -> None:
    u = await emulator.user("Ivan")
    g = await emulator.group(
        "G",
        forum=True,
        members=[{"user_id": u["id"], "status": "member"}],
        bots=[{"token": A, "status": "administrator", "rights": RIGHTS}],
    )
    a = emulator.make_bot(A)
    qid = await emulator.inline(u["id"], "tmpl", chat_type="supergroup")
    ups = await a.get_updates()
    assert ups[-1].inline_query and ups[-1].inline_query.query == "tmpl"
    await a.answer_inline_query(
        qid,
        [
            InlineQueryResultArticle(
                id="r1",
                title="Hello",
                input_message_content=InputTextMessageContent(
                    message_text="<b>Hello</b> there", parse_mode="HTML"
                ),
            )
        ],
    )
    shown = await emulator.inline_answer(qid)
    assert shown["answered"] and shown["results"][0]["id"] == "r1"
    posted = await emulator.choose(qid, "r1", chat_id=g["chat_id"])
    assert posted["text"] == "Hello there" and posted["via_bot"]["username"] == "bot111"
    ups = await a.get_updates(offset=ups[-1].update_id + 1)
    chosen = [x.chosen_inline_result for x in ups if x.chosen_inline_result]
    msgs = [x.message for x in ups if x.message]
    assert chosen[0].result_id == "r1"
    assert msgs[0].via_bot and msgs[0].via_bot.id == 111 and msgs[0].entities[0].type == "bold"


async def test_aiogram_dispatcher_polling_end_to_end(emulator: EmulatorClient) -> None:
    from aiogram import Dispatcher
    from aiogram.types import Message

    u = await emulator.user("Ivan")
    await emulator.bot(A, username="desk_bot")
    bot = emulator.make_bot(A)
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        await emulator.send(u["id"], to_bot="desk_bot", text="ping")

        async def replied() -> bool:
            msgs = await emulator.private_messages(u["id"], "desk_bot")
            return any(m["text"] == "echo: ping" for m in msgs)

        await emulator.wait_for(replied, timeout=5)
    finally:
        await dp.stop_polling()
        await task
