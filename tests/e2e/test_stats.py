"""/stats on a scripted day with a moved clock: clients on two channels (Telegram and the
loopback channel), replies, a comment that must not count, closes, a client who writes again
within the reopen window and one after it, a message out of business hours. The manager's
numbers in General (English), an operator's own in private (Russian), valid PNG charts, and
the CSV of the episodes."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from matplotlib import image as mpimg

from bot.storage import topic_link
from core.lifecycle import DialogStatus
from core.models import Dialog, Message
from tests.e2e.conftest import Desk, bot_says, build_desk, welcomed
from tests.loopback.connector import LoopbackConnector

MOSCOW = ZoneInfo("Europe/Moscow")
PNG = b"\x89PNG\r\n\x1a\n"

EXPECTED_EN = """📊 Statistics for 06.01.2026
compared with 05.01.2026

New episodes: 2 ▲1
  of them re-openings: 1 ▲1
Continued after a close: 1 ▲1
Closed: 2 ▲1
First response: median 55m, 90% 1h30m ▲50m
  in business hours: median 25m, 90% 30m
Resolution: median 14h, 90% 24h ▲13h30m
  in business hours: median 5h30m, 90% 8h
Reply time: median 20m, 90% 1h30m ▲15m
  in business hours: median 20m, 90% 30m

By operator:
• Olga: closed 2, first response 1h30m (1)
• Pavel: closed 0, first response 20m (1)

By channel:
• @acme_help_bot: new 0, closed 1, first response —
• Loopback: new 2, closed 1, first response 55m

By tag:
• #vip: new 1, closed 0, first response 20m"""

EXPECTED_RU = """📊 Ваша статистика за 06.01.2026
в сравнении с 05.01.2026

Закрыто: 0 =
Первый ответ: медиана 20m, 90% 20m
  в рабочее время: медиана 20m, 90% 20m
Решение: медиана —, 90% —
Время ответа: медиана 20m, 90% 20m
  в рабочее время: медиана 20m, 90% 20m

По каналам:
• Loopback: новых 0, закрыто 0, первый ответ 20m

По тегам:
• #vip: новых 0, закрыто 0, первый ответ 20m"""


@pytest.fixture
def loopback() -> LoopbackConnector:
    return LoopbackConnector()


@pytest.fixture
async def desk(emulator: Any, loopback: LoopbackConnector) -> AsyncIterator[Desk]:
    async for value in build_desk(
        emulator,
        connectors=[loopback],
        BUSINESS_HOURS="mon-fri 10:00-18:00",
        GROUP_MESSAGES_PER_MINUTE=600,
    ):
        yield value


def at(text: str) -> datetime:
    """A moment of the scripted week, in Moscow."""
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW)


