"""Files: uploads, getFile, /file/ downloads, per-bot file_ids, media groups."""

from __future__ import annotations

import base64

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InputMediaDocument, InputMediaPhoto

from tests.emulator.fixtures import EmulatorClient

A, B = "111:AAA", "222:BBB"
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


async def setup(emu: EmulatorClient) -> tuple[int, dict]:
    u = await emu.user("Ivan")
    g = await emu.group(
        "G",
        forum=True,
        members=[{"user_id": u["id"], "status": "member"}],
        bots=[
            {"token": A, "status": "administrator", "rights": RIGHTS},
            {"token": B, "status": "administrator", "rights": RIGHTS},
        ],
    )
    return g["chat_id"], u


async def test_upload_get_file_download(emulator: EmulatorClient) -> None:
    chat, _ = await setup(emulator)
    bot = emulator.make_bot(A)
    doc = await bot.send_document(
        chat,
        BufferedInputFile(b"%PDF-1 data", filename="a.pdf"),
        caption="<b>inv</b>",
        parse_mode="HTML",
    )
    assert doc.document and doc.document.file_name == "a.pdf"
    assert doc.document.mime_type == "application/pdf"
    assert doc.caption == "inv" and doc.caption_entities[0].type == "bold"
    f = await bot.get_file(doc.document.file_id)
    assert f.file_path and f.file_size == 11
    data = await bot.download_file(f.file_path)
    assert data is not None and data.read() == b"%PDF-1 data"
    # re-send by file_id keeps the unique id
    again = await bot.send_document(chat, doc.document.file_id)
    assert again.document.file_unique_id == doc.document.file_unique_id
    photo = await bot.send_photo(chat, BufferedInputFile(b"\xff\xd8jpeg", filename="p.jpg"))
    assert photo.photo and photo.photo[-1].width > 0
    for send, name in (
        (bot.send_voice, "v.ogg"),
        (bot.send_audio, "a.mp3"),
        (bot.send_video, "v.mp4"),
        (bot.send_sticker, "s.webp"),
    ):
        m = await send(chat, BufferedInputFile(b"bytes", filename=name))
        assert m.message_id
    kinds = [v["kind"] for v in await emulator.messages(chat)]
    assert kinds == ["document", "document", "photo", "voice", "audio", "video", "sticker"]


async def test_file_id_is_per_bot(emulator: EmulatorClient) -> None:
    chat, user = await setup(emulator)
    a, b = emulator.make_bot(A), emulator.make_bot(B)
    doc = await a.send_document(chat, BufferedInputFile(b"x", filename="x.txt"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await b.send_document(chat, doc.document.file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await b.get_file(doc.document.file_id)
    # a client's photo reaches both bots with different file_ids for the same file
    content = base64.b64encode(b"client photo").decode()
    await emulator.send(user["id"], chat_id=chat, photo={"content_base64": content}, caption="look")
    ua = [u.message for u in await a.get_updates() if u.message and u.message.photo]
    ub = [u.message for u in await b.get_updates() if u.message and u.message.photo]
    fa, fb = ua[0].photo[-1], ub[0].photo[-1]
    assert fa.file_id != fb.file_id and fa.file_unique_id == fb.file_unique_id
    assert ua[0].caption == "look"
    fileb = await b.get_file(fb.file_id)
    assert (await b.download_file(fileb.file_path)).read() == b"client photo"
    async with emulator.session.get(emulator.url(f"/file/bot{A}/nope/file.txt")) as r:
        assert r.status == 404


async def test_media_groups(emulator: EmulatorClient) -> None:
    chat, user = await setup(emulator)
    bot = emulator.make_bot(A)
    media = [
        InputMediaPhoto(media=BufferedInputFile(b"p%d" % i, filename=f"{i}.jpg"), caption=f"c{i}")
        for i in range(3)
    ]
    msgs = await bot.send_media_group(chat, media)
    assert len(msgs) == 3 and len({m.media_group_id for m in msgs}) == 1
    with pytest.raises(TelegramBadRequest):
        await bot.send_media_group(chat, media[:1])
    with pytest.raises(TelegramBadRequest):
        await bot.send_media_group(chat, media * 4)
    docs = [
        InputMediaDocument(media=BufferedInputFile(b"d", filename="d.txt")),
        InputMediaPhoto(media=msgs[0].photo[-1].file_id),
    ]
    with pytest.raises(TelegramBadRequest, match="can't be mixed"):
        await bot.send_media_group(chat, docs)
    album = await emulator.send(
        user["id"],
        chat_id=chat,
        media_group=[
            {"photo": {"file_name": "a.jpg"}, "caption": "first"},
            {"document": {"file_name": "b.pdf", "content_base64": base64.b64encode(b"b").decode()}},
        ],
    )
    assert len(album["message_ids"]) == 2
    view = await emulator.messages(chat)
    tail = view[-2:]
    assert {v["media_group_id"] for v in tail} == {album["media_group_id"]}
    assert tail[1]["file_name"] == "b.pdf"
