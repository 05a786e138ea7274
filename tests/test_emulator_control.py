"""Rate limits, fault injection, the call log and the rest of the control API."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import aiohttp
import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter, TelegramServerError

from tests.emulator import Emulator
from tests.emulator.fixtures import ControlError, EmulatorClient

A, B = "111:AAA", "222:BBB"
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


async def group(emu: EmulatorClient, *tokens: str) -> tuple[int, dict]:
    u = await emu.user("Ivan")
    g = await emu.group(
        "G",
        forum=True,
        members=[{"user_id": u["id"], "status": "creator"}],
        bots=[{"token": tk, "status": "administrator", "rights": RIGHTS} for tk in tokens or (A,)],
    )
    return g["chat_id"], u


async def test_done_when_21st_group_message_gets_429(emulator: EmulatorClient) -> None:
    chat, _ = await group(emulator, A, B)
    await emulator.limits(True)
    bot = emulator.make_bot(A)
    for i in range(20):
        await bot.send_message(chat, f"m{i}")
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(chat, "m21")
    assert 1 < err.value.retry_after <= 60
    raw = (await emulator.calls("sendMessage"))[-1]
    assert raw["error_code"] == 429
    assert raw["description"] == f"Too Many Requests: retry after {err.value.retry_after}"
    # another bot has its own budget in the same group
    assert await emulator.make_bot(B).send_message(chat, "relay")
    # the window slides: after the reported wait a slot is free again
    await emulator.advance(err.value.retry_after)
    assert await bot.send_message(chat, "after wait")


async def test_retry_after_is_what_the_window_needs(emulator: EmulatorClient) -> None:
    chat, _ = await group(emulator)
    await emulator.limits(True, per_group_per_minute=20)
    bot = emulator.make_bot(A)
    topic = await bot.create_forum_topic(chat, "T")  # topic changes count
    for _ in range(9):
        await bot.send_message(chat, "x", message_thread_id=topic.message_thread_id)
    await emulator.advance(30)
    m = await bot.send_message(chat, "y")
    for _ in range(8):
        await bot.edit_message_text(f"y{_}", chat_id=chat, message_id=m.message_id)  # edits count
    await bot.close_forum_topic(chat, topic.message_thread_id)
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.reopen_forum_topic(chat, topic.message_thread_id)
    assert 29 <= err.value.retry_after <= 31
    # deletes, pins and reads are not counted
    assert await bot.delete_message(chat, m.message_id)
    assert await bot.get_chat(chat)
    await emulator.advance(err.value.retry_after)
    assert await bot.reopen_forum_topic(chat, topic.message_thread_id)


async def test_private_and_global_limits(emulator: EmulatorClient) -> None:
    await emulator.bot(A)
    users = [await emulator.user(f"U{i}") for i in range(40)]
    for u in users:
        await emulator.send(u["id"], to_bot="bot111", text="/start")
    await emulator.limits(True)
    bot = emulator.make_bot(A)
    uid = users[0]["id"]
    for _ in range(3):  # a small burst is fine
        await bot.send_message(uid, "x")
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(uid, "x")
    assert err.value.retry_after >= 1
    await emulator.advance(10)
    sent = 0
    with pytest.raises(TelegramRetryAfter):
        for u in users:
            await bot.send_message(u["id"], "broadcast")
            sent += 1
    assert sent == 30  # 30 per second for the whole bot
    await emulator.limits(False)
    assert await bot.send_message(uid, "limits off")


async def test_faults(emulator: EmulatorClient) -> None:
    chat, _ = await group(emulator, A, B)
    bot = emulator.make_bot(A)
    await emulator.fault(
        "sendmessage", 400, "Bad Request: message thread not found", times=2, chat_id=chat
    )
    await emulator.fault("getChat", 429, "Too Many Requests: retry after 7", retry_after=7)
    await emulator.fault("getMe", 502, "Bad Gateway")
    for _ in range(2):
        with pytest.raises(TelegramBadRequest, match="message thread not found"):
            await bot.send_message(chat, "x")
    assert await bot.send_message(chat, "third works")
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.get_chat(chat)
    assert err.value.retry_after == 7
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert (await bot.get_me()).id == 111
    faults = await emulator.get("/_emu/faults")
    assert faults == []


async def test_calls_log_and_reads(emulator: EmulatorClient) -> None:
    chat, user = await group(emulator)
    bot = emulator.make_bot(A)
    t0 = time.time()
    await bot.send_message(chat, "hi")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(chat, "")
    calls = await emulator.calls("sendMessage", since=t0)
    assert [c["ok"] for c in calls] == [True, False]
    assert calls[0]["token"] == A and calls[0]["params"]["text"] == "hi"
    assert calls[1]["error_code"] == 400 and calls[1]["description"]
    assert set(calls[0]) >= {"t", "token", "method", "params", "ok", "error_code", "description"}
    assert await emulator.calls("sendMessage", since=time.time() + 10) == []
    full = await bot.get_chat(chat)
    assert full.is_forum and full.id == chat
    me = await bot.get_chat_member(chat, 111)
    assert me.status == "administrator" and me.can_manage_topics and me.can_pin_messages
    owner = await bot.get_chat_member(chat, user["id"])
    assert owner.status == "creator"
    stranger = await emulator.user("Stranger")
    assert (await bot.get_chat_member(chat, stranger["id"])).status == "left"
    admins = await bot.get_chat_administrators(chat)
    assert {a.user.id for a in admins} == {111, user["id"]}
    from aiogram.types import BotCommand

    assert await bot.set_my_commands([BotCommand(command="list", description="open dialogs")])
    assert [c.command for c in await bot.get_my_commands()] == ["list"]


async def test_control_setup_calls(emulator: EmulatorClient) -> None:
    u = await emulator.user("Ann", last_name="Lee", username="ann", language_code="ru", id=777)
    assert u == {
        "id": 777,
        "is_bot": False,
        "first_name": "Ann",
        "last_name": "Lee",
        "username": "ann",
        "language_code": "ru",
    }
    b = await emulator.bot("555:ZZZ", username="eadesk_bot", first_name="Desk")
    assert b["username"] == "eadesk_bot" and b["id"] == 555 and b["is_bot"]
    g = await emulator.group(
        "Team",
        forum=True,
        bots=[{"token": "555:ZZZ", "status": "administrator", "rights": RIGHTS}],
        members=[{"user_id": 777, "status": "administrator"}],
    )
    assert str(g["chat_id"]).startswith("-100")
    assert await emulator.topics(g["chat_id"]) == []
    with pytest.raises(ControlError) as err:
        await emulator.send(12345, chat_id=g["chat_id"], text="x")
    assert err.value.status == 400
    await emulator.reset()
    with pytest.raises(ControlError):
        await emulator.topics(g["chat_id"])
    assert await emulator.calls() == []


async def test_emulator_class_without_pytest_fixture() -> None:
    async with (
        Emulator("127.0.0.1", 0, limits=True) as emu,
        aiohttp.ClientSession() as s,
        s.get(emu.base_url + "/_emu/limits") as r,
    ):
        assert (await r.json())["enabled"] is True


async def test_module_entry_point() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--limits",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert str(port) in line.decode()
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{port}/_emu/limits") as r:
                assert (await r.json())["enabled"] is True
            async with s.get(f"http://127.0.0.1:{port}/bot1:x/getMe") as r:
                assert (await r.json())["result"]["username"] == "bot1"
    finally:
        proc.terminate()
        await proc.wait()