class Script:
    def __init__(self, desk: Desk, loopback: LoopbackConnector) -> None:
        self.desk = desk
        self.loopback = loopback
        self.threads: dict[str, int] = {}

    async def dialog(self, name: str) -> Dialog:
        chat = {"ann": str(self.desk.client["id"])}.get(name, name)
        return await Dialog.get(chat_key=chat)

    async def topic_of(self, name: str, text: str) -> int:
        """The topic of a client's dialog once it shows `text`."""
        desk = self.desk
        if name not in self.threads:
            dialog = await desk.wait(lambda: Dialog.get_or_none(chat_key=self._chat(name)))

            async def thread() -> int | None:
                row = await topic_link(dialog.id)
                return row.thread_id if row else None

            self.threads[name] = int(await desk.wait(thread))
        await desk.wait(lambda: bot_says(desk, self.threads[name], text))
        return self.threads[name]

    def _chat(self, name: str) -> str:
        return str(self.desk.client["id"]) if name == "ann" else name

    async def client(self, name: str, when: str, text: str) -> int:
        self.desk.clock.set(at(when))
        if name == "ann":
            await self.desk.client_says(text)
        else:
            await self.loopback.client_writes(text, chat=name, name=name.title())
        thread = await self.topic_of(name, text)

        async def reopened() -> bool:
            return any(
                t["thread_id"] == thread and not t["closed"] for t in await self.desk.topics()
            )

        await self.desk.wait(reopened)
        return thread

    async def operator(self, name: str, when: str, text: str, who: str = "operator") -> None:
        desk = self.desk
        desk.clock.set(at(when))
        person = desk.operator if who == "operator" else desk.colleague
        before = await Message.filter(author__user_id=person["id"]).count()
        await desk.in_topic(self.threads[name], text, who=person)

        async def stored() -> bool:
            return await Message.filter(author__user_id=person["id"]).count() > before

        await desk.wait(stored)

    async def close(self, name: str, when: str) -> None:
        desk = self.desk
        desk.clock.set(at(when))
        await desk.in_topic(self.threads[name], "/close")

        async def closed() -> bool:
            return (await self.dialog(name)).status is DialogStatus.CLOSED

        await desk.wait(closed)

    async def tag(self, name: str, tag: str) -> None:
        await self.desk.in_topic(self.threads[name], f"/tag {tag}")

        async def tagged() -> bool:
            dialog = await self.dialog(name)
            return tag in {t.name for t in await dialog.tags.all()}

        await self.desk.wait(tagged)

    async def play(self) -> None:
        # Saturday: a loopback client asks and is answered; the dialog is closed.
        await self.client("visitor-2", "2026-01-03 12:00", "Old question")
        await self.operator("visitor-2", "2026-01-03 12:05", "Old answer")
        await self.close("visitor-2", "2026-01-03 12:10")
        # Monday (the period before): Ann on Telegram, answered in 5 minutes, closed.
        await self.client("ann", "2026-01-05 11:00", "Hello")
        await self.operator("ann", "2026-01-05 11:05", "Hi Ann")
        await self.close("ann", "2026-01-05 11:30")
        # Tuesday: a loopback client before business hours (10:00), answered at 10:30.
        await self.client("visitor-1", "2026-01-06 09:00", "Night question")
        await self.operator("visitor-1", "2026-01-06 10:30", "Good morning")
        # Ann again within the window: the same episode goes on.
        await self.client("ann", "2026-01-06 10:40", "One more thing")
        await self.operator("ann", "2026-01-06 10:42", "// checking the order")
        await self.operator("ann", "2026-01-06 10:45", "Done")
        await self.close("ann", "2026-01-06 11:00")
        # The Saturday client after the window: a re-opening; Pavel answers.
        await self.client("visitor-2", "2026-01-06 12:00", "Back again")
        await self.tag("visitor-2", "vip")
        await self.operator("visitor-2", "2026-01-06 12:20", "Welcome back", who="colleague")
        await self.close("visitor-1", "2026-01-06 13:00")
        self.desk.clock.set(at("2026-01-06 14:00"))


async def photos(desk: Desk, who: dict[str, Any]) -> list[bytes]:
    out = []
    for message in await desk.operator_private(who):
        if message["from"]["is_bot"] and message["kind"] == "photo":
            out.append(desk.emu.server.state.files[message["file_unique_id"]].data)
    return out


def check_png(data: bytes) -> None:
    assert data.startswith(PNG)
    picture = mpimg.imread(io.BytesIO(data), format="png")
    height, width = picture.shape[:2]
    assert width >= 800 and height >= 600


