"""A second client channel that is not Telegram, end to end through the emulator.

The loopback channel (tests/loopback) carries little: no edits, plain text only, at most 1000
characters a message, photos and documents only. Its clients' texts and files show in the
topic like anyone's; an operator's reply reaches it as content it can carry (a photo with its
bytes, a long text in parts, formatting as plain words); what it cannot carry (an edit, a
sticker, a video) is told in the topic in one line while the rest still goes; a broken
transport is retried and shown as the channel's health in /status and /healthz.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.conversation import SEND_TO_CLIENT
from core.models import OutboxItem, OutboxStatus
from tests.e2e.conftest import Desk, bot_says, build_desk
from tests.loopback.connector import TEXT_LIMIT, LoopbackConnector

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PHOTO = b"\xff\xd8\xff\xe0 the operator's photo \xff\xd9"


class Wall:
    """The outbox's wall clock: real time plus what the test skipped (its backoff)."""

    def __init__(self) -> None:
        self.skipped = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += timedelta(seconds=seconds)


@pytest.fixture
def loopback() -> LoopbackConnector:
    return LoopbackConnector()


@pytest.fixture
async def desk(emulator: Any, loopback: LoopbackConnector) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator, connectors=[loopback]):
        value.app.core.ctx.wall = Wall()
        yield value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def loopback_topic(desk: Desk, loopback: LoopbackConnector, text: str) -> int:
    """A loopback client writes `text`; the topic shows it; its thread id."""
    await loopback.client_writes(text)
    thread = int((await desk.only_topic())["thread_id"])
    await desk.wait(lambda: bot_says(desk, thread, text))
    return thread


async def received(desk: Desk, loopback: LoopbackConnector, count: int = 1) -> list[Any]:
    async def enough() -> list[Any] | None:
        return loopback.received if len(loopback.received) >= count else None

    return list(await desk.wait(enough))


async def health(desk: Desk) -> tuple[int, dict[str, Any]]:
    assert desk.app.http is not None
    host, port = desk.app.http.addresses[0][:2]
    async with desk.emu.session.get(f"http://{host}:{port}/healthz") as response:
        return response.status, await response.json()


async def status_report(desk: Desk, needle: str) -> str:
    """/status in General, once it shows `needle`."""
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/status")

    async def answer() -> str | None:
        general = await desk.emu.messages(desk.chat_id, thread_id="general")
        shown = [m["text"] for m in general if m["from"]["is_bot"] and "📊" in (m["text"] or "")]
        return shown[-1] if shown and needle in shown[-1] else None

    return str(await desk.wait(answer))


# ---- in: a loopback client's messages in the topic ----------------------------------------------


async def test_a_loopback_clients_text_and_pdf_appear_in_the_topic(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "Hello from the website")
    [topic] = await desk.topics()
    assert topic["name"] == "Lena Park · Loopback"

    await loopback.client_sends_file(
        PDF, name="invoice-15.pdf", mime="application/pdf", caption="Here is the invoice"
    )

    async def document() -> dict[str, Any] | None:
        posts = await desk.topic_messages(thread)
        return next((m for m in posts if m["kind"] == "document"), None)

    post = await desk.wait(document)
    assert post["file_name"] == "invoice-15.pdf"
    assert post["mime_type"] == "application/pdf"
    assert post["caption"] == "Lena Park\nHere is the invoice"
    # What an operator downloads is the client's file, byte for byte (uploaded from the blob).
    assert desk.emu.server.state.files[post["file_unique_id"]].data == PDF


# ---- out: what an operator writes, as the loopback client gets it -------------------------------


async def test_an_operators_photo_reply_reaches_the_channel_with_its_bytes_and_target(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    asked = await loopback.client_writes("Which part is broken?")
    thread = int((await desk.only_topic())["thread_id"])
    [question] = await desk.wait(lambda: bot_says(desk, thread, "Which part is broken?"))

    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        photo={"content_base64": b64(PHOTO)},
        caption="This one, see the photo",
        reply_to_message_id=question["message_id"],
    )

    [got] = await received(desk, loopback)
    assert got.text == "This one, see the photo"
    assert [a.kind.value for a in got.content.attachments] == ["photo"]
    # The bytes were fetched from Telegram because this channel needs them.
    assert got.files == [PHOTO]
    assert got.content.attachments[0].size == len(PHOTO)
    assert got.reply_to == [asked]


async def test_an_operators_edit_is_told_in_the_topic_and_the_client_keeps_the_first_version(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "When do you open?")
    sent = await desk.in_topic(thread, "We open at 9 tomorow")
    await received(desk, loopback)

    await desk.emu.edit(
        desk.operator["id"], sent["message_id"], chat_id=desk.chat_id, text="We open at 10 tomorrow"
    )

    [told] = await desk.wait(lambda: bot_says(desk, thread, "cannot change a message"))
    assert told["text"] == (
        "✏️ Loopback cannot change a message the client already has: they keep the first version."
    )
    assert [r.text for r in loopback.received] == ["We open at 9 tomorow"]
    assert loopback.edits == []


