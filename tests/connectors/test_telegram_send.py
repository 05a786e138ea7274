"""Operator replies as the client sees them in their private chat with the bot."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from connectors.telegram.client import TelegramClientConnector
from connectors.telegram.inbound import message_to_inbound
from core.connector import RecipientUnreachable, RejectedContent, TemporaryFailure
from core.models import Message
from tests.connectors.conftest import TEAM_BOT, Desk, updates


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def operator_post(desk: Desk, thread_id: int | None = None, **content: Any) -> list[Any]:
    """The operator writes in the team group; the team bot's view of it (file_ids are its)."""
    await desk.emu.send(desk.operator_id, chat_id=desk.team_chat_id, thread_id=thread_id, **content)
    messages = [u.message for u in await updates(desk.bot) if u.message]
    # The bot also hears about its own topic creation: keep what the operator wrote.
    return [m for m in messages if m.from_user and m.from_user.id == desk.operator_id]


async def attachment(desk: Desk, **content: Any) -> dict[str, Any]:
    [message] = await operator_post(desk, **content)
    return message_to_inbound(message, 0, desk.bot.id).attachments[0]


async def send(desk: Desk, message: Message, reply_to: Message | None = None) -> list[str]:
    sent = await desk.connector.send(desk.dialog, message, reply_to)
    return sent.external_ids


async def test_text_with_entities_html_looking_text_arrives_literally(desk: Desk) -> None:
    # Even a bot with a default parse mode never parses a text as markup.
    session = AiohttpSession(api=TelegramAPIServer.from_base(desk.emu.base_url))
    bot = Bot(desk.bot.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    desk.connector = TelegramClientConnector(desk.channel, bot, {bot.id: bot}, desk.team_chat_id)
    desk.connector.pace.take = lambda chat_id, n=1: 0.0  # type: ignore[method-assign]
    text = "<b>not bold</b> & this is"
    bold = {"type": "bold", "offset": 21, "length": 4}
    try:
        message = await desk.out(text, entities=[bold])
        ids = await send(desk, message)
    finally:
        await session.close()
    [view] = (await desk.client_view())[-1:]
    assert view["text"] == text and view["entities"] == [bold]
    assert ids == [str(view["message_id"])]
    stored = await Message.get(id=message.id)
    assert stored.meta["client_message_ids"] == [view["message_id"]]


async def test_photo_document_voice_reuse_the_bots_own_file_ids(desk: Desk) -> None:
    photo = await attachment(desk, photo={"content_base64": b64(b"jpeg")})
    doc = await attachment(desk, document={"content_base64": b64(b"%PDF"), "file_name": "a.pdf"})
    voice = await attachment(desk, voice={})
    await send(desk, await desk.out("the photo", attachments=[photo]))
    await send(desk, await desk.out("", attachments=[doc]))
    await send(desk, await desk.out("", attachments=[voice]))
    views = (await desk.client_view())[-3:]
    assert [v["kind"] for v in views] == ["photo", "document", "voice"]
    assert views[0]["caption"] == "the photo"
    assert views[1]["file_name"] == "a.pdf"
    assert [v["file_unique_id"] for v in views] == [
        photo["file_unique_id"],
        doc["file_unique_id"],
        voice["file_unique_id"],
    ]
    assert await desk.emu.calls("getFile") == []  # nothing was downloaded


async def test_location_and_contact(desk: Desk) -> None:
    location = {"kind": "location", "latitude": 55.75, "longitude": 37.61}
    contact = {"kind": "contact", "phone_number": "+79990001122", "first_name": "Desk"}
    await send(desk, await desk.out(attachments=[location]))
    await send(desk, await desk.out(attachments=[contact]))
    loc, con = (await desk.client_view())[-2:]
    assert loc["kind"] == "location" and loc["location"] == {"latitude": 55.75, "longitude": 37.61}
    assert con["kind"] == "contact" and con["contact"]["phone_number"] == "+79990001122"


async def test_album_of_two_photos_is_one_album(desk: Desk) -> None:
    one = await attachment(desk, photo={})
    two = await attachment(desk, photo={})
    ids = await send(desk, await desk.out("both", attachments=[one, two]))
    views = (await desk.client_view())[-2:]
    assert [v["kind"] for v in views] == ["photo", "photo"]
    assert views[0]["media_group_id"] and views[0]["media_group_id"] == views[1]["media_group_id"]
    assert views[0]["caption"] == "both" and views[1]["caption"] is None
    assert ids == [str(v["message_id"]) for v in views]


async def test_reply_to_a_client_message_is_a_reply(desk: Desk) -> None:
    question = await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text="where is my order?")
    stored = await desk.incoming(question["message_id"])
    await send(desk, await desk.out("on its way"), reply_to=stored)
    view = (await desk.client_view())[-1]
    assert view["text"] == "on its way"
    assert view["reply_to_message_id"] == question["message_id"]
    # a reply to a message the client has since deleted still arrives, as a plain message
    gone = await desk.incoming(9999)
    await send(desk, await desk.out("still here"), reply_to=gone)
    view = (await desk.client_view())[-1]
    assert view["text"] == "still here" and view["reply_to_message_id"] is None


