"""Emulator extension: faults that are network trouble, not an answer (delay, drop)."""

from __future__ import annotations

import time

import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError, TelegramServerError

from tests.emulator.fixtures import EmulatorClient

TOKEN = "111:AAA"


async def chat_with(emu: EmulatorClient) -> int:
    user = await emu.user("Ivan")
    await emu.bot(TOKEN, username="b111")
    await emu.send(user["id"], to_bot="b111", text="/start")
    return int(user["id"])


async def test_a_dropped_connection_is_a_network_error_and_nothing_is_sent(
    emulator: EmulatorClient,
) -> None:
    user = await chat_with(emulator)
    bot = emulator.make_bot(TOKEN)
    await emulator.fault("sendMessage", chat_id=user, drop=True)
    with pytest.raises(TelegramNetworkError, match="Disconnected"):
        await bot.send_message(user, "lost")
    assert [m["text"] for m in await emulator.private_messages(user, "b111")] == ["/start"]
    (call,) = await emulator.calls("sendMessage")
    assert call["ok"] is False and call["dropped"] is True and call["error_code"] is None
    # The fault was used up: the next call goes through.
    await bot.send_message(user, "kept")
    texts = [m["text"] for m in await emulator.private_messages(user, "b111")]
    assert texts == ["/start", "kept"]


async def test_a_slow_answer_times_a_short_client_out_and_nothing_is_sent(
    emulator: EmulatorClient,
) -> None:
    user = await chat_with(emulator)
    bot = emulator.make_bot(TOKEN)
    bot.session = AiohttpSession(api=bot.session.api, timeout=0.3)
    try:
        await emulator.fault("sendMessage", 502, "Bad Gateway", chat_id=user, delay=5)
        started = time.monotonic()
        with pytest.raises(TelegramNetworkError, match="timeout"):
            await bot.send_message(user, "late")
        assert time.monotonic() - started < 2
        assert [m["text"] for m in await emulator.private_messages(user, "b111")] == ["/start"]
        # A patient client gets the fault's answer after the delay.
        await emulator.fault("sendMessage", 502, "Bad Gateway", chat_id=user, delay=0.2)
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(user, "late", request_timeout=5)
    finally:
        await bot.session.close()


async def test_a_proxy_page_instead_of_json_is_answered_as_is(emulator: EmulatorClient) -> None:
    user = await chat_with(emulator)
    bot = emulator.make_bot(TOKEN)
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    await emulator.fault("sendMessage", 502, "Bad Gateway", chat_id=user, raw_body=page)
    with pytest.raises(ClientDecodeError):
        await bot.send_message(user, "lost")
    (call,) = await emulator.calls("sendMessage")
    assert (call["ok"], call["error_code"]) == (False, 502)
    async with emulator.session.post(
        emulator.url("/_emu/faults"),
        json={
            "method": "sendMessage",
            "error_code": 502,
            "raw_body": page,
        },
    ) as resp:
        assert resp.status == 200
    async with emulator.session.post(
        emulator.url(f"/bot{TOKEN}/sendMessage"), json={"chat_id": user, "text": "x"}
    ) as resp:
        assert resp.status == 502 and resp.content_type == "text/html"
        assert await resp.text() == page
    assert [m["text"] for m in await emulator.private_messages(user, "b111")] == ["/start"]
