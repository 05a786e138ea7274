"""Posting a stored message's content into a Telegram chat with any bot.

A file_id belongs to the bot that received it: the same bot re-sends by id, another bot
downloads the bytes from the owner and uploads them.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    ReplyParameters,
)

from bot.team.calls import call
from bot.team.texts import CAPTION_LIMIT, split_text, to_entities, utf16_len

ALBUM_KINDS = {"photo": InputMediaPhoto, "video": InputMediaVideo, "document": InputMediaDocument,
               "audio": InputMediaAudio}  # fmt: skip
CAPTIONLESS = {"sticker", "video_note", "location", "contact"}


async def file_for(bot: Bot, att: dict[str, Any], bots: dict[int, Bot]) -> str | InputFile:
    if att.get("bot_id") == bot.id or att.get("bot_id") not in bots:
        return str(att["file_id"])
    owner = bots[att["bot_id"]]
    info = await call(owner.get_file(att["file_id"]))
    buf = io.BytesIO()
    await call(owner.download_file(info.file_path or "", destination=buf))
    return BufferedInputFile(buf.getvalue(), filename=att.get("file_name") or att["kind"])


async def send_content(
    bot: Bot,
    chat_id: int,
    *,
    text: str,
    entities: list[dict[str, Any]],
    attachments: list[dict[str, Any]],
    bots: dict[int, Bot],
    thread_id: int | None = None,
    reply_to: int | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> list[int]:
    """Send text and attachments; returns the new message ids in order."""
    common: dict[str, Any] = {"message_thread_id": thread_id}
    # Buttons go on the first single message (an album cannot carry them).
    markup: dict[str, Any] = {"reply_markup": reply_markup} if reply_markup else {}
    if reply_to:
        common["reply_parameters"] = ReplyParameters(
            message_id=reply_to, allow_sending_without_reply=True
        )
    sent: list[Message] = []
    media = [a for a in attachments if a["kind"] in ALBUM_KINDS]
    others = [a for a in attachments if a not in media]
    caption_fits = utf16_len(text) <= CAPTION_LIMIT
    text_used = False
    if text and attachments and all(a["kind"] in CAPTIONLESS for a in attachments):
        # A sticker, a location, a contact cannot carry the header: it goes above them, so
        # that it reads as who sent what follows, not as part of the next message.
        for part in split_text(text):
            sent.append(await call(bot.send_message(chat_id, part, **common, **markup)))
            markup = {}
        text_used = True
    if len(media) >= 2:
        for start in range(0, len(media), 10):
            group = []
            for index, att in enumerate(media[start : start + 10]):
                first = start == 0 and index == 0 and caption_fits
                group.append(
                    ALBUM_KINDS[att["kind"]](
                        media=await file_for(bot, att, bots),
                        caption=text if first else None,
                        caption_entities=to_entities(entities) if first else None,
                    )
                )
            sent.extend(await call(bot.send_media_group(chat_id, group, **common)))
        text_used = caption_fits
    else:
        others = media + others
    for att in others:
        kind = att["kind"]
        caption: dict[str, Any] = {}
        if kind not in CAPTIONLESS and not text_used and caption_fits:
            caption = {"caption": text or None, "caption_entities": to_entities(entities)}
            text_used = True
        sent.append(await _send_one(bot, chat_id, att, bots, common | markup, caption))
        markup = {}
    if text and not text_used:
        # Long texts are split; formatting is kept on single-part texts only.
        parts = split_text(text)
        for part in parts:
            ents = to_entities(entities) if len(parts) == 1 else None
            sent.append(
                await call(bot.send_message(chat_id, part, entities=ents, **common, **markup))
            )
            markup = {}
    return [m.message_id for m in sent]


async def _send_one(
    bot: Bot,
    chat_id: int,
    att: dict[str, Any],
    bots: dict[int, Bot],
    common: dict[str, Any],
    caption: dict[str, Any],
) -> Message:
    kind = att["kind"]
    if kind == "location":
        return await call(bot.send_location(chat_id, att["latitude"], att["longitude"], **common))
    if kind == "contact":
        return await call(
            bot.send_contact(
                chat_id,
                att["phone_number"],
                att.get("first_name") or "—",
                last_name=att.get("last_name"),
                **common,
            )
        )
    file = await file_for(bot, att, bots)
    senders: dict[str, Callable[..., Awaitable[Message]]] = {
        "photo": bot.send_photo,
        "document": bot.send_document,
        "voice": bot.send_voice,
        "audio": bot.send_audio,
        "video": bot.send_video,
        "animation": bot.send_animation,
    }
    if kind == "sticker":
        return await call(bot.send_sticker(chat_id, file, **common))
    if kind == "video_note":
        return await call(bot.send_video_note(chat_id, file, **common))
    send = senders.get(kind, bot.send_document)
    return await call(send(chat_id, file, **common, **caption))