async def test_copy_from_the_team_topic_keeps_content_exactly(desk: Desk) -> None:
    topic = await desk.bot.create_forum_topic(desk.team_chat_id, "Ivan Petrov")
    tid = topic.message_thread_id
    [post] = await operator_post(desk, tid, text="<b>Hi</b> <i>there</i>", parse_mode="HTML")
    meta = {
        "team_chat_id": desk.team_chat_id,
        "team_message_ids": [post.message_id],
        "team_bot_id": desk.bot.id,
    }
    content = message_to_inbound(post, 0, desk.bot.id)
    await send(desk, await desk.out(content.text, entities=content.entities, meta=meta))
    view = (await desk.client_view())[-1]
    assert view["text"] == "Hi there"
    assert [e["type"] for e in view["entities"]] == ["bold", "italic"]
    assert [c["method"] for c in await desk.emu.calls("copyMessage")] == ["copyMessage"]
    assert await desk.emu.calls("sendMessage") == []


async def test_copy_of_an_album_and_with_a_reply(desk: Desk) -> None:
    topic = await desk.bot.create_forum_topic(desk.team_chat_id, "Ivan Petrov")
    posts = await operator_post(
        desk,
        topic.message_thread_id,
        media_group=[{"photo": {}, "caption": "two"}, {"photo": {}}],
    )
    meta = {
        "team_chat_id": desk.team_chat_id,
        "team_message_ids": [p.message_id for p in posts],
        "team_bot_id": desk.bot.id,
    }
    attachments = [message_to_inbound(p, 0, desk.bot.id).attachments[0] for p in posts]
    await send(desk, await desk.out("two", attachments=attachments, meta=meta))
    views = (await desk.client_view())[-2:]
    assert [v["kind"] for v in views] == ["photo", "photo"]
    assert views[0]["media_group_id"] == views[1]["media_group_id"] is not None
    assert views[0]["caption"] == "two"
    assert len(await desk.emu.calls("copyMessages")) == 1
    # copyMessages cannot reply: an album that answers a question is sent again, by file_id
    question = await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text="photos?")
    stored = await desk.incoming(question["message_id"])
    await send(desk, await desk.out("two", attachments=attachments, meta=meta), reply_to=stored)
    views = (await desk.client_view())[-2:]
    assert [v["reply_to_message_id"] for v in views] == [question["message_id"]] * 2
    assert views[0]["media_group_id"] == views[1]["media_group_id"] is not None


async def test_copy_falls_back_to_the_stored_content_when_the_post_is_gone(desk: Desk) -> None:
    topic = await desk.bot.create_forum_topic(desk.team_chat_id, "Ivan Petrov")
    [post] = await operator_post(desk, topic.message_thread_id, text="kept")
    await desk.bot.delete_message(desk.team_chat_id, post.message_id)
    meta = {
        "team_chat_id": desk.team_chat_id,
        "team_message_ids": [post.message_id],
        "team_bot_id": desk.bot.id,
    }
    await send(desk, await desk.out("kept", meta=meta))
    assert (await desk.client_view())[-1]["text"] == "kept"


