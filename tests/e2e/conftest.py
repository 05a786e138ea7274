"""An eadesk process in-process against the emulator: a team group, a client, operators."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from core.clock import FrozenClock
from core.lifecycle import DialogStatus
from core.models import Dialog
from tests.e2e.mail_servers import Dovecot, SmtpCapture, running_dovecot

TEAM_TOKEN = "700001:team-bot-token"
TEAM_BOT = "acme_help_bot"


@dataclass
class Desk:
    """What a test needs: the emulator, the running app, the people, and how to look."""

    emu: Any
    app: Any
    clock: FrozenClock
    chat_id: int
    bot_username: str
    operator: dict[str, Any]
    colleague: dict[str, Any]
    client: dict[str, Any]

    async def client_says(self, text: str | None = None, who: dict | None = None, **body: Any):
        content = {"text": text} if text is not None else body
        return await self.emu.send((who or self.client)["id"], to_bot=self.bot_username, **content)

    async def client_chat(self, who: dict | None = None) -> list[dict[str, Any]]:
        return await self.emu.private_messages((who or self.client)["id"], self.bot_username)

    async def operator_private(self, who: dict | None = None) -> list[dict[str, Any]]:
        return await self.emu.private_messages((who or self.operator)["id"], self.bot_username)

    async def topics(self) -> list[dict[str, Any]]:
        return [t for t in await self.emu.topics(self.chat_id) if not t.get("deleted")]

    async def topic_messages(self, thread_id: int) -> list[dict[str, Any]]:
        return await self.emu.messages(self.chat_id, thread_id=thread_id)

    async def in_topic(self, thread_id: int, text: str, who: dict | None = None, **body: Any):
        return await self.emu.send(
            (who or self.operator)["id"], chat_id=self.chat_id, thread_id=thread_id, text=text,
            **body,
        )  # fmt: skip

    async def settle(self) -> None:
        """Let polling pick everything up and the outbox send it all."""
        await self.app.core.outbox.drain()

    async def wait(self, predicate: Any, timeout: float = 20.0) -> Any:  # noqa: ASYNC109
        async def check() -> Any:
            await self.app.core.outbox.drain()
            result = predicate()
            if hasattr(result, "__await__"):
                result = await result
            return result

        return await self.emu.wait_for(check, timeout=timeout, interval=0.05)

    async def only_topic(self) -> dict[str, Any]:
        topics = await self.wait(self.topics)
        assert len(topics) == 1, topics
        return topics[0]

    async def dialog(self) -> Dialog:
        return await Dialog.all().order_by("-id").first()  # type: ignore[return-value]

    async def status(self) -> DialogStatus:
        return (await self.dialog()).status


async def bot_says(desk: Desk, thread: int, needle: str) -> list[dict[str, Any]]:
    """The bot's posts in a topic that contain `needle`."""
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def welcomed(desk: Desk, who: dict | None = None) -> list[dict[str, Any]]:
    """What the bot said in an operator's private chat (their own /start is there too, so
    waiting for "any message" would not wait for the bot)."""
    return [m for m in await desk.operator_private(who) if m["from"]["is_bot"]]


async def open_topic(desk: Desk) -> int:
    """The client says Hello; the topic shows it; its thread id."""
    await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]
    await desk.wait(lambda: bot_says(desk, thread, "Hello"))
    return int(thread)


BLOBS_PREFIX = "eadesk-test-blobs-"


