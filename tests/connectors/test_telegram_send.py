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
from core.channels import RecipientUnreachable, RejectedContent, TemporaryFailure
from core.content import Attachment, AttachmentKind, Span, SpanKind
from core.delivery import copy_ids
from core.models import Message
from tests.connectors.conftest import TEAM_BOT, Desk, updates
from tgapi.parse import content_of, source_key


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def operator_post(desk: Desk, thread_id: int | None = None, **content: Any) -> list[Any]:
    """The operator writes in the team group; the team bot's view of it (file_ids are its)."""
    await desk.emu.send(desk.operator_id, chat_id=desk.team_chat_id, thread_id=thread_id, **content)
    messages = [u.message for u in await updates(desk.bot) if u.message]
    # The bot also hears about its own topic creation: keep what the operator wrote.
    return [m for m in messages if m.from_user and m.from_user.id == desk.operator_id]


async def attachment(desk: Desk, **content: Any) -> Attachment:
    [message] = await operator_post(desk, **content)
    return content_of(message, desk.bot.id).attachments[0]


def unique_id(att: Attachment, bot_id: int) -> str:
    return str((att.source(source_key(bot_id)) or {})["file_unique_id"])


async def send(desk: Desk, message: Message, reply_to: Message | None = None) -> list[str]:
    return await desk.deliver(message, reply_to)


async def test_text_with_entities_html_looking_text_arrives_literally(desk: Desk) -> None:
    # Even a bot with a default parse mode never parses a text as markup.
    session = AiohttpSession(api=TelegramAPIServer.from_base(desk.emu.base_url))
    bot = Bot(desk.bot.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    desk.connector = TelegramClientConnector(
        bot, bots={bot.id: bot}, team_chat_id=desk.team_chat_id
    )
    desk.connector.pace.take = lambda chat_id, n=1: 0.0  # type: ignore[method-assign]
    text = "<b>not bold</b> & this is"
    bold = {"type": "bold", "offset": 21, "length": 4}
    try:
        message = await desk.out(text, spans=[Span(SpanKind.BOLD, 21, 25)])
        ids = await send(desk, message)
    finally:
        await session.close()
    [view] = (await desk.client_view())[-1:]
    assert view["text"] == text and view["entities"] == [bold]
    assert ids == [str(view["message_id"])]


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
        unique_id(photo, desk.bot.id),
        unique_id(doc, desk.bot.id),
        unique_id(voice, desk.bot.id),
    ]
    assert await desk.emu.calls("getFile") == []  # nothing was downloaded


async def test_location_and_contact(desk: Desk) -> None:
    location = Attachment(AttachmentKind.LOCATION, data={"latitude": 55.75, "longitude": 37.61})
    contact = Attachment(AttachmentKind.CONTACT, data={"phone": "+79990001122", "first_name": "D"})
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
    content = content_of(post, desk.bot.id)
    await send(desk, await desk.out(content.text, spans=content.spans, posted_as=[post.message_id]))
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
    posted_as = [p.message_id for p in posts]
    attachments = [content_of(p, desk.bot.id).attachments[0] for p in posts]
    await send(desk, await desk.out("two", attachments=attachments, posted_as=posted_as))
    views = (await desk.client_view())[-2:]
    assert [v["kind"] for v in views] == ["photo", "photo"]
    assert views[0]["media_group_id"] == views[1]["media_group_id"] is not None
    assert views[0]["caption"] == "two"
    assert len(await desk.emu.calls("copyMessages")) == 1
    # copyMessages cannot reply: an album that answers a question is sent again, by file_id
    question = await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, text="photos?")
    stored = await desk.incoming(question["message_id"])
    again = await desk.out("two", attachments=attachments, posted_as=posted_as)
    await send(desk, again, reply_to=stored)
    views = (await desk.client_view())[-2:]
    assert [v["reply_to_message_id"] for v in views] == [question["message_id"]] * 2
    assert views[0]["media_group_id"] == views[1]["media_group_id"] is not None


async def test_copy_falls_back_to_the_stored_content_when_the_post_is_gone(desk: Desk) -> None:
    topic = await desk.bot.create_forum_topic(desk.team_chat_id, "Ivan Petrov")
    [post] = await operator_post(desk, topic.message_thread_id, text="kept")
    await desk.bot.delete_message(desk.team_chat_id, post.message_id)
    await send(desk, await desk.out("kept", posted_as=[post.message_id]))
    assert (await desk.client_view())[-1]["text"] == "kept"