async def test_a_separate_client_bot_uploads_the_team_bots_file(desk: Desk) -> None:
    token, username = "222:BBB", "acme_client_bot"
    await desk.emu.bot(token, username=username)
    client_bot = desk.emu.make_bot(token)
    await desk.emu.send(desk.client_id, to_bot=username, text="/start")
    photo = await attachment(desk, photo={"content_base64": b64(b"team bot's photo")})
    bots = {desk.bot.id: desk.bot, client_bot.id: client_bot}
    channel = desk.channel  # the channel row does not matter to sending
    connector = TelegramClientConnector(channel, client_bot, bots, desk.team_chat_id)
    connector.pace.take = lambda chat_id, n=1: 0.0  # type: ignore[method-assign]
    meta = {"team_chat_id": desk.team_chat_id, "team_message_ids": [1], "team_bot_id": desk.bot.id}
    message = await desk.out("from the team", attachments=[photo], meta=meta)
    await connector.send(desk.dialog, message, None)
    view = (await desk.client_view(username))[-1]
    assert view["kind"] == "photo" and view["caption"] == "from the team"
    # the client bot can fetch what the client sees: the same bytes
    state = desk.emu.server.state
    record = state.files[view["file_unique_id"]]
    file = await client_bot.get_file(state.file_id_for(client_bot.id, record))
    data = await client_bot.download_file(file.file_path or "")
    assert data is not None and data.read() == b"team bot's photo"
    assert await desk.emu.calls("copyMessage") == []
    assert len(await desk.emu.calls("getFile")) == 2  # the team bot's, then ours in the test


async def test_long_text_is_split_at_paragraphs_with_formatting_kept(desk: Desk) -> None:
    first, second = "a" * 3000, "b" * 2000
    text = f"{first}\n\n{second}"
    bold = {"type": "bold", "offset": 2990, "length": 1010}  # crosses the cut
    ids = await send(desk, await desk.out(text, entities=[bold]))
    views = (await desk.client_view())[-2:]
    # The blank line at the cut stays with the first part: joined, the parts are the text.
    assert [v["text"] for v in views] == [f"{first}\n\n", second]
    assert views[0]["entities"] == [{"type": "bold", "offset": 2990, "length": 10}]
    assert views[1]["entities"] == [{"type": "bold", "offset": 0, "length": 998}]
    assert ids == [str(v["message_id"]) for v in views]


async def test_text_too_long_for_a_caption_follows_the_media(desk: Desk) -> None:
    photo = await attachment(desk, photo={})
    await send(desk, await desk.out("x" * 2000, attachments=[photo]))
    photo_view, text_view = (await desk.client_view())[-2:]
    assert photo_view["kind"] == "photo" and photo_view["caption"] is None
    assert text_view["text"] == "x" * 2000


async def test_retry_after_a_failure_sends_only_what_is_missing(desk: Desk) -> None:
    photo = await attachment(desk, photo={})
    message = await desk.out("y" * 2000, attachments=[photo])
    busy = "Too Many Requests: retry after 3"
    await desk.emu.fault("sendMessage", error_code=429, description=busy, retry_after=3)
    with pytest.raises(TemporaryFailure) as failure:
        await send(desk, message)
    assert failure.value.retry_after == 3
    stored = await Message.get(id=message.id)
    ids = await send(desk, stored)
    views = await desk.client_view()
    assert [v["kind"] for v in views[-2:]] == ["photo", "text"]
    assert sum(1 for v in views if v["kind"] == "photo") == 1
    assert ids == [str(v["message_id"]) for v in views[-2:]]
    again = await send(desk, await Message.get(id=message.id))  # already delivered
    assert again == ids and len(await desk.client_view()) == len(views)


async def test_blocked_or_never_started_client_is_unreachable(desk: Desk) -> None:
    await desk.emu.block(desk.client_id, TEAM_BOT)
    with pytest.raises(RecipientUnreachable, match="bot was blocked by the user"):
        await send(desk, await desk.out("hello?"))
    stranger = await desk.emu.user("Nobody")
    desk.dialog.chat_key = str(stranger["id"])
    with pytest.raises(RecipientUnreachable, match="can't initiate conversation"):
        await send(desk, await desk.out("hello?"))


@pytest.mark.parametrize(
    ("code", "description"),
    [(500, "Internal Server Error"), (502, "Bad Gateway")],
)
async def test_server_errors_are_temporary(desk: Desk, code: int, description: str) -> None:
    await desk.emu.fault("sendMessage", error_code=code, description=description)
    with pytest.raises(TemporaryFailure):
        await send(desk, await desk.out("hello"))
    assert (await desk.client_view())[-1]["text"] != "hello"


