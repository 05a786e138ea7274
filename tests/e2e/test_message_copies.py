"""Every copy of a message answers for it: a reply to any post that shows a message, on the
team's side or the client's, is a reply to that message on the other side too."""

from __future__ import annotations

from typing import Any

from core.models import Message, MessageKind
from tests.e2e.conftest import open_topic


async def operator_sends(desk, thread: int, **body: Any) -> dict[str, Any]:
    return await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, thread_id=thread, **body)


async def from_bot(desk, count: int) -> list[dict[str, Any]]:
    async def enough():
        got = [m for m in await desk.client_chat() if m["from"]["is_bot"]]
        return got if len(got) >= count else None

    return await desk.wait(enough, timeout=15)


async def delivered() -> bool:
    return not await Message.filter(kind=MessageKind.OUT, delivered_at=None).exists()


async def test_a_reply_to_a_colleagues_reply_quotes_it_for_the_client(desk):
    thread = await open_topic(desk)
    earlier = await operator_sends(desk, thread, text="The price is 100")
    [first] = await from_bot(desk, 1)
    await desk.wait(delivered)
    await desk.emu.send(
        desk.colleague["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        text="Correction: 90 until Friday",
        reply_to_message_id=earlier["message_id"],
    )
    _, second = await from_bot(desk, 2)
    assert second["text"] == "Correction: 90 until Friday"
    assert second["reply_to_message_id"] == first["message_id"]


async def test_a_reply_to_any_post_of_a_long_client_text_answers_it(desk):
    await desk.client_says("Hello")
    long = "word " * 819  # with its header, more than one topic post holds
    question = await desk.client_says(long.strip())
    thread = (await desk.only_topic())["thread_id"]

    async def parts():
        posts = [
            m
            for m in await desk.topic_messages(thread)
            if m["from"]["is_bot"] and "word word" in (m.get("text") or "")
        ]
        return posts if len(posts) >= 2 else None

    _, second_part = await desk.wait(parts)
    await operator_sends(
        desk, thread, text="Read it all", reply_to_message_id=second_part["message_id"]
    )
    [answer] = await from_bot(desk, 1)
    assert answer["text"] == "Read it all"
    assert answer["reply_to_message_id"] == question["message_id"]


async def test_a_client_reply_to_an_item_of_an_album_points_at_its_post(desk):
    thread = await open_topic(desk)
    await operator_sends(
        desk, thread, media_group=[{"photo": {}, "caption": "front"}, {"photo": {}}]
    )
    posts = [m for m in await desk.topic_messages(thread) if m["kind"] == "photo"]
    items = await from_bot(desk, 2)
    await desk.wait(delivered)  # the client sees it a moment before that is written down
    await desk.emu.send(
        desk.client["id"],
        to_bot=desk.bot_username,
        text="This one",
        reply_to_message_id=items[1]["message_id"],
    )

    async def shown():
        return [
            m
            for m in await desk.topic_messages(thread)
            if m["from"]["is_bot"] and "This one" in (m.get("text") or "")
        ]

    [reply] = await desk.wait(shown)
    assert reply["reply_to_message_id"] == posts[1]["message_id"]
