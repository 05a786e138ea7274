"""Content rebuilt as Telegram requests: a plan of steps, each one message or one album.

Texts go with their spans as entities (never parse_mode: a text is never markup); a text too
long for a caption follows its media; files come from `files` (tgapi.files.TelegramFiles),
which knows each bot's file ids and uploads what a bot has none for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram import Bot
from aiogram.types import (
    InlineKeyboardMarkup,
    InputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
)
from aiogram.types import Message as TgMessage

from core.content import Attachment, Span
from core.content import AttachmentKind as K
from tgapi.text import CAPTION_LIMIT, split, to_entities, utf16_len

Send = Callable[[ReplyParameters | None], Awaitable[list[TgMessage]]]
Caption = tuple[str, Sequence[Span]]

MEDIA_TYPES = {K.PHOTO: InputMediaPhoto, K.VIDEO: InputMediaVideo,
               K.DOCUMENT: InputMediaDocument, K.AUDIO: InputMediaAudio}  # fmt: skip
# What may share an album: photos with videos; documents only with documents; audio alike.
FAMILY = {K.PHOTO: "visual", K.VIDEO: "visual", K.DOCUMENT: "document", K.AUDIO: "audio"}
CAPTIONLESS = frozenset({K.STICKER, K.VIDEO_NOTE, K.LOCATION, K.CONTACT})
ALBUM_MAX = 10


class Files(Protocol):
    """tgapi.files.TelegramFiles, as the planner uses it."""

    async def input_for(self, bot: Bot, att: Attachment) -> str | InputFile: ...

    async def learned(self, bot: Bot, att: Attachment, sent_message: TgMessage) -> None: ...


@dataclass
class Step:
    send: Send
    # Where the message's text lives on the client side, for edits: "caption", "text" or None.
    holds_text: str | None = None
    # Messages it puts into the chat (an album: one per item), for the chat's pace.
    size: int = 1


def captionless(attachments: Sequence[Attachment]) -> bool:
    """Attachments none of which can carry a caption (a sticker, a location, a contact)."""
    return bool(attachments) and all(a.kind in CAPTIONLESS for a in attachments)


def _runs(attachments: Sequence[Attachment]) -> list[list[Attachment]]:
    """Consecutive attachments of one album family, in order; everything else alone."""
    runs: list[list[Attachment]] = []
    for att in attachments:
        family = FAMILY.get(att.kind)
        if runs and family and FAMILY.get(runs[-1][0].kind) == family:
            runs[-1].append(att)
        else:
            runs.append([att])
    return runs


def _chunks(run: list[Attachment]) -> list[list[Attachment]]:
    """Albums of 2..10: eleven photos go as 9 + 2, never 10 + a lonely one."""
    chunks = [run[i : i + ALBUM_MAX] for i in range(0, len(run), ALBUM_MAX)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-1].insert(0, chunks[-2].pop())
    return chunks


def _groups(attachments: Sequence[Attachment]) -> list[list[Attachment]]:
    return [chunk for run in _runs(attachments) for chunk in _chunks(run)]


class Outbound:
    def __init__(
        self,
        bot: Bot,
        files: Files,
        chat_id: int,
        *,
        thread_id: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        self.bot = bot
        self.files = files
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
        spans: Sequence[Span],
        attachments: Sequence[Attachment],
        captions: Sequence[Caption] | None = None,
    ) -> list[Step]:
        """The steps that show `text` with `attachments`. `captions`, one per attachment
        (an album whose every item has its own), replaces `text`."""
        if captions is not None:
            return self._plan_captions(attachments, captions)
        steps: list[Step] = []
        in_caption = False
        for group in _groups(attachments):
            fits = utf16_len(text) <= CAPTION_LIMIT
            blank: list[Caption] = [("", ())] * len(group)
            if not in_caption and fits and group[0].kind not in CAPTIONLESS:
                # Even an empty caption takes the slot: an edit may add a caption later.
                in_caption = True
                first = [(text, spans), *blank[1:]]
                steps.append(Step(self._media(group, first), holds_text="caption", size=len(group)))
            else:
                steps.append(Step(self._media(group, blank), size=len(group)))
        if text.strip() and not in_caption:
            # Media first, then the text that did not fit as a caption, cut to Telegram's size.
            steps.extend(self.texts(text, spans))
        return steps

    def _plan_captions(
        self, attachments: Sequence[Attachment], captions: Sequence[Caption]
    ) -> list[Step]:
        """Each item with its own caption; a caption too long for one follows the media as
        text, after all of them, so the media's ids come first and in order."""
        steps: list[Step] = []
        after: list[Step] = []
        position = 0
        for group in _groups(attachments):
            mine = captions[position : position + len(group)]
            position += len(group)
            fitted: list[Caption] = []
            for att, (text, spans) in zip(group, mine, strict=True):
                if utf16_len(text) <= CAPTION_LIMIT and att.kind not in CAPTIONLESS:
                    fitted.append((text, spans))
                    continue
                fitted.append(("", ()))
                if text.strip():
                    after.extend(self.texts(text, spans))
            holds = "caption" if any(text for text, _ in fitted) else None
            steps.append(Step(self._media(group, fitted), holds_text=holds, size=len(group)))
        return steps + after

    def texts(self, text: str, spans: Sequence[Span]) -> list[Step]:
        """A text in as many messages as Telegram's limit needs."""
        return [
            Step(self._text(part, part_spans), holds_text="text")
            for part, part_spans in split(text, spans)
        ]

    def _text(self, text: str, spans: Sequence[Span]) -> Send:
        async def send(reply: ReplyParameters | None) -> list[TgMessage]:
            # Never parse_mode: a text is never markup, even if the bot has a default one.
            return [
                await self.bot.send_message(
                    self.chat_id,
                    text,
                    entities=to_entities(text, spans),
                    parse_mode=None,
                    reply_parameters=reply,
                    **self.where(),
                )
            ]

        return send

    def _media(self, group: list[Attachment], captions: Sequence[Caption]) -> Send:
        extras: list[dict[str, Any]] = []
        for text, spans in captions:
            extra: dict[str, Any] = {"parse_mode": None}
            if text:
                extra.update(caption=text, caption_entities=to_entities(text, spans))
            extras.append(extra)

        async def send(reply: ReplyParameters | None) -> list[TgMessage]:
            if len(group) == 1:
                sent = [await self._one(group[0], extras[0], reply)]
            else:
                media = [
                    MEDIA_TYPES[att.kind](media=await self.files.input_for(self.bot, att), **extra)
                    for att, extra in zip(group, extras, strict=True)
                ]
                sent = list(
                    await self.bot.send_media_group(
                        self.chat_id, media, reply_parameters=reply, **self.where(single=False)
                    )
                )
            for att, message in zip(group, sent, strict=False):
                if att.is_file:
                    await self.files.learned(self.bot, att, message)
            return sent

        return send

    async def _one(
        self, att: Attachment, caption: dict[str, Any], reply: ReplyParameters | None
    ) -> TgMessage:
        bot, chat_id, kind, data = self.bot, self.chat_id, att.kind, att.data
        where = self.where()
        if kind is K.LOCATION:
            return await bot.send_location(
                chat_id, data["latitude"], data["longitude"], reply_parameters=reply, **where
            )
        if kind is K.CONTACT:
            return await bot.send_contact(
                chat_id,
                data["phone"],
                data.get("first_name") or data["phone"],
                last_name=data.get("last_name"),
                reply_parameters=reply,
                **where,
            )
        file = await self.files.input_for(bot, att)
        if kind is K.STICKER:
            return await bot.send_sticker(chat_id, file, reply_parameters=reply, **where)
        if kind is K.VIDEO_NOTE:
            return await bot.send_video_note(chat_id, file, reply_parameters=reply, **where)
        senders: dict[K, Callable[..., Awaitable[TgMessage]]] = {
            K.PHOTO: bot.send_photo,
            K.VIDEO: bot.send_video,
            K.VOICE: bot.send_voice,
            K.AUDIO: bot.send_audio,
            K.ANIMATION: bot.send_animation,
        }
        send = senders.get(kind, bot.send_document)
        return await send(chat_id, file, reply_parameters=reply, **caption, **where)