async def test_an_operators_sticker_is_told_in_the_topic_and_not_delivered(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "Thanks!")
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, thread_id=thread, sticker={})

    [told] = await desk.wait(lambda: bot_says(desk, thread, "does not take"))
    assert told["text"] == "⚠️ Loopback does not take stickers: the client did not get this one."
    # A reply after it goes as usual: the sticker held nothing up, and never arrives.
    await desk.in_topic(thread, "You are welcome")
    [got] = await received(desk, loopback)
    assert got.text == "You are welcome" and not got.content.attachments
    assert len(await bot_says(desk, thread, "does not take")) == 1


async def test_the_line_is_in_the_groups_language(emulator: Any) -> None:
    loopback = LoopbackConnector()
    async for desk in build_desk(emulator, connectors=[loopback], LANGUAGE="ru"):
        await sticker_told_in_russian(desk, loopback)


async def sticker_told_in_russian(desk: Desk, loopback: LoopbackConnector) -> None:
    thread = await loopback_topic(desk, loopback, "Спасибо!")
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, thread_id=thread, sticker={})
    [told] = await desk.wait(lambda: bot_says(desk, thread, "не принимает"))
    assert told["text"] == "⚠️ Loopback не принимает стикеры: клиент этого не получил."


async def test_what_the_channel_cannot_carry_is_told_and_the_rest_still_goes(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "Can you show me how?")
    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        video={"content_base64": b64(b"a short clip")},
        caption="Press the red button twice",
    )

    [got] = await received(desk, loopback)
    assert got.text == "Press the red button twice" and not got.content.attachments
    [told] = await desk.wait(lambda: bot_says(desk, thread, "does not take"))
    assert told["text"] == "⚠️ Loopback does not take videos: the client did not get this one."


async def test_a_long_reply_arrives_in_parts_at_the_channels_limit_none_twice(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "Tell me everything")
    paragraphs = [paragraph(1, 998), paragraph(2, 998), paragraph(3, 1000)]
    text = "\n\n".join(paragraphs)
    assert len(text) == 3000
    # The second part meets a broken connection once: the first is not sent again.
    loopback.break_transport(times=1, after=1)
    await desk.in_topic(thread, text)

    async def failed_once() -> bool:
        return loopback.attempts >= 2

    await desk.wait(failed_once)
    wall(desk).skip(600)
    got = await received(desk, loopback, 3)
    await desk.settle()

    assert [r.text for r in loopback.received] == paragraphs
    assert all(len(r.text) <= TEXT_LIMIT for r in got)
    assert len({r.id for r in loopback.received}) == 3
    assert loopback.attempts == 4  # three parts, one of them twice: the failed try


async def test_formatting_arrives_as_plain_words_with_link_addresses_and_is_told(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "Where are the docs?")
    text = "Read the docs first, it is important"
    entities = [
        {"type": "text_link", "offset": 9, "length": 4, "url": "https://acme.io/docs"},
        {"type": "bold", "offset": 27, "length": 9},
    ]
    before = await bot_says(desk, thread, "")
    await desk.in_topic(thread, text, entities=entities)

    [got] = await received(desk, loopback)
    assert got.text == "Read the docs (https://acme.io/docs) first, it is important"
    assert got.content.spans == ()
    # The link's address went with the words; the bold is told, in one line.
    [told] = await desk.wait(lambda: bot_says(desk, thread, "cannot show formatting"))
    assert told["text"] == (
        "✏️ Loopback cannot show formatting (bold): the client got the words without it."
    )
    await desk.settle()
    assert len(await bot_says(desk, thread, "")) == len(before) + 1

    # A link alone loses nothing: no line.
    await desk.in_topic(thread, "Read the docs", entities=entities[:1])
    await received(desk, loopback, 2)
    await desk.settle()
    assert len(await bot_says(desk, thread, "")) == len(before) + 1


# ---- a broken transport -------------------------------------------------------------------------


async def test_a_broken_transport_is_retried_and_shown_as_the_channels_health(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await loopback_topic(desk, loopback, "Is my order on its way?")
    loopback.break_transport()
    await desk.in_topic(thread, "Yes, it ships today")

    async def put_off() -> OutboxItem | None:
        row = await OutboxItem.get_or_none(kind=SEND_TO_CLIENT)
        return row if row is not None and row.attempts >= 1 else None

    row = await desk.wait(put_off)
    assert row.status is OutboxStatus.PENDING
    assert row.not_before > wall(desk).now()  # backing off, not hammering the channel
    assert loopback.received == []

    code, body = await health(desk)
    assert code == 503 and body["links"]["Loopback"] is False, body
    shown = await status_report(desk, "⛔ Loopback")
    assert "⛔ Loopback — connection refused" in shown

    loopback.mend_transport()
    wall(desk).skip(600)
    [got] = await received(desk, loopback)
    assert got.text == "Yes, it ships today"
    await desk.settle()
    assert len(loopback.received) == 1

    code, body = await health(desk)
    assert code == 200 and body["links"]["Loopback"] is True, body
    assert "✅ Loopback" in await status_report(desk, "✅ Loopback")


def wall(desk: Desk) -> Wall:
    clock = desk.app.core.ctx.wall
    assert isinstance(clock, Wall)
    return clock


def paragraph(number: int, size: int) -> str:
    """A paragraph of words, exactly `size` characters long, ending in a full stop."""
    words = itertools.cycle(("the", "parcel", "goes", "out", "today", "and", "arrives", "soon"))
    text = f"Part {number}."
    while len(text) < size:
        text += " " + next(words)
    return text[: size - 1].rstrip().ljust(size - 1, "x") + "."
