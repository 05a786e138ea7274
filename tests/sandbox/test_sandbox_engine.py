"""The sandbox's engine driven as a script would drive it: through its one HTTP port —
`/_emu/sandbox` to find the way, the emulator's control API to act as people, and
`/_emu/sandbox/reset` to start over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.models import Dialog

TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def started(
    seed: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, language: str = "en"
) -> AsyncIterator[Any]:
    """The sandbox as `python -m bot sandbox` starts it, on a free port, in `tmp_path`."""
    from sandbox.runner import Sandbox

    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "TEAM_CHAT_ID", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HTTP_PORT", "0")
    monkeypatch.setenv("LANGUAGE", language)
    sandbox = Sandbox(seed, env_file=None)
    try:
        await sandbox.listen()
        await sandbox.begin()
        yield sandbox
    finally:
        await sandbox.close()


class Script:
    """HTTP calls to the sandbox's port, nothing else."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base.rstrip("/")

    async def get(self, path: str) -> Any:
        async with self.session.get(self.base + path) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: Any = None) -> Any:
        async with self.session.post(self.base + path, json=body or {}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def topics(self, chat_id: int) -> list[dict[str, Any]]:
        return [t for t in await self.get(f"/_emu/chats/{chat_id}/topics") if not t["deleted"]]


async def until(predicate: Callable[[], Awaitable[Any]]) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        value = await predicate()
        if value:
            return value
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def dialogs() -> int:
    return await Dialog.all().count()


@pytest.fixture
async def script() -> AsyncIterator[Callable[[Any], Script]]:
    async with aiohttp.ClientSession() as session:
        yield lambda sandbox: Script(session, sandbox.url)


async def test_a_script_finds_its_way_and_a_client_opens_a_topic(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: Callable[[Any], Script]
) -> None:
    async with started("empty", monkeypatch, tmp_path) as sandbox:
        http = script(sandbox)
        info = await http.get("/_emu/sandbox")
        assert isinstance(info["team_chat_id"], int) and str(info["team_chat_id"]).startswith(
            "-100"
        )
        assert isinstance(info["bot_username"], str) and info["bot_username"]
        assert len(info["operators"]) == 2
        for operator in info["operators"]:
            assert isinstance(operator["id"], int) and operator["name"]
        assert info["clients"], "clients to write as"
        chat = info["team_chat_id"]
        assert await http.topics(chat) == []  # the empty seed

        client = info["clients"][0]
        await http.post(
            "/_emu/messages",
            {"from": client["id"], "to_bot": info["bot_username"], "text": "Where is my order?"},
        )

        async def posted() -> bool:
            for topic in await http.topics(chat):
                if client["name"] in topic["name"]:
                    path = f"/_emu/chats/{chat}/messages?thread_id={topic['thread_id']}"
                    messages = await http.get(path)
                    return any("Where is my order?" in (m.get("text") or "") for m in messages)
            return False

        await until(posted)
        # eadesk's own routes are on the same port.
        async with http.session.get(http.base + "/healthz") as response:
            assert response.status in (200, 503)
            assert "links" in await response.json()


async def test_reset_starts_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: Callable[[Any], Script]
) -> None:
    async with started("empty", monkeypatch, tmp_path) as sandbox:
        http = script(sandbox)
        info = await http.get("/_emu/sandbox")
        chat, bot, client = info["team_chat_id"], info["bot_username"], info["clients"][0]

        async def write(text: str) -> None:
            await http.post("/_emu/messages", {"from": client["id"], "to_bot": bot, "text": text})

        await write("Before the reset")
        await until(lambda: http.topics(chat))
        dialogs_before = await sandbox.owned(dialogs())
        assert dialogs_before == 1
        port = sandbox.url

        answer = await http.post("/_emu/sandbox/reset")
        assert answer["ok"] is True
        assert sandbox.url == port  # the same server all along

        info = await http.get("/_emu/sandbox")
        chat, bot, client = info["team_chat_id"], info["bot_username"], info["clients"][0]
        assert await http.topics(chat) == []
        assert await http.get(f"/_emu/users/{client['id']}/chats/{bot}/messages") == []
        assert await sandbox.owned(dialogs()) == 0  # a fresh database

        await write("After the reset")  # eadesk runs again, anew

        async def texts() -> str | None:
            topics = await http.topics(chat)
            if not topics:
                return None
            [topic] = topics
            path = f"/_emu/chats/{chat}/messages?thread_id={topic['thread_id']}"
            text = " ".join(m.get("text") or "" for m in await http.get(path))
            return text if "After the reset" in text else None

        assert "Before the reset" not in await until(texts)


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_demo_morning_leaves_a_desk_at_work(
    language: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    script: Callable[[Any], Script],
) -> None:
    async with started("demo", monkeypatch, tmp_path, language) as sandbox:
        http = script(sandbox)

        async def played() -> str | None:
            state = (await http.get("/_emu/sandbox"))["demo"]
            return None if state == "playing" else str(state)

        assert await until(played) == "done"
        info = await http.get("/_emu/sandbox")
        names = {t["name"]: t for t in await http.topics(info["team_chat_id"])}
        assert len(names) == 5, names
        closed = [t for t in names.values() if t["closed"]]
        assert len(closed) == 1 and closed[0]["name"].startswith("✅")
        assert sum(name.startswith("💤") for name in names) == 1
        # The assigned and tagged dialog's card says so.
        maria = next(t for t in names.values() if info["clients"][0]["name"] in t["name"])
        messages = await http.get(
            f"/_emu/chats/{info['team_chat_id']}/messages?thread_id={maria['thread_id']}"
        )
        card = next(m for m in messages if m["pinned"])
        assert ("#delivery" if language == "en" else "#доставка") in card["text"]
        assert info["operators"][1]["name"] in card["text"]
        # The client saw the operator's answer.
        client_chat = await http.get(
            f"/_emu/users/{info['clients'][0]['id']}/chats/{info['bot_username']}/messages"
        )
        assert any(m["from"]["is_bot"] for m in client_chat)
