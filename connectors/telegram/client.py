"""Operator replies delivered to a client's private chat with a client bot.

Progress is kept in the message's meta after every Telegram request, so a retry after a
crash or a 429 in the middle of a long message sends only what the client has not seen.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message as TgMessage
from aiogram.types import ReplyParameters

from connectors.telegram.errors import REPLY_GONE, delivery_errors, is_not_modified
from connectors.telegram.outbound import CAPTIONLESS, Outbound, Send, Step
from connectors.telegram.pace import ChatPace
from connectors.telegram.texts import CAPTION_LIMIT, split_text, to_entities, utf16_len
from core.connector import IngestFn, RejectedContent, Sent, TemporaryFailure
from core.models import Channel, ChannelKind, Dialog, Message, MessageKind

# meta keys written here
IDS = "client_message_ids"  # every client-side message id, in order
STEPS = "client_steps"  # ids per finished step (a retry skips these)
TEXT = "client_text"  # {"ids": [...], "caption": bool}: where the text is, for edits
DONE = "client_done"
PATH = "client_path"  # "copy" or "rebuild": a retry continues the way it started


class TelegramClientConnector:
    kind = ChannelKind.TELEGRAM

    def __init__(self, channel: Channel, bot: Bot, bots: dict[int, Bot], team_chat_id: int) -> None:
        self.channel = channel
        self.bot = bot
        self.bots = bots
        self.team_chat_id = team_chat_id
        self.pace = ChatPace()

    async def start(self, ingest: IngestFn) -> None:
        # Updates come through the process's polling and client_router.
        self.ingest = ingest

    async def stop(self) -> None:
        return None

    # --- send ------------------------------------------------------------------------------

    async def send(self, dialog: Dialog, message: Message, reply_to: Message | None) -> Sent:
        if message.meta.get(DONE):
            return Sent(external_ids=[str(i) for i in message.meta.get(IDS, [])])
        chat_id = int(dialog.chat_key)
        reply = self._reply_parameters(reply_to)
        steps = []
        if message.meta.get(PATH) != "rebuild":
            steps = self._copy_plan(chat_id, message, reply)
        if steps:
            try:
                await self._run(message, steps, reply, "copy", chat_id)
            except RejectedContent as exc:
                if "not found" not in exc.reason or message.meta.get(STEPS):
                    raise
                # The operator's message is gone from the topic: rebuild it from what we stored.
                steps = []
        if not steps:
            steps = Outbound(self.bot, self.bots, chat_id).plan(
                message.text, message.entities, message.attachments
            )
            if not steps:
                raise RejectedContent("nothing to send: no text and no attachments")
            await self._run(message, steps, reply, "rebuild", chat_id)
        return Sent(external_ids=[str(i) for i in message.meta[IDS]])

    def _reply_parameters(self, reply_to: Message | None) -> ReplyParameters | None:
        target = None
        if reply_to is not None and reply_to.kind is MessageKind.IN and reply_to.external_id:
            target = int(reply_to.external_id)
        elif reply_to is not None and reply_to.meta.get(IDS):
            target = int(reply_to.meta[IDS][0])  # an earlier reply of ours
        if target is None:
            return None
        return ReplyParameters(message_id=target, allow_sending_without_reply=True)

    def _copy_plan(
        self, chat_id: int, message: Message, reply: ReplyParameters | None
    ) -> list[Step]:
        """The same bot copies the operator's message: every kind and format exactly."""
        meta = message.meta
        ids = [int(i) for i in meta.get("team_message_ids") or []]
        if not ids or meta.get("team_bot_id") != self.bot.id:
            return []
        source = int(meta.get("team_chat_id") or self.team_chat_id)
        first = message.attachments[0]["kind"] if message.attachments else None
        holds = "text" if first is None else None if first in CAPTIONLESS else "caption"
        if len(ids) == 1:

            async def copy_one(reply: ReplyParameters | None) -> list[Any]:
                return [
                    await self.bot.copy_message(chat_id, source, ids[0], reply_parameters=reply)
                ]

            return [Step(copy_one, holds_text=holds)]
        if reply is not None:
            # copyMessages cannot reply: rebuild the album, which reuses our own file_ids.
            return []

        async def copy_many(reply: ReplyParameters | None) -> list[Any]:
            return list(await self.bot.copy_messages(chat_id, source, ids))

        return [Step(copy_many, holds_text=holds, size=len(ids))]

    async def _run(
        self,
        message: Message,
        steps: list[Step],
        reply: ReplyParameters | None,
        path: str,
        chat_id: int,
    ) -> None:
        done: list[list[int]] = list(message.meta.get(STEPS) or [])
        for index in range(len(done), len(steps)):
            wait = self.pace.take(chat_id, steps[index].size)
            if wait > 0:
                # The steps done so far are kept: the rest goes when the chat's pace allows.
                raise TemporaryFailure("the chat's pace", retry_after=wait)
            sent = await self._attempt(steps[index].send, reply if index == 0 else None)
            done.append([m.message_id for m in sent])
            ids = [i for part in done for i in part]
            await self._save(message, {PATH: path, STEPS: done, IDS: ids})
        text_ids = [done[i][0] for i, step in enumerate(steps) if step.holds_text]
        caption = any(step.holds_text == "caption" for step in steps)
        await self._save(message, {DONE: True, TEXT: {"ids": text_ids, "caption": caption}})

    async def _attempt(self, send: Send, reply: ReplyParameters | None) -> list[TgMessage]:
        with delivery_errors():
            try:
                return await send(reply)
            except TelegramBadRequest as exc:
                if reply is None or REPLY_GONE not in exc.message:
                    raise
                return await send(None)

    async def _save(self, message: Message, changes: dict[str, Any]) -> None:
        message.meta = {**message.meta, **changes}
        await message.save(update_fields=["meta"])

    # --- edit ------------------------------------------------------------------------------

    async def edit(self, dialog: Dialog, message: Message) -> Sent | None:
        """Mirror an operator's edit: the caption, or the text parts (added or removed as the
        new text needs). Before delivery there is nothing to do: the send carries the edit."""
        where = message.meta.get(TEXT)
        if not where or not where.get("ids"):
            return None
        chat_id = int(dialog.chat_key)
        if where.get("caption"):
            if utf16_len(message.text) > CAPTION_LIMIT:
                raise RejectedContent("message caption is too long")
            await self._edit_caption(chat_id, int(where["ids"][0]), message)
            return None
        if await self._edit_parts(chat_id, message, [int(i) for i in where["ids"]]):
            return Sent(external_ids=[str(i) for i in message.meta.get(IDS, [])])
        return None

    async def _edit_caption(self, chat_id: int, message_id: int, message: Message) -> None:
        with delivery_errors():
            try:
                await self.bot.edit_message_caption(
                    chat_id=chat_id,
                    message_id=message_id,
                    caption=message.text or None,
                    caption_entities=to_entities(message.entities) if message.text else None,
                    parse_mode=None,
                )
            except TelegramBadRequest as exc:
                if not is_not_modified(exc):
                    raise

    async def _edit_parts(self, chat_id: int, message: Message, old: list[int]) -> bool:
        """True when the parts changed (one added or removed)."""
        parts = split_text(message.text, message.entities)
        if not parts:
            raise RejectedContent("message text is empty")
        new: list[int] = []
        with delivery_errors():
            for index, (text, entities) in enumerate(parts):
                if index < len(old):
                    try:
                        await self.bot.edit_message_text(
                            text,
                            chat_id=chat_id,
                            message_id=old[index],
                            entities=to_entities(entities),
                            parse_mode=None,
                        )
                    except TelegramBadRequest as exc:
                        if not is_not_modified(exc):
                            raise
                    new.append(old[index])
                else:
                    sent = await self.bot.send_message(
                        chat_id, text, entities=to_entities(entities), parse_mode=None
                    )
                    new.append(sent.message_id)
            for surplus in old[len(parts) :]:
                await self.bot.delete_message(chat_id, surplus)
        if new == old:
            return False
        ids = [i for i in message.meta.get(IDS, []) if i not in old[len(parts) :]]
        ids += [i for i in new if i not in ids]
        await self._save(message, {IDS: ids, TEXT: {"ids": new, "caption": False}})
        return True