async def test_a_separate_client_bot_uploads_the_team_bots_file(desk: Desk) -> None:
    token, username = "222:BBB", "acme_client_bot"
    await desk.emu.bot(token, username=username)
    client_bot = desk.emu.make_bot(token)
    await desk.emu.send(desk.client_id, to_bot=username, text="/start")
    photo = await attachment(desk, photo={"content_base64": b64(b"team bot's photo")})
    bots = {desk.bot.id: desk.bot, client_bot.id: client_bot}
    connector = TelegramClientConnector(client_bot, bots=bots, team_chat_id=desk.team_chat_id)
    connector.pace.take = lambda chat_id, n=1: 0.0  # type: ignore[method-assign]
    message = await desk.out("from the team", attachments=[photo], posted_as=[1])
    await desk.deliver(message, connector=connector)
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
    bold = Span(SpanKind.BOLD, 2990, 4000)  # crosses the cut
    ids = await send(desk, await desk.out(text, spans=[bold]))
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
    await desk.dialog.save(update_fields=["chat_key"])
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
    ref = {"file_id": "AgACnope", "file_unique_id": "x"}
    bogus = Attachment(AttachmentKind.PHOTO, sources={source_key(desk.bot.id): ref})
    with pytest.raises(RejectedContent, match="wrong file identifier"):
        await send(desk, await desk.out("", attachments=[bogus]))
    await desk.emu.fault("sendMessage", description="Bad Request: message is too long")
    with pytest.raises(RejectedContent, match="message is too long"):
        await send(desk, await desk.out("hello"))
    stray = Attachment(AttachmentKind.PHOTO, sources={source_key(999): {"file_id": "AgACx"}})
    with pytest.raises(RejectedContent):
        await send(desk, await desk.out("", attachments=[stray]))


async def test_edits_are_mirrored(desk: Desk) -> None:
    message = await desk.out("first version")
    await send(desk, message)
    message.text = "second version"
    message.spans = [Span(SpanKind.ITALIC, 0, 6).to_json()]
    await desk.mirror_edit(message)
    view = (await desk.client_view())[-1]
    assert view["text"] == "second version" and view["edited"]
    assert view["entities"] == [{"type": "italic", "offset": 0, "length": 6}]
    await desk.mirror_edit(message)  # not modified: fine

    photo = await attachment(desk, photo={})
    media = await desk.out("caption one", attachments=[photo])
    await send(desk, media)
    media.text = "caption two"
    await desk.mirror_edit(media)
    view = (await desk.client_view())[-1]
    assert view["kind"] == "photo" and view["caption"] == "caption two" and view["edited"]


async def test_an_edit_that_grows_past_the_limit_adds_a_part(desk: Desk) -> None:
    message = await desk.out("short")
    await send(desk, message)
    message.text = "c" * 3000 + "\n" + "d" * 3000
    await desk.mirror_edit(message)
    views = (await desk.client_view())[-2:]
    assert [v["text"] for v in views] == ["c" * 3000 + "\n", "d" * 3000]
    # A client's reply to either part finds the message.
    assert set(await copy_ids(message)) >= {str(v["message_id"]) for v in views}
    message.text = "short again"
    await desk.mirror_edit(message)
    views = await desk.client_view()
    assert views[-1]["text"] == "short again"
    assert all(v["text"] != "d" * 3000 for v in views)


async def test_edit_before_delivery_does_nothing(desk: Desk) -> None:
    before = len(await desk.client_view())
    await desk.mirror_edit(await desk.out("never sent"))
    assert len(await desk.client_view()) == before


async def test_an_album_merged_by_core_delivery_is_copied_and_remembered(desk: Desk) -> None:
    # core.delivery merges an album's parts into one message before handing it over.
    topic = await desk.bot.create_forum_topic(desk.team_chat_id, "Ivan Petrov")
    posts = await operator_post(
        desk, topic.message_thread_id, media_group=[{"photo": {}, "caption": "a"}, {"photo": {}}]
    )
    parts = []
    for post in posts:
        content = content_of(post, desk.bot.id)
        parts.append(
            await desk.out(
                content.text, attachments=content.attachments, posted_as=[post.message_id]
            )
        )
    for part in parts:
        part.album_key = "g1"
        await part.save(update_fields=["album_key"])
    await send(desk, parts[0])
    views = (await desk.client_view())[-2:]
    # Each part is known by the id of its item: a client's reply to either finds it.
    assert [await copy_ids(part) for part in parts] == [[str(v["message_id"])] for v in views]
    assert len(await desk.emu.calls("copyMessages")) == 1
    first = await Message.get(id=parts[0].id)
    assert first.delivered_at is not None
    assert (await Message.get(id=parts[1].id)).delivered_at is not None
    # an edit of the album's caption reaches the client's album
    first.text = "a, edited"
    await desk.mirror_edit(first)
    assert (await desk.client_view())[-2]["caption"] == "a, edited"
