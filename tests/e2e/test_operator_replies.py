"""What operators write in a dialog's topic, as the client sees it in the private chat."""

from __future__ import annotations

import base64
from typing import Any

FILE = {"file_name": "scheme.pdf", "content_base64": base64.b64encode(b"pdf-bytes").decode()}


async def topic_with_hello(desk) -> int:
    await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]

    async def posted():
        return [m for m in await desk.topic_messages(thread) if m["text"] == "Ann Lee\nHello"]

    await desk.wait(posted)
    return int(thread)


async def operator_sends(desk, thread: int, **body: Any) -> dict[str, Any]:
    return await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, thread_id=thread, **body)


async def client_received(desk, count: int, timeout: float = 8.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
    async def enough():
        got = [m for m in await desk.client_chat() if m["from"]["is_bot"]]
        return got if len(got) >= count else None

    return await desk.wait(enough, timeout=timeout)


async def test_every_kind_reaches_the_client(desk):
    thread = await topic_with_hello(desk)
    bold = [{"type": "bold", "offset": 0, "length": 4}]
    await operator_sends(desk, thread, text="Done, see below", entities=bold)
    await operator_sends(desk, thread, document=FILE, caption="the scheme")
    await operator_sends(desk, thread, photo={}, caption="a photo")
    await operator_sends(desk, thread, voice={})
    await operator_sends(desk, thread, audio={})
    await operator_sends(desk, thread, video={})
    await operator_sends(desk, thread, video_note={})
    await operator_sends(desk, thread, sticker={})
    await operator_sends(desk, thread, location={"latitude": 59.93, "longitude": 30.31})
    await operator_sends(
        desk, thread, contact={"phone_number": "+74950000000", "first_name": "Desk"}
    )

    got = await client_received(desk, 10, timeout=30)
    assert [m["kind"] for m in got] == [
        "text", "document", "photo", "voice", "audio", "video", "video_note", "sticker",
        "location", "contact",
    ]  # fmt: skip
    assert got[0]["text"] == "Done, see below" and got[0]["entities"] == bold
    assert got[1]["caption"] == "the scheme" and got[1]["file_name"] == "scheme.pdf"
    assert got[1]["file_size"] == len(b"pdf-bytes")
    assert got[2]["caption"] == "a photo"
    assert got[8]["location"]["longitude"] == 30.31
    assert got[9]["contact"]["phone_number"] == "+74950000000"
    # Nothing says who the operator is: the client sees the company's bot only.
    assert all(m["from"]["username"] == desk.bot_username for m in got)


async def test_an_album_reaches_the_client_together(desk):
    thread = await topic_with_hello(desk)
    await operator_sends(
        desk, thread, media_group=[{"photo": {}, "caption": "both sides"}, {"photo": {}}]
    )
    got = await client_received(desk, 2)
    assert [m["kind"] for m in got] == ["photo", "photo"]
    assert got[0]["media_group_id"] and got[0]["media_group_id"] == got[1]["media_group_id"]
    assert got[0]["caption"] == "both sides"


async def test_a_reply_to_a_client_message_is_a_reply_for_the_client(desk):
    question = await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]

    async def header_post():
        posts = [m for m in await desk.topic_messages(thread) if m["text"] == "Ann Lee\nHello"]
        return posts[0] if posts else None

    copy = await desk.wait(header_post)
    await operator_sends(
        desk, thread, text="Answering this", reply_to_message_id=copy["message_id"]
    )
    await operator_sends(desk, thread, text="And a plain follow-up")
    got = await client_received(desk, 2)
    assert got[0]["text"] == "Answering this"
    assert got[0]["reply_to_message_id"] == question["message_id"]
    assert got[1]["reply_to_message_id"] is None


async def test_an_operator_edit_is_mirrored_to_the_client(desk):
    thread = await topic_with_hello(desk)
    sent = await operator_sends(desk, thread, text="The price is 100")
    await client_received(desk, 1)
    await desk.emu.edit(
        desk.operator["id"], sent["message_id"], chat_id=desk.chat_id, text="The price is 90"
    )

    async def edited():
        got = [m for m in await desk.client_chat() if m["from"]["is_bot"]]
        return got if got[0]["text"] == "The price is 90" else None

    got = await desk.wait(edited)
    assert got[0]["edited"] and len(got) == 1


async def test_general_is_never_relayed(desk):
    await topic_with_hello(desk)
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="Lunch at one, everyone")
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, photo={}, caption="the menu")
    await desk.settle()
    thread = (await desk.only_topic())["thread_id"]
    # A message after them in the topic does arrive: the quiet is not a stalled queue.
    await operator_sends(desk, thread, text="Topic answer")
    got = await client_received(desk, 1)
    assert [m.get("text") or m.get("caption") for m in got] == ["Topic answer"]
    general = await desk.emu.messages(desk.chat_id, thread_id="general")
    assert not [m for m in general if m["from"]["is_bot"] and m["kind"] != "service"]


async def test_a_burst_of_replies_keeps_the_chats_pace_and_meets_no_429(desk):
    thread = await topic_with_hello(desk)
    await desk.emu.limits(enabled=True)
    for n in range(7):
        await operator_sends(desk, thread, text=f"answer {n}")
    got = await client_received(desk, 7, timeout=30)
    assert [m["text"] for m in got] == [f"answer {n}" for n in range(7)]
    refused = [c for c in await desk.emu.calls() if c.get("error_code") == 429]
    assert refused == []
