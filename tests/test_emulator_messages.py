"""Messages: text limits, parse modes, replies, edits, deletes, pins, copies, forwards."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

from tests.emulator.fixtures import EmulatorClient

TOKEN = "111:AAA"
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


async def forum(emu: EmulatorClient, rights: dict | None = None) -> tuple[int, dict]:
    u = await emu.user("Ivan", username="ivan")
    g = await emu.group(
        "Support",
        forum=True,
        members=[{"user_id": u["id"], "status": "member"}],
        bots=[
            {
                "token": TOKEN,
                "status": "administrator",
                "rights": RIGHTS if rights is None else rights,
            }
        ],
    )
    return g["chat_id"], u


async def test_text_limits_and_parse_modes(emulator: EmulatorClient) -> None:
    chat, _ = await forum(emulator)
    bot = emulator.make_bot(TOKEN)
    assert (await bot.send_message(chat, "x" * 4096)).text == "x" * 4096
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(chat, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(chat, "   ")
    # length counts after entity parsing
    m = await bot.send_message(chat, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    assert m.entities and m.entities[0].type == "bold" and m.entities[0].length == 4096
    m = await bot.send_message(
        chat, '<b>bold</b> <a href="https://x.y">l</a> &lt;3 😀<i>i</i>', parse_mode="HTML"
    )
    assert m.text == "bold l <3 😀i"
    types = [(e.type, e.offset, e.length) for e in m.entities]
    assert types == [("bold", 0, 4), ("text_link", 5, 1), ("italic", 12, 1)]  # utf-16 offsets
    with pytest.raises(
        TelegramBadRequest,
        match='can\'t parse entities: Unsupported start tag "xyz" at byte offset 0',
    ):
        await bot.send_message(chat, "<xyz>a</xyz>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag corresponding to start tag"):
        await bot.send_message(chat, "<b>a", parse_mode="HTML")
    m = await bot.send_message(
        chat, r"*b* _i_ __u__ ~s~ ||sp|| `c` [l](https://e.x) 1\.0", parse_mode="MarkdownV2"
    )
    assert m.text == "b i u s sp c l 1.0"
    assert [e.type for e in m.entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved and must be escaped"):
        await bot.send_message(chat, "1.0", parse_mode="MarkdownV2")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(chat, _file(), caption="c" * 1025)


def _file():
    from aiogram.types import BufferedInputFile

    return BufferedInputFile(b"hello file", filename="a.txt")


async def test_parameter_validation(emulator: EmulatorClient) -> None:
    chat, _ = await forum(emulator)
    async with emulator.session.post(
        emulator.url(f"/bot{TOKEN}/sendMessage"), data={"chat_id": str(chat)}
    ) as r:
        body = await r.json()
        assert r.status == 400 == body["error_code"]
        assert body == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message text is empty",
        }
    async with emulator.session.post(
        emulator.url(f"/bot{TOKEN}/sendMessage"), json={"text": "hi"}
    ) as r:
        assert (await r.json())["description"] == "Bad Request: chat_id is empty"
    async with emulator.session.post(
        emulator.url(f"/bot{TOKEN}/sendMessage"),
        json={"chat_id": chat, "text": "hi", "message_thread_id": "abc"},
    ) as r:
        assert r.status == 400
    async with emulator.session.post(emulator.url(f"/bot{TOKEN}/noSuchMethod")) as r:
        assert r.status == 404 and (await r.json())["description"] == "Not Found"
    async with emulator.session.post(emulator.url("/botnotatoken/getMe")) as r:
        assert r.status == 401 and (await r.json())["description"] == "Unauthorized"
    async with emulator.session.get(emulator.url(f"/bot{TOKEN}/getMe")) as r:
        me = await r.json()
        assert me["result"]["username"] == "bot111" and me["result"]["id"] == 111


async def test_replies_edits_deletes_pins(emulator: EmulatorClient) -> None:
    chat, user = await forum(emulator)
    bot = emulator.make_bot(TOKEN)
    topic = await bot.create_forum_topic(chat, "T")
    tid = topic.message_thread_id
    client = await emulator.send(user["id"], chat_id=chat, thread_id=tid, text="question")
    reply = await bot.send_message(
        chat, "answer", reply_parameters=ReplyParameters(message_id=client["message_id"])
    )
    assert reply.reply_to_message and reply.reply_to_message.text == "question"
    assert reply.message_thread_id == tid  # a reply lands in the replied message's topic
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(chat, "x", reply_parameters=ReplyParameters(message_id=9999))
    # edits
    edited = await bot.edit_message_text("answer 2", chat_id=chat, message_id=reply.message_id)
    assert edited.edit_date and edited.text == "answer 2"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("answer 2", chat_id=chat, message_id=reply.message_id)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("z", chat_id=chat, message_id=client["message_id"])
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("z", chat_id=chat, message_id=9999)
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])
    m2 = await bot.edit_message_reply_markup(
        chat_id=chat, message_id=reply.message_id, reply_markup=kb
    )
    assert m2.reply_markup.inline_keyboard[0][0].callback_data == "a"
    view = {m["message_id"]: m for m in await emulator.messages(chat, thread_id=tid)}
    assert view[reply.message_id]["edited"] is True
    assert view[reply.message_id]["reply_to_message_id"] == client["message_id"]
    assert view[reply.message_id]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    # user edit -> edited_message update
    await emulator.edit(user["id"], client["message_id"], chat_id=chat, text="question!")
    upd = [u for u in await bot.get_updates() if u.edited_message]
    assert upd and upd[0].edited_message.text == "question!"
    # pins
    assert await bot.pin_chat_message(chat, reply.message_id)
    view = {m["message_id"]: m for m in await emulator.messages(chat)}
    assert view[reply.message_id]["pinned"] is True
    assert await bot.unpin_chat_message(chat, message_id=reply.message_id)
    # deletes
    assert await bot.delete_message(chat, client["message_id"])
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(chat, client["message_id"])
    assert await bot.delete_messages(chat, [reply.message_id, 9999])
    left = [m["message_id"] for m in await emulator.messages(chat, thread_id=tid)]
    assert client["message_id"] not in left and reply.message_id not in left


async def test_rights_for_delete_and_pin(emulator: EmulatorClient) -> None:
    chat, user = await forum(emulator, rights={"can_manage_topics": True})
    bot = emulator.make_bot(TOKEN)
    m = await emulator.send(user["id"], chat_id=chat, text="hi")
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(chat, m["message_id"])
    with pytest.raises(
        TelegramBadRequest, match="not enough rights to manage pinned messages in the chat"
    ):
        await bot.pin_chat_message(chat, m["message_id"])
    own = await bot.send_message(chat, "mine")
    assert await bot.delete_message(chat, own.message_id)  # own messages are deletable


async def test_copy_and_forward(emulator: EmulatorClient) -> None:
    chat, user = await forum(emulator)
    bot = emulator.make_bot(TOKEN)
    await emulator.send(user["id"], to_bot="bot111", text="/start")
    t = await bot.create_forum_topic(chat, "T")
    m = await emulator.send(user["id"], to_bot="bot111", text="<b>x</b>", parse_mode="HTML")
    copied = await bot.copy_message(
        chat, user["id"], m["message_id"], message_thread_id=t.message_thread_id
    )
    view = await emulator.messages(chat, thread_id=t.message_thread_id)
    assert view[-1]["message_id"] == copied.message_id and view[-1]["text"] == "x"
    assert view[-1]["entities"][0]["type"] == "bold"
    fwd = await bot.forward_message(chat, user["id"], m["message_id"])
    assert fwd.forward_origin is not None and fwd.forward_origin.sender_user.id == user["id"]
    album = await emulator.send(
        user["id"], to_bot="bot111", media_group=[{"photo": {}}, {"photo": {}, "caption": "two"}]
    )
    ids = [m["message_id"], *album["message_ids"]]
    res = await bot.copy_messages(chat, user["id"], ids, message_thread_id=t.message_thread_id)
    assert len(res) == 3
    view = {v["message_id"]: v for v in await emulator.messages(chat)}
    g1, g2 = (view[r.message_id]["media_group_id"] for r in res[1:])
    assert g1 and g1 == g2 and g1 != album["media_group_id"]
    res = await bot.forward_messages(user["id"], chat, [r.message_id for r in res])
    assert len(res) == 3
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(chat, user["id"], 9999)
    with pytest.raises(TelegramBadRequest):
        await bot.copy_messages(chat, user["id"], list(range(1, 102)))


async def test_location_contact_reaction(emulator: EmulatorClient) -> None:
    chat, user = await forum(emulator)
    bot = emulator.make_bot(TOKEN)
    loc = await bot.send_location(chat, 55.75, 37.61)
    assert loc.location and loc.location.latitude == 55.75
    con = await bot.send_contact(chat, "+100", "Ann")
    assert con.contact and con.contact.phone_number == "+100"
    await bot.set_message_reaction(chat, con.message_id, [{"type": "emoji", "emoji": "👍"}])
    view = await emulator.messages(chat)
    assert [v["kind"] for v in view] == ["location", "contact"]
    assert view[1]["reactions"][0]["emoji"] == "👍"
    await emulator.send(user["id"], chat_id=chat, location={"latitude": 1, "longitude": 2})
    await emulator.send(user["id"], chat_id=chat, contact={"phone_number": "+1", "first_name": "Z"})
    ups = [u.message for u in await bot.get_updates()]
    assert ups[0].location.longitude == 2 and ups[1].contact.first_name == "Z"


async def test_entity_parser_details() -> None:
    from tests.emulator import entities as e

    text, ents = e.parse(
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler>",
        "HTML",
    )
    assert text == "x = 1qs"
    assert ents == [
        {"type": "pre", "language": "python", "offset": 0, "length": 5},
        {"type": "expandable_blockquote", "offset": 5, "length": 1},
        {"type": "spoiler", "offset": 6, "length": 1},
    ]
    text, ents = e.parse("```py\nprint(1)\n```\n>quoted\nplain \\!", "MarkdownV2")
    assert text == "print(1)\n\nquoted\nplain !"
    assert ents[0] == {"type": "pre", "offset": 0, "length": 9, "language": "py"}
    assert ents[1]["type"] == "blockquote"
    with pytest.raises(e.ParseError, match="Can't find end of the entity"):
        e.parse("*bold", "MarkdownV2")
    with pytest.raises(e.ParseError, match="Unmatched end tag"):
        e.parse("<b><i>x</b></i>", "HTML")