async def test_rejected_content(desk: Desk) -> None:
    bogus = {"kind": "photo", "file_id": "AgACnope", "file_unique_id": "x", "bot_id": desk.bot.id}
    with pytest.raises(RejectedContent, match="wrong file identifier"):
        await send(desk, await desk.out("", attachments=[bogus]))
    await desk.emu.fault("sendMessage", description="Bad Request: message is too long")
    with pytest.raises(RejectedContent, match="message is too long"):
        await send(desk, await desk.out("hello"))
    stray = {"kind": "photo", "file_id": "AgACx", "file_unique_id": "y", "bot_id": 999}
    with pytest.raises(RejectedContent, match="does not run"):
        await send(desk, await desk.out("", attachments=[stray]))


async def test_edits_are_mirrored(desk: Desk) -> None:
    message = await desk.out("first version")
    await send(desk, message)
    message.text = "second version"
    message.entities = [{"type": "italic", "offset": 0, "length": 6}]
    await desk.connector.edit(desk.dialog, message)
    view = (await desk.client_view())[-1]
    assert view["text"] == "second version" and view["edited"]
    assert view["entities"] == [{"type": "italic", "offset": 0, "length": 6}]
    await desk.connector.edit(desk.dialog, message)  # not modified: fine

    photo = await attachment(desk, photo={})
    media = await desk.out("caption one", attachments=[photo])
    await send(desk, media)
    media.text = "caption two"
    await desk.connector.edit(desk.dialog, media)
    view = (await desk.client_view())[-1]
    assert view["kind"] == "photo" and view["caption"] == "caption two" and view["edited"]


async def test_an_edit_that_grows_past_the_limit_adds_a_part(desk: Desk) -> None:
    message = await desk.out("short")
    await send(desk, message)
    message.text = "c" * 3000 + "\n" + "d" * 3000
    await desk.connector.edit(desk.dialog, message)
    views = (await desk.client_view())[-2:]
    assert [v["text"] for v in views] == ["c" * 3000 + "\n", "d" * 3000]
    stored = await Message.get(id=message.id)
    assert stored.meta["client_message_ids"] == [v["message_id"] for v in views]
    message.text = "short again"
    await desk.connector.edit(desk.dialog, message)
    views = await desk.client_view()
    assert views[-1]["text"] == "short again"
    assert all(v["text"] != "d" * 3000 for v in views)


async def test_edit_before_delivery_does_nothing(desk: Desk) -> None:
    before = len(await desk.client_view())
    await desk.connector.edit(desk.dialog, await desk.out("never sent"))
    assert len(await desk.client_view()) == before


async def test_an_album_merged_by_core_delivery_is_copied_and_remembered(desk: Desk) -> None:
    # core.delivery merges an album's parts into one message before handing it over.
    from core.delivery import merge_album

    topic = await desk.bot.create_forum_topic(desk.team_chat_id, "Ivan Petrov")
    posts = await operator_post(
        desk, topic.message_thread_id, media_group=[{"photo": {}, "caption": "a"}, {"photo": {}}]
    )
    parts = []
    for post in posts:
        content = message_to_inbound(post, 0, desk.bot.id)
        meta = {
            "team_chat_id": desk.team_chat_id,
            "team_message_ids": [post.message_id],
            "team_bot_id": desk.bot.id,
        }
        parts.append(await desk.out(content.text, attachments=content.attachments, meta=meta))
    for part in parts:
        part.album_key = "g1"
        await part.save(update_fields=["album_key"])
    ids = await send(desk, merge_album(parts))
    views = (await desk.client_view())[-2:]
    assert ids == [str(v["message_id"]) for v in views]
    first = await Message.get(id=parts[0].id)
    assert first.meta["client_message_ids"] == [v["message_id"] for v in views]
    assert first.meta["client_text"] == {"ids": [views[0]["message_id"]], "caption": True}
    # an edit of the album's caption reaches the client's album
    first.text = "a, edited"
    await desk.connector.edit(desk.dialog, first)
    assert (await desk.client_view())[-2]["caption"] == "a, edited"
