"""What a client sends to the bot, as the core's Inbound: every kind the channel relays."""

from __future__ import annotations

import base64
from typing import Any

from aiogram.types import Message

from connectors.telegram.inbound import message_to_inbound
from core.content import Attachment, AttachmentKind, Span, SpanKind
from core.models import ContactKind
from tests.connectors.conftest import TEAM_BOT, Desk, updates
from tgapi.parse import is_unsupported, source_key


async def sent_by_client(desk: Desk, **content: Any) -> list[Message]:
    await desk.emu.send(desk.client_id, to_bot=TEAM_BOT, **content)
    return [u.message for u in await updates(desk.bot) if u.message]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_text_with_formatting_sender_and_reply(desk: Desk) -> None:
    [first] = await sent_by_client(desk, text="<b>Hello</b> there", parse_mode="HTML")
    inbound = message_to_inbound(first, channel_id=7, bot_id=desk.bot.id)
    assert inbound.channel_id == 7
    assert inbound.chat_key == str(desk.client_id)
    assert inbound.external_id == str(first.message_id)
    assert inbound.sender.kind is ContactKind.TELEGRAM
    assert inbound.sender.value == str(desk.client_id)
    assert inbound.sender.name == "Ivan Petrov" and inbound.sender.display == "@ivan"
    assert inbound.content.text == "Hello there"
    assert inbound.content.spans == (Span(SpanKind.BOLD, 0, 5),)
    assert inbound.content.attachments == () and inbound.album_key is None
    assert inbound.reply_to_external_id is None

    [reply] = await sent_by_client(desk, text="and?", reply_to_message_id=first.message_id)
    inbound = message_to_inbound(reply, channel_id=7, bot_id=desk.bot.id)
    assert inbound.reply_to_external_id == str(first.message_id)


async def test_command_looking_text_is_content(desk: Desk) -> None:
    [message] = await sent_by_client(desk, text="/refund please")
    inbound = message_to_inbound(message, channel_id=1, bot_id=desk.bot.id)
    assert inbound.content.text == "/refund please"


async def test_photo_keeps_the_largest_size_caption_and_owner_bot(desk: Desk) -> None:
    [message] = await sent_by_client(
        desk,
        photo={"content_base64": b64(b"jpeg bytes")},
        caption="<i>see</i>",
        parse_mode="HTML",
    )
    assert message.photo
    inbound = message_to_inbound(message, channel_id=1, bot_id=desk.bot.id)
    assert inbound.content.text == "see"
    assert inbound.content.spans == (Span(SpanKind.ITALIC, 0, 3),)
    [att] = inbound.content.attachments
    # A file_id is valid for the bot that received it: it is kept as that bot's source.
    assert att == Attachment(
        AttachmentKind.PHOTO,
        size=len(b"jpeg bytes"),
        sources={
            source_key(desk.bot.id): {
                "file_id": message.photo[-1].file_id,
                "file_unique_id": message.photo[-1].file_unique_id,
            }
        },
    )


async def test_every_file_kind(desk: Desk) -> None:
    specs = {
        "document": {"content_base64": b64(b"%PDF"), "file_name": "invoice.pdf"},
        "voice": {},
        "audio": {"file_name": "song.mp3"},
        "video": {"file_name": "clip.mp4"},
        "video_note": {},
        "sticker": {},
        "animation": {"file_name": "fun.gif.mp4"},
    }
    for kind, spec in specs.items():
        [message] = await sent_by_client(desk, **{kind: spec})
        inbound = message_to_inbound(message, channel_id=1, bot_id=desk.bot.id)
        [att] = inbound.content.attachments
        media = getattr(message, kind)
        assert att.kind == kind
        assert att.sources == {
            source_key(desk.bot.id): {
                "file_id": media.file_id,
                "file_unique_id": media.file_unique_id,
            }
        }
        assert att.size == media.file_size
        if kind == "document":
            assert att.name == "invoice.pdf" and att.mime == "application/pdf"
        if kind == "voice":
            assert att.mime == "audio/ogg" and att.name == ""


async def test_location_and_contact(desk: Desk) -> None:
    [loc] = await sent_by_client(desk, location={"latitude": 55.75, "longitude": 37.61})
    inbound = message_to_inbound(loc, channel_id=1, bot_id=desk.bot.id)
    assert inbound.content.text == ""
    assert inbound.content.attachments == (
        Attachment(AttachmentKind.LOCATION, data={"latitude": 55.75, "longitude": 37.61}),
    )
    [con] = await sent_by_client(desk, contact={"phone_number": "+79990001122", "first_name": "A"})
    assert message_to_inbound(con, channel_id=1, bot_id=desk.bot.id).content.attachments == (
        Attachment(AttachmentKind.CONTACT, data={"phone": "+79990001122", "first_name": "A"}),
    )
    [con2] = await sent_by_client(
        desk, contact={"phone_number": "+1", "first_name": "B", "last_name": "C"}
    )
    [att] = message_to_inbound(con2, channel_id=1, bot_id=desk.bot.id).content.attachments
    assert att.data["last_name"] == "C"


async def test_album_parts_share_the_album_key(desk: Desk) -> None:
    parts = await sent_by_client(
        desk, media_group=[{"photo": {}}, {"photo": {}, "caption": "two photos"}]
    )
    inbounds = [message_to_inbound(m, channel_id=1, bot_id=desk.bot.id) for m in parts]
    assert len(inbounds) == 2
    assert inbounds[0].album_key == inbounds[1].album_key == parts[0].media_group_id
    assert inbounds[0].album_key is not None
    assert [i.content.text for i in inbounds] == ["", "two photos"]
    assert all(i.content.attachments[0].kind is AttachmentKind.PHOTO for i in inbounds)


def _message(**content: Any) -> Message:
    return Message.model_validate(
        {
            "message_id": 5,
            "date": 0,
            "chat": {"id": 42, "type": "private", "first_name": "Ann"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ann"},
            **content,
        }
    )


def test_unsupported_kinds_arrive_as_a_label() -> None:
    poll = _message(
        poll={
            "id": "1",
            "question": "Pizza?",
            "options": [
                {"text": "yes", "voter_count": 0, "persistent_id": "a"},
                {"text": "no", "voter_count": 0, "persistent_id": "b"},
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
    )
    dice = _message(dice={"emoji": "🎲", "value": 4})
    assert is_unsupported(poll) and is_unsupported(dice)
    assert message_to_inbound(poll, 1, 9).content.text == "[poll] Pizza?"
    assert message_to_inbound(dice, 1, 9).content.text == "[dice] 🎲 4"
    assert not is_unsupported(_message(text="hi"))


def test_venue_is_a_location_with_its_name() -> None:
    venue = _message(
        location={"latitude": 1.5, "longitude": 2.5},
        venue={
            "location": {"latitude": 1.5, "longitude": 2.5},
            "title": "Cafe",
            "address": "Main st 1",
        },
    )
    inbound = message_to_inbound(venue, 1, 9)
    assert inbound.content.text == "Cafe\nMain st 1"
    assert inbound.content.attachments == (
        Attachment(AttachmentKind.LOCATION, data={"latitude": 1.5, "longitude": 2.5}),
    )
