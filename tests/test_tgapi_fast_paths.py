"""The Telegram layer's fast paths do what the slow ones did: a plain filter is called in the
event loop's own thread (tgapi/dispatch.py), a call without files goes as one JSON body and a
file upload still as a form (tgapi/session.py), and the poller stores updates as Telegram
sent them (tgapi/polling.py `RawUpdates`)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BufferedInputFile, Message
from aiohttp import web

from core.clock import FrozenClock
from core.models import InboxItem
from tgapi.polling import DurablePoller
from tgapi.session import JsonSession

TOKEN = "880002:fast-paths"
BOT = "fast_paths_bot"


async def test_a_plain_filter_runs_in_the_event_loops_thread(
    emulator: Any, db: str, clock: FrozenClock
) -> None:
    await emulator.bot(TOKEN, username=BOT)
    ann = await emulator.user("Ann")
    threads: list[int] = []
    seen: list[str] = []

    def plain(message: Message) -> bool:  # not async: aiogram would run it in a thread
        threads.append(threading.get_ident())
        return True

    router = Router()

    @router.message(plain, F.text)
    async def handle(message: Message) -> None:
        seen.append(message.text or "")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    poller = DurablePoller(emulator.make_bot(TOKEN), dispatcher, clock, timeout=1)
    poller.start()
    try:
        await emulator.send(ann["id"], to_bot=BOT, text="hello")
        await emulator.wait_for(lambda: seen, timeout=10)
    finally:
        await poller.stop()
    assert seen == ["hello"]
    assert threads == [threading.get_ident()]
    # Stored as Telegram sent it, and read from the store as aiogram's Update.
    stored = await InboxItem.get(source=f"telegram:{TOKEN.split(':')[0]}")
    assert stored.payload["message"]["text"] == "hello"
    assert stored.payload["message"]["chat"]["id"] == ann["id"]


class FakeApi:
    """A Bot API that answers every call ok and keeps how each came."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            form = await request.post()
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        self.calls.append((method, request.content_type, params))
        result = {
            "message_id": 5,
            "date": 1,
            "chat": {"id": 42, "type": "private", "first_name": "A"},
        }
        return web.json_response({"ok": True, "result": result})


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_call_goes_as_json_and_an_upload_as_a_form(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    bot = Bot(TOKEN, session=JsonSession(api=TelegramAPIServer.from_base(url)))
    try:
        sent = await bot.send_message(
            42,
            "hi",
            entities=[{"type": "bold", "offset": 0, "length": 2}],  # type: ignore[list-item]
            disable_notification=False,
        )
        await bot.send_document(42, BufferedInputFile(b"bytes", filename="a.txt"), caption="c")
    finally:
        await bot.session.close()
    assert sent.message_id == 5
    (method, kind, params), (upload, upload_kind, upload_params) = fake.calls
    assert (method, kind) == ("sendMessage", "application/json")
    # Nested values as JSON objects, a false flag kept, nothing unset sent.
    assert params["chat_id"] == 42 and params["text"] == "hi"
    assert params["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert params["disable_notification"] is False
    assert "reply_markup" not in params and None not in params.values()
    assert (upload, upload_kind) == ("sendDocument", "multipart/form-data")
    assert upload_params["caption"] == "c"
    assert json.loads(upload_params["chat_id"]) == 42