def settings_for(emu: Any, chat_id: int, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "BOT_TOKEN": TEAM_TOKEN,
        "TEAM_CHAT_ID": chat_id,
        "TELEGRAM_API_URL": emu.base_url,
        "DATABASE_URL": "sqlite://:memory:",
        "LANGUAGE": "en",
        "TIMEZONE": "Europe/Moscow",
        "HTTP_PORT": 0,
        "REOPEN_WINDOW_MESSENGER": "48h",
        # No digests unless a test asks (the frozen clock starts on a Monday after 09:00).
        "DIGEST_TIME": "off",
        # Each desk its own files, gone with it (see running_desk).
        "BLOBS_DIR": str(Path(tempfile.gettempdir()) / f"{BLOBS_PREFIX}{uuid.uuid4().hex}"),
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def team_forum(
    emulator: Any,
    admin: dict[str, Any],
    member: dict[str, Any] | None = None,
    token: str = TEAM_TOKEN,
) -> int:
    """The team's forum group, `admin` its administrator (and `member` a member), the bot an
    administrator with the rights it needs; its id."""
    members = [{"user_id": admin["id"], "status": "administrator"}]
    if member is not None:
        members.append({"user_id": member["id"], "status": "member"})
    group = await emulator.group(
        title="Acme support",
        forum=True,
        members=members,
        bots=[
            {
                "token": token,
                "status": "administrator",
                "rights": {
                    "can_manage_topics": True,
                    "can_delete_messages": True,
                    "can_pin_messages": True,
                },
            }
        ],
    )
    return int(group["chat_id"])


People = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


@contextlib.asynccontextmanager
async def running_desk(
    emulator: Any,
    chat_id: int,
    operator: dict[str, Any],
    colleague: dict[str, Any],
    client: dict[str, Any],
    connectors: Sequence[Any] = (),
    clock: FrozenClock | None = None,
    **settings: Any,
) -> AsyncIterator[Desk]:
    """eadesk started in-process for the team group `chat_id`, as `run` starts it (its
    migrations and all), stopped at the end. `connectors`: client channels besides the
    configured ones (a loopback channel, tests/loopback), started like them. `clock`: the
    process's clock (a new FrozenClock by default)."""
    from bot.app import App

    clock = clock or FrozenClock()
    app = App(
        settings_for(emulator, chat_id, **settings),
        clock=clock,
        tick=3600,
        poll_timeout=1,
        extra_connectors=connectors,
    )
    serialize_outbox_rounds(app.core.outbox)
    await app.start()
    try:
        yield Desk(emulator, app, clock, chat_id, TEAM_BOT, operator, colleague, client)
    finally:
        await app.stop()
        if BLOBS_PREFIX in app.settings.BLOBS_DIR:
            shutil.rmtree(app.settings.BLOBS_DIR, ignore_errors=True)


async def team_and_client(emulator: Any) -> tuple[int, People]:
    """The team bot, its forum with Olga (an administrator, English) and Pavel (a member,
    Russian), and Ann, a client: (the forum's id, (Olga, Pavel, Ann)). A test that restarts
    eadesk starts `running_desk` with these more than once."""
    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    operator = await emulator.user("Olga", username="olga", language_code="en")
    colleague = await emulator.user("Pavel", username="pavel", language_code="ru")
    client = await emulator.user("Ann", last_name="Lee", language_code="en")
    chat_id = await team_forum(emulator, operator, colleague)
    return chat_id, (operator, colleague, client)


async def build_desk(
    emulator: Any, connectors: Sequence[Any] = (), **settings: Any
) -> AsyncIterator[Desk]:
    chat_id, people = await team_and_client(emulator)
    async with running_desk(emulator, chat_id, *people, connectors, **settings) as desk:
        yield desk


def serialize_outbox_rounds(worker: Any) -> None:
    """Desk.wait drains the outbox while the app's own loop runs: one round at a time, or
    both would take the same row and send it twice (an album arrived three times)."""
    lock = asyncio.Lock()
    run_once = worker.run_once

    async def one_round() -> int:
        async with lock:
            return int(await run_once())

    worker.run_once = one_round


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator):
        yield value


# ---- real mail servers (the e-mail channel, and the web chat's replies by e-mail) ----------


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot on loopback (tests/e2e/mail_servers.py)."""
    with running_dovecot() as server:
        yield server


@pytest.fixture
async def smtp_capture() -> AsyncIterator[SmtpCapture]:
    """An SMTP server that keeps what it is sent (aiosmtpd)."""
    capture = SmtpCapture()
    capture.start()
    try:
        yield capture
    finally:
        capture.stop()
