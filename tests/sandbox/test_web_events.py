"""What the sandbox's page relies on besides its own files, over plain HTTP: the emulator's
change stream (`GET /_emu/events`), a file's bytes (`GET /_emu/files/<file_unique_id>`), and
README served offline for the sandbox badge's link."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox.emulator import Emulator
from sandbox.emulator.client import EmulatorClient
from sandbox.web import add_web_routes

TOKEN = "700001:team-bot-token"
WAIT = 10.0


@pytest.fixture
async def served() -> AsyncIterator[EmulatorClient]:
    """An emulator whose server also serves the sandbox's page."""
    server = Emulator("127.0.0.1", 0)
    add_web_routes(server.app, server)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = EmulatorClient(server, session)
            yield client
            await client.aclose()
    finally:
        await server.stop()


async def next_change(stream: aiohttp.ClientResponse) -> int:
    """The version in the stream's next `change` event (keep-alive comments skipped)."""
    event = None
    while True:
        line = (await stream.content.readline()).decode()
        assert line, "the stream ended"
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "change":
            return int(json.loads(line.split(":", 1)[1])["version"])


async def caught_up(stream: aiohttp.ClientResponse, emu: EmulatorClient) -> int:
    """Events read until the stream tells the emulator's version now."""
    while (version := await next_change(stream)) < emu.server.changes.version:
        pass
    return version


async def test_events_tell_each_change_and_not_the_reads(served: EmulatorClient) -> None:
    emu = served
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with emu.session.get(emu.url("/_emu/events"), timeout=timeout) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = await next_change(stream)  # what the page has now, at once

        # Reading changes nothing: no event, the version stays.
        bot = emu.make_bot(TOKEN)
        await bot.get_me()
        assert emu.server.changes.version == first

        # A client writes: an event with a newer version.
        user = await emu.user("Ann")
        assert await next_change(stream) > first
        await emu.bot(TOKEN, username="acme_help_bot")
        await emu.send(user["id"], to_bot="acme_help_bot", text="Hello")
        seen = await caught_up(stream, emu)
        # The bot answers through the Bot API: another one.
        await bot.send_message(user["id"], "Hi Ann")
        assert emu.server.changes.version > seen
        version = await caught_up(stream, emu)
        # Starting over is a change too.
        await emu.reset()
        assert await next_change(stream) > version


async def test_stopping_the_server_ends_the_streams() -> None:
    server = Emulator("127.0.0.1", 0)
    await server.start()
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "/_emu/events") as stream,
    ):
        await next_change(stream)
        await server.stop()  # does not wait for the page to go away
        rest = await stream.content.read()
        assert b"change" not in rest


async def test_a_file_reads_back_by_its_unique_id(served: EmulatorClient) -> None:
    emu = served
    await emu.bot(TOKEN, username="acme_help_bot")
    user = await emu.user("Ann")
    data = b"%PDF-1.4 invoice"
    body: dict[str, Any] = {
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
        "content_base64": base64.b64encode(data).decode(),
    }
    await emu.send(user["id"], to_bot="acme_help_bot", document=body)
    [message] = await emu.private_messages(user["id"], "acme_help_bot")
    async with emu.session.get(emu.url(f"/_emu/files/{message['file_unique_id']}")) as r:
        assert r.status == 200
        assert r.content_type == "application/pdf"
        assert await r.read() == data
        assert "invoice.pdf" in r.headers["Content-Disposition"]
    async with emu.session.get(emu.url("/_emu/files/AQADnothing")) as r:
        assert r.status == 404


async def test_the_page_and_the_readme_section_its_badge_links_to(served: EmulatorClient) -> None:
    emu = served
    async with emu.session.get(emu.url("/")) as r:
        page = await r.text()
        assert r.status == 200
        assert 'href="/sandbox/readme#preparing-telegram"' in page
    async with emu.session.get(emu.url("/sandbox/readme")) as r:
        readme = await r.text()
        assert r.status == 200
        assert '<h2 id="preparing-telegram">Preparing Telegram</h2>' in readme
        assert "<script" not in readme
    for asset in ("app.js", "app.css", "i18n.js"):
        async with emu.session.get(emu.url(f"/sandbox/static/{asset}")) as r:
            assert r.status == 200, asset
