"""A core message rebuilt as Telegram requests: a plan of steps, each one or a few messages.

A file_id is valid only for the bot that received it: the same bot re-sends by id, another
bot's file is downloaded from its owner and uploaded again.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
    ReplyParameters,
)
from aiogram.types import Message as TgMessage

from connectors.telegram.texts import CAPTION_LIMIT, split_text, to_entities, utf16_len
from core.connector import RejectedContent

Att = dict[str, Any]
Send = Callable[[ReplyParameters | None], Awaitable[list[TgMessage]]]

MEDIA_TYPES = {"photo": InputMediaPhoto, "video": InputMediaVideo,
               "document": InputMediaDocument, "audio": InputMediaAudio}  # fmt: skip
# What may share an album: photos with videos; documents only with documents; audio alike.
FAMILY = {"photo": "visual", "video": "visual", "document": "document", "audio": "audio"}
CAPTIONLESS = {"sticker", "video_note", "location", "contact"}
ALBUM_MAX = 10


@dataclass
class Step:
    send: Send
    # Where the message's text lives on the client side, for edits: "caption", "text" or None.
    holds_text: str | None = None
    # Messages it puts into the chat (an album: one per item), for the chat's pace.
    size: int = 1


def _runs(attachments: list[Att]) -> list[list[Att]]:
    """Consecutive attachments of one album family, in order; everything else alone."""
    runs: list[list[Att]] = []
    for att in attachments:
        family = FAMILY.get(att["kind"])
        if runs and family and FAMILY.get(runs[-1][0]["kind"]) == family:
            runs[-1].append(att)
        else:
            runs.append([att])
    return runs


def _chunks(run: list[Att]) -> list[list[Att]]:
    """Albums of 2..10: eleven photos go as 9 + 2, never 10 + a lonely one."""
    chunks = [run[i : i + ALBUM_MAX] for i in range(0, len(run), ALBUM_MAX)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-1].insert(0, chunks[-2].pop())
    return chunks


class Outbound:
    def __init__(
        self,
        bot: Bot,
        bots: dict[int, Bot],
        chat_id: int,
        *,
        thread_id: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        self.bot = bot
        self.bots = bots
        self.chat_id = chat_id
        # Into a forum topic when posting in a team group; None in a private chat.
        self.thread_id = thread_id
        # Buttons ride on the first single message (an album cannot carry them).
        self._markup = markup

    def where(self, single: bool = True) -> dict[str, Any]:
        extra: dict[str, Any] = {"message_thread_id": self.thread_id}
        if single and self._markup is not None:
            extra["reply_markup"], self._markup = self._markup, None
        return extra

    def plan(
        self,
        text: str,
        entities: list[dict[str, Any]],
        attachments: list[Att],
        captions: list[tuple[str, list[dict[str, Any]]]] | None = None,
    ) -> list[Step]:
        """The steps that show `text` with `attachments`. `captions`, one per attachment
        (an album whose every item has its own), replaces `text`."""
        if captions is not None:
            return self._plan_captions(attachments, captions)
        steps: list[Step] = []
        groups = [chunk for run in _runs(attachments) for chunk in _chunks(run)]
        in_caption = False
        for group in groups:
            fits = utf16_len(text) <= CAPTION_LIMIT
            blank: list[tuple[str, list[dict[str, Any]]]] = [("", [])] * len(group)
            if not in_caption and fits and group[0]["kind"] not in CAPTIONLESS:
                # Even an empty caption takes the slot: an edit may add a caption later.
                in_caption = True
                first = [(text, entities), *blank[1:]]
                steps.append(Step(self._media(group, first), holds_text="caption", size=len(group)))
            else:
                steps.append(Step(self._media(group, blank), size=len(group)))
        if text.strip() and not in_caption:
            # Media first, then the text that did not fit as a caption, cut to Telegram's size.
            steps.extend(self._texts(text, entities))
        return steps

    def _plan_captions(
        self, attachments: list[Att], captions: list[tuple[str, list[dict[str, Any]]]]
    ) -> list[Step]:
        """Each item with its own caption; a caption too long for one follows the media as
        text, after all of them, so the media's ids come first and in order."""
        steps: list[Step] = []
        after: list[Step] = []
        position = 0
        for group in [chunk for run in _runs(attachments) for chunk in _chunks(run)]:
            mine = captions[position : position + len(group)]
            position += len(group)
            fitted = []
            for att, (text, entities) in zip(group, mine, strict=True):
                if utf16_len(text) <= CAPTION_LIMIT and att["kind"] not in CAPTIONLESS:
                    fitted.append((text, entities))
                    continue
                fitted.append(("", []))
                if text.strip():
                    after.extend(self._texts(text, entities))
            holds = "caption" if any(text for text, _ in fitted) else None
            steps.append(Step(self._media(group, fitted), holds_text=holds, size=len(group)))
        return steps + after

    def _texts(self, text: str, entities: list[dict[str, Any]]) -> list[Step]:
        return [
            Step(self._text(part, part_entities), holds_text="text")
            for part, part_entities in split_text(text, entities)
        ]

    def _text(self, text: str, entities: list[dict[str, Any]]) -> Send:
        async def send(reply: ReplyParameters | None) -> list[TgMessage]:
            # Never parse_mode: a text is never markup, even if the bot has a default one.
            return [
                await self.bot.send_message(
                    self.chat_id,
                    text,
                    entities=to_entities(entities),
                    parse_mode=None,
                    reply_parameters=reply,
                    **self.where(),
                )
            ]

        return send

    def _media(self, group: list[Att], captions: list[tuple[str, list[dict[str, Any]]]]) -> Send:
        extras: list[dict[str, Any]] = []
        for text, entities in captions:
            extra: dict[str, Any] = {"parse_mode": None}
            if text:
                extra.update(caption=text, caption_entities=to_entities(entities))
            extras.append(extra)

        async def send(reply: ReplyParameters | None) -> list[TgMessage]:
            if len(group) == 1:
                return [await self._one(group[0], extras[0], reply)]
            media = [
                MEDIA_TYPES[att["kind"]](media=await self.file(att), **extra)
                for att, extra in zip(group, extras, strict=True)
            ]
            return list(
                await self.bot.send_media_group(
                    self.chat_id, media, reply_parameters=reply, **self.where(single=False)
                )
            )

        return send

    async def _one(
        self, att: Att, caption: dict[str, Any], reply: ReplyParameters | None
    ) -> TgMessage:
        bot, chat_id, kind = self.bot, self.chat_id, att["kind"]
        where = self.where()
        if kind == "location":
            return await bot.send_location(
                chat_id, att["latitude"], att["longitude"], reply_parameters=reply, **where
            )
        if kind == "contact":
            return await bot.send_contact(
                chat_id,
                att["phone_number"],
                att.get("first_name") or att["phone_number"],
                last_name=att.get("last_name"),
                reply_parameters=reply,
                **where,
            )
        file = await self.file(att)
        if kind == "sticker":
            return await bot.send_sticker(chat_id, file, reply_parameters=reply, **where)
        if kind == "video_note":
            return await bot.send_video_note(chat_id, file, reply_parameters=reply, **where)
        senders: dict[str, Callable[..., Awaitable[TgMessage]]] = {
            "photo": bot.send_photo,
            "video": bot.send_video,
            "voice": bot.send_voice,
            "audio": bot.send_audio,
            "animation": bot.send_animation,
        }
        send = senders.get(kind, bot.send_document)
        return await send(chat_id, file, reply_parameters=reply, **caption, **where)

    async def file(self, att: Att) -> str | InputFile:
        file_id, owner_id = att.get("file_id"), att.get("bot_id")
        if not file_id:
            raise RejectedContent(f"a {att.get('kind')} attachment with no Telegram file")
        if owner_id == self.bot.id:
            return str(file_id)
        owner = self.bots.get(int(owner_id)) if owner_id is not None else None
        if owner is None:
            raise RejectedContent(f"the {att['kind']} belongs to a bot this process does not run")
        info = await owner.get_file(file_id)
        buffer = io.BytesIO()
        await owner.download_file(info.file_path or "", destination=buffer)
        name = att.get("file_name") or posixpath.basename(info.file_path or "") or att["kind"]
        return BufferedInputFile(buffer.getvalue(), filename=name)
