"""/ban and /unban (#15): a banned client's messages are stored but never posted and wake
nothing; the card and the board say so; /unban lets them through again and tells how many
came meanwhile. Both are in the event log."""

from __future__ import annotations

from core.lifecycle import DialogStatus
from core.models import Client, Event, Message
from tests.e2e.conftest import Desk
from tests.e2e.teamwork import (
    board_of,
    card_of,
    desk_fixture,
    has,
    last_bot_message,
    new_topic,
    said,
)

desk = desk_fixture()


async def stored(text: str) -> bool:
    return await Message.exists(text=text)


async def card_says(desk: Desk, thread: int, needle: str, present: bool = True) -> bool:
    card = await card_of(desk, thread)
    return card is not None and (needle in (card.get("text") or "")) == present


async def board_says(desk: Desk, needle: str, present: bool = True) -> bool:
    board = await board_of(desk)
    return board is not None and (needle in (board.get("text") or "")) == present


async def test_a_banned_client_is_stored_not_posted_until_unbanned(desk: Desk) -> None:
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/ban")
    await desk.wait(lambda: last_bot_message(desk, thread, "is banned"))
    assert await desk.status() is DialogStatus.CLOSED
    assert (await Client.get(id=(await desk.dialog()).client_id)).banned  # type: ignore[attr-defined]
    await desk.wait(lambda: card_says(desk, thread, "🚫 Banned"))
    await desk.wait(lambda: board_says(desk, "🚫 Banned clients: 1"))

    # Twice is one ban.
    await desk.in_topic(thread, "/ban")
    await desk.wait(lambda: last_bot_message(desk, thread, "banned already"))

    # The spam is kept, and nothing happens in the topic: not posted, not reopened.
    before = await desk.topic_messages(thread)
    topic = await desk.only_topic()
    await desk.client_says("BUY CHEAP PILLS")
    await desk.client_says("AND MORE")
    await desk.wait(lambda: stored("AND MORE"))
    await desk.settle()
    after = await desk.topic_messages(thread)
    assert not has(after, "PILLS") and not has(after, "AND MORE")
    assert len(after) == len(before)
    assert await desk.status() is DialogStatus.CLOSED
    assert (await desk.only_topic())["name"] == topic["name"]

    await desk.in_topic(thread, "/unban")
    answer = await desk.wait(lambda: last_bot_message(desk, thread, "no longer banned"))
    assert "2 message(s) came while banned" in answer["text"] and "/history" in answer["text"]
    await desk.wait(lambda: card_says(desk, thread, "🚫 Banned", present=False))
    await desk.wait(lambda: board_says(desk, "Banned clients", present=False))
    names = [e.name for e in await Event.filter(name__startswith="client.").order_by("id")]
    assert names == ["client.banned", "client.unbanned"]

    # Let through again: the next message is posted and opens the dialog.
    await desk.client_says("Sorry, a real question")
    await desk.wait(lambda: said(desk, thread, "Sorry, a real question"))
    assert await desk.status() is DialogStatus.OPEN
    assert not has(await desk.topic_messages(thread), "PILLS")

    await desk.in_topic(thread, "/unban")
    await desk.wait(lambda: last_bot_message(desk, thread, "is not banned"))


async def test_ban_outside_a_topic_or_with_arguments_changes_nothing(desk: Desk) -> None:
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/ban everyone")
    await desk.wait(lambda: last_bot_message(desk, thread, "Form: /ban"))
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/ban")
    await desk.wait(lambda: said(desk, "general", "topic"))
    assert not await Client.exists(banned=True)
    assert await desk.status() is DialogStatus.OPEN
