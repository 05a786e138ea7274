"""What a client sends reaches the dialog's topic, as the operators see it there."""

from __future__ import annotations

import base64
from typing import Any

from core.lifecycle import DialogStatus
from core.models import Dialog, OutboxItem
from tests.e2e.conftest import build_desk

PHOTO = {"file_name": "p.jpg", "content_base64": base64.b64encode(b"photo-bytes").decode()}


def bot_posts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the bot posted in a topic: no service lines, no pinned card, nothing operators
    wrote."""
    return [
        m for m in messages if m["from"]["is_bot"] and m["kind"] != "service" and not m["pinned"]
    ]


def shown_text(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


async def client_sends(desk, **body: Any) -> dict[str, Any]:
    # desk.client_says drops extra fields when given a text.
    return await desk.emu.send(desk.client["id"], to_bot=desk.bot_username, **body)


async def posts_in(desk, thread: int, count: int) -> list[dict[str, Any]]:
    async def enough():
        posts = bot_posts(await desk.topic_messages(thread))
        return posts if len(posts) >= count else None

    return await desk.wait(enough)


async def test_start_gets_a_greeting_and_no_topic(desk):
    await desk.client_says("/start")

    async def greeted():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    greeting = await desk.wait(greeted)
    assert "Write your question" in greeting[0]["text"]
    await desk.settle()
    assert await desk.topics() == []
    assert await Dialog.all().count() == 0

    await desk.client_says("My order is late")
    topic = await desk.only_topic()
    assert topic["name"] == "Ann Lee · @acme_help_bot"
    first = (await posts_in(desk, topic["thread_id"], 1))[0]
    assert first["text"] == "Ann Lee\nMy order is late"
    assert first["entities"][0] == {"type": "bold", "offset": 0, "length": len("Ann Lee")}


async def test_every_kind_reaches_the_topic_in_order(desk):
    await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]
    await desk.client_says(photo=PHOTO, caption="the broken part")
    await desk.client_says(document={"file_name": "invoice.pdf"}, caption="invoice")
    await desk.client_says(voice={})
    await desk.client_says(audio={"file_name": "song.mp3"})
    await desk.client_says(video={"file_name": "clip.mp4"})
    await desk.client_says(video_note={})
    await desk.client_says(sticker={})
    await desk.client_says(location={"latitude": 55.75, "longitude": 37.62})
    await desk.client_says(contact={"phone_number": "+79990001122", "first_name": "Bob"})

    posts = await posts_in(desk, thread, 14)
    kinds = [m["kind"] for m in posts]
    # A captionless kind gets its header line just above it.
    assert kinds == [
        "text", "photo", "document", "voice", "audio", "video",
        "text", "video_note", "text", "sticker", "text", "location", "text", "contact",
    ]  # fmt: skip
    assert posts[1]["caption"] == "Ann Lee\nthe broken part"
    assert posts[1]["file_size"] == len(b"photo-bytes")
    assert posts[2]["file_name"] == "invoice.pdf" and posts[2]["caption"] == "Ann Lee\ninvoice"
    assert posts[3]["caption"] == posts[4]["caption"] == posts[5]["caption"] == "Ann Lee"
    assert [posts[i]["text"] for i in (6, 8, 10, 12)] == ["Ann Lee"] * 4
    assert posts[11]["location"]["latitude"] == 55.75
    assert posts[13]["contact"]["phone_number"] == "+79990001122"
    assert len(await desk.topics()) == 1


async def test_formatting_is_kept_and_the_header_shows_the_sender(desk):
    entities = [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 5, "length": 6},
    ]
    await client_sends(desk, text="Very urgent please", entities=entities)
    thread = (await desk.only_topic())["thread_id"]
    post = (await posts_in(desk, thread, 1))[0]
    shift = len("Ann Lee\n")
    assert post["text"] == "Ann Lee\nVery urgent please"
    assert {"type": "bold", "offset": shift, "length": 4} in post["entities"]
    assert {"type": "italic", "offset": shift + 5, "length": 6} in post["entities"]


async def test_an_album_arrives_together(desk):
    await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]
    await desk.client_says(
        media_group=[
            {"photo": {}, "caption": "three photos"},
            {"photo": {}},
            {"photo": {}},
        ]
    )
    posts = await posts_in(desk, thread, 4)
    album = posts[1:]
    assert [m["kind"] for m in album] == ["photo"] * 3
    assert len({m["media_group_id"] for m in album}) == 1 and album[0]["media_group_id"]
    assert album[0]["caption"] == "Ann Lee\nthree photos"


async def test_a_client_reply_is_a_reply_in_the_topic(desk):
    first = await desk.client_says("Order 1234")
    thread = (await desk.only_topic())["thread_id"]
    await posts_in(desk, thread, 1)
    await client_sends(desk, text="About this one", reply_to_message_id=first["message_id"])
    posts = await posts_in(desk, thread, 2)
    assert posts[1]["reply_to_message_id"] == posts[0]["message_id"]


async def test_a_client_edit_is_mirrored_into_the_topic(desk):
    sent = await desk.client_says("I ordered 2 chairs")
    thread = (await desk.only_topic())["thread_id"]
    await posts_in(desk, thread, 1)
    await desk.emu.edit(
        desk.client["id"], sent["message_id"], to_bot=desk.bot_username, text="I ordered 3 chairs"
    )

    async def edited():
        posts = bot_posts(await desk.topic_messages(thread))
        return posts if "3 chairs" in posts[0]["text"] else None

    posts = await desk.wait(edited)
    assert posts[0]["edited"]
    assert posts[0]["text"].startswith("Ann Lee\nI ordered 3 chairs")
    assert len(posts) == 1


async def test_a_client_text_is_never_markup_nor_a_command(desk):
    await desk.client_says("<b>hi</b> & /close")
    thread = (await desk.only_topic())["thread_id"]
    post = (await posts_in(desk, thread, 1))[0]
    assert post["text"] == "Ann Lee\n<b>hi</b> & /close"
    assert [e["type"] for e in post["entities"]] == ["bold"]  # the header only
    await desk.settle()
    assert await desk.status() is DialogStatus.OPEN
    assert not (await desk.topics())[0]["closed"]
    # Nothing was answered to the client either: /close is just what they said.
    assert not [m for m in await desk.client_chat() if m["from"]["is_bot"]]


async def test_a_longest_client_text_is_shown_whole(desk):
    words = ("word " * 820).strip()  # 4099 characters: cut by Telegram to the limit
    text = words[:4096]
    await desk.client_says(text)
    thread = (await desk.only_topic())["thread_id"]
    posts = await posts_in(desk, thread, 2)
    # Parts are cut at line or word breaks; the break stays with the part before it.
    assert "".join(p["text"] for p in posts) == "Ann Lee\n" + text
    assert all(len(p["text"]) <= 4096 for p in posts)


async def test_a_separate_client_bot_serves_clients_and_files_are_reuploaded(emulator):
    client_token = "700002:client-bot-token"
    await emulator.bot(client_token, username="acme_clients_bot")
    async for desk in build_desk(emulator, TELEGRAM_CLIENT_BOT_TOKENS=client_token):
        await separate_client_bot(desk, "acme_clients_bot")


async def separate_client_bot(desk, client_bot: str) -> None:
    emulator = desk.emu
    await emulator.send(desk.client["id"], to_bot=client_bot, text="Hi from the other bot")
    topic = await desk.only_topic()
    assert topic["name"] == "Ann Lee · @acme_clients_bot"
    thread = topic["thread_id"]
    await emulator.send(desk.client["id"], to_bot=client_bot, photo=PHOTO, caption="look")
    posts = await posts_in(desk, thread, 2)
    # The team bot cannot send the client bot's file_id: it downloaded and uploaded it.
    assert posts[1]["kind"] == "photo" and posts[1]["file_size"] == len(b"photo-bytes")
    assert posts[1]["caption"] == "Ann Lee\nlook"

    await desk.in_topic(thread, "Got it")
    await emulator.send(
        desk.operator["id"], chat_id=desk.chat_id, thread_id=thread, photo=PHOTO,
        caption="here is ours",
    )  # fmt: skip

    async def client_got_both():
        got = [
            m
            for m in await emulator.private_messages(desk.client["id"], client_bot)
            if m["from"]["is_bot"]
        ]
        return got if len(got) >= 2 else None

    got = await desk.wait(client_got_both)
    assert got[0]["text"] == "Got it"
    assert got[1]["kind"] == "photo" and got[1]["caption"] == "here is ours"
    assert got[1]["file_size"] == len(b"photo-bytes")
    # The team bot's private chat with the client stays empty: the client bot answered.
    assert await emulator.private_messages(desk.client["id"], desk.bot_username) == []


async def test_a_burst_of_client_messages_is_shown_exactly_once(desk):
    await desk.client_says("one")
    thread = (await desk.only_topic())["thread_id"]
    words = ["two", "three", "four", "five", "six"]
    for word in words:
        await desk.client_says(word)

    async def all_shown():
        shown = "\n".join(shown_text(m) for m in bot_posts(await desk.topic_messages(thread)))
        return shown if all(w in shown for w in words) else None

    # Those that waited for the group's budget are coalesced into one post; each is shown
    # once, also after the outbox has nothing left to retry.
    await desk.wait(all_shown)

    async def nothing_left_to_post():
        return not await OutboxItem.filter(kind="topic.post", status="pending").exists()

    await desk.wait(nothing_left_to_post)
    shown = "\n".join(shown_text(m) for m in bot_posts(await desk.topic_messages(thread)))
    assert {w: shown.count(w) for w in words} == dict.fromkeys(words, 1), shown