async def test_the_scripted_day_in_numbers_charts_and_csv(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    script = Script(desk, loopback)
    await script.play()
    # Olga (an administrator: a manager) started the bot: the charts go to her privately.
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/start")
    await desk.wait(lambda: welcomed(desk))
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/stats")

    async def answer_in_general() -> list[dict[str, Any]]:
        return [
            m
            for m in await desk.emu.messages(desk.chat_id)
            if m["from"]["is_bot"] and (m.get("text") or "").startswith("📊")
        ]

    [answer] = await desk.wait(answer_in_general)
    text = answer["text"]
    assert text == EXPECTED_EN + "\n\n📈 The charts are in your private chat with me."

    async def three_photos() -> list[bytes] | None:
        found = await photos(desk, desk.operator)
        return found if len(found) >= 3 else None

    pictures = await desk.wait(three_photos)
    assert len(pictures) == 3
    for data in pictures:
        check_png(data)

    # The CSV button: one row per episode that began in the period.
    [button] = answer["reply_markup"]["inline_keyboard"][0]
    await desk.emu.callback(
        desk.operator["id"], answer["message_id"], button["callback_data"], chat_id=desk.chat_id
    )

    async def document() -> dict[str, Any] | None:
        for message in await desk.operator_private():
            if message["from"]["is_bot"] and message["kind"] == "document":
                return message
        return None

    sent = await desk.wait(document)
    data = desk.emu.server.state.files[sent["file_unique_id"]].data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["channel"], r["number"], r["first_response_s"]) for r in rows] == [
        ("Loopback", "1", "5400"),
        ("Loopback", "2", "1200"),
    ]
    assert rows[0]["first_response_business_s"] == "1800"
    assert rows[0]["resolution_s"] == str(4 * 3600) and rows[0]["closed_by"] == "Olga"
    assert rows[1]["tags"] == "vip" and rows[1]["closed_at"] == ""


async def test_an_operator_sees_their_own_numbers_in_private_in_russian(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    script = Script(desk, loopback)
    await script.play()
    pavel = desk.colleague
    await desk.emu.send(pavel["id"], to_bot=desk.bot_username, text="/stats")

    async def answer() -> str | None:
        for message in await desk.operator_private(pavel):
            if message["from"]["is_bot"] and (message.get("text") or "").startswith("📊"):
                return str(message["text"])
        return None

    assert await desk.wait(answer) == EXPECTED_RU

    async def pictures() -> list[bytes] | None:
        found = await photos(desk, pavel)
        return found or None

    for data in await desk.wait(pictures):
        check_png(data)


async def test_a_period_it_cannot_read_gets_the_form(desk: Desk) -> None:
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/stats last year")

    async def answer() -> list[dict[str, Any]]:
        return [
            m
            for m in await desk.emu.messages(desk.chat_id)
            if m["from"]["is_bot"] and "/stats [today|week|month|FROM TO]" in (m.get("text") or "")
        ]

    [said] = await desk.wait(answer)
    assert said["text"].startswith("I could not read the period.")


async def test_without_a_private_chat_the_charts_and_the_file_go_into_the_group(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    script = Script(desk, loopback)
    await script.client("visitor-1", "2026-01-06 11:00", "Hi")
    await script.operator("visitor-1", "2026-01-06 11:10", "Hello")
    # Olga never started the bot: it cannot write to her privately.
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/stats")

    async def album() -> list[dict[str, Any]] | None:
        found = [
            m
            for m in await desk.emu.messages(desk.chat_id)
            if m["from"]["is_bot"] and m["kind"] == "photo"
        ]
        return found if len(found) >= 3 else None

    pictures = await desk.wait(album)
    assert len({m["media_group_id"] for m in pictures}) == 1  # one album: one group call
    for message in pictures:
        check_png(desk.emu.server.state.files[message["file_unique_id"]].data)
    said = [
        m["text"]
        for m in await desk.emu.messages(desk.chat_id)
        if m["from"]["is_bot"] and (m.get("text") or "").startswith("📊")
    ]
    assert said and "private chat" not in said[0]
    assert "• Olga: closed 0, first response 10m (1)" in said[0]

    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/stats csv today")

    async def document() -> dict[str, Any] | None:
        for message in await desk.emu.messages(desk.chat_id):
            if message["from"]["is_bot"] and message["kind"] == "document":
                return message
        return None

    sent = await desk.wait(document)
    data = desk.emu.server.state.files[sent["file_unique_id"]].data.decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(data)))
    assert (row["client"], row["first_response_s"]) == ("Visitor-1", "600")
