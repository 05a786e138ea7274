"""Faults the desk heals or reports: a client who blocked the bot, a deleted topic."""

from __future__ import annotations

import re
from typing import Any

from core.models import Dialog


async def open_topic(desk) -> int:
    await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]
    await desk.wait(lambda: shown(desk, thread, "Ann Lee\nHello"))
    return int(thread)


async def shown(desk, thread: int, text: str) -> list[dict[str, Any]]:
    return [m for m in await desk.topic_messages(thread) if text in (m.get("text") or "")]


async def test_a_client_who_blocked_the_bot_is_marked_and_the_topic_told_once(desk):
    thread = await open_topic(desk)
    await desk.emu.block(desk.client["id"], desk.bot_username)
    await desk.in_topic(thread, "Are you still there?")
    await desk.wait(lambda: shown(desk, thread, "cannot be reached"))
    await desk.in_topic(thread, "Hello?")

    async def second_failed():
        sends = await desk.emu.calls("copyMessage")
        return sends if len(sends) >= 2 else None

    await desk.wait(second_failed)
    await desk.settle()
    assert len(await shown(desk, thread, "cannot be reached")) == 1
    assert (await desk.dialog()).unreachable
    assert not [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    # Writing again unblocks the bot: the dialog is reachable, replies arrive again.
    await desk.client_says("Sorry, I am back")
    await desk.wait(lambda: shown(desk, thread, "Sorry, I am back"))
    assert not (await desk.dialog()).unreachable
    await desk.in_topic(thread, "Welcome back")

    async def reply_arrived():
        return [m for m in await desk.client_chat() if m.get("text") == "Welcome back"]

    assert await desk.wait(reply_arrived)


async def test_a_deleted_topic_is_replaced_and_the_message_shown_there(desk):
    old = await open_topic(desk)
    await desk.app.bot.delete_forum_topic(desk.chat_id, old)
    await desk.client_says("Anyone?")

    async def new_topic():
        topics = await desk.topics()
        return topics if topics and topics[0]["thread_id"] != old else None

    topics = await desk.wait(new_topic)
    assert len(topics) == 1
    thread = topics[0]["thread_id"]
    assert topics[0]["name"] == "Ann Lee · @acme_help_bot"
    await desk.wait(lambda: shown(desk, thread, "Ann Lee\nAnyone?"))
    summary = await desk.wait(lambda: shown(desk, thread, "previous topic"))
    assert len(summary) == 1 and "\n" not in summary[0]["text"]
    # The dialog lives on in the new topic: replies from there reach the client.
    await desk.in_topic(thread, "Still here")

    async def client_got():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    assert (await desk.wait(client_got))[-1]["text"] == "Still here"
    assert await Dialog.all().count() == 1
    await desk.settle()
    assert len(await shown(desk, thread, "Ann Lee\nAnyone?")) == 1


async def test_thread_not_found_on_send_remaps_the_dialog(desk):
    old = await open_topic(desk)
    await desk.emu.fault(
        "sendMessage",
        description="Bad Request: message thread not found",
        chat_id=desk.chat_id,
    )
    await desk.client_says("Second question")

    async def moved():
        topics = await desk.topics()
        return [t for t in topics if t["thread_id"] != old]

    new = (await desk.wait(moved))[0]["thread_id"]
    await desk.wait(lambda: shown(desk, new, "Ann Lee\nSecond question"))
    summary = await desk.wait(lambda: shown(desk, new, "previous topic"))
    assert re.search(r"Client messages so far: [12]\. Status: open", summary[0]["text"])
    await desk.settle()
    assert len(await shown(desk, new, "Ann Lee\nSecond question")) == 1
    # An operator's reply from the new topic reaches the client.
    await desk.in_topic(new, "Answer from the new topic")

    async def client_got():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    assert (await desk.wait(client_got))[-1]["text"] == "Answer from the new topic"


async def test_polling_outlives_an_error_it_does_not_know(desk):
    thread = await open_topic(desk)
    # A 409 (another instance polling) and an unreadable answer: the link is down a moment,
    # the poller is not.
    await desk.emu.fault(
        method="getUpdates", error_code=409, description="Conflict: terminated by other getUpdates"
    )
    await desk.emu.fault(method="getUpdates", raw_body="<html>502 Bad Gateway</html>")

    async def both_refused() -> bool:
        calls = await desk.emu.calls("getUpdates")
        return len([c for c in calls if not c["ok"]]) >= 2

    await desk.emu.wait_for(both_refused, timeout=30, interval=0.1)
    await desk.client_says("Still there?")
    assert await desk.wait(lambda: shown(desk, thread, "Still there?"), timeout=15)
