"""Answers to people in the team group, as outbox rows: no handler waits for the group's budget.

A handler queues its answer (a line, a keyboard, a list, the edit of a keyboard into its
confirmation) and is done; a pressed button is answered at once meanwhile. The row goes out
as soon as the team bot's group budget allows: after the clients' own messages, ahead of new
topics and cosmetic work. Answers of one topic keep their order (their lane). Private chats
have no group budget: answers there are sent at once, by the handlers themselves.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
)

from bot.team.content import send_content
from core.channels import RejectedContent
from core.content import Content
from core.context import CoreContext
from core.models import OutboxItem
from core.outbox import GiveUp, Priority, enqueue
from tgapi.errors import is_not_modified
from tgapi.text import from_entities, to_entities

if TYPE_CHECKING:
    from bot.group.gateway import Gateway

log = logging.getLogger(__name__)

GROUP_ANSWER = "group.answer"


def lane_of(chat_id: int, thread_id: int | None) -> str:
    return f"answers:{chat_id}:{thread_id or 0}"


def thread_of(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


async def queue_answer(
    ctx: CoreContext,
    chat_id: int,
    content: Content,
    *,
    thread_id: int | None = None,
    reply_to: int | None = None,
    edit: int | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
    preview: bool = True,
) -> None:
    """`content` into the group's topic `thread_id` (General: None), a reply to `reply_to`;
    or, with `edit`, the text that message shows from now on."""
    payload: dict[str, Any] = {
        "chat_id": chat_id,
        "thread_id": thread_id,
        "content": content.to_json(),
    }
    if reply_to:
        payload["reply_to"] = reply_to
    if edit:
        payload["edit"] = edit
    if reply_markup is not None:
        payload["markup"] = reply_markup.model_dump(mode="json", exclude_none=True)
    if not preview:
        payload["preview"] = False
    await enqueue(
        ctx, GROUP_ANSWER, payload, priority=Priority.ANSWER, lane=lane_of(chat_id, thread_id)
    )


def content_of(
    text: str,
    entities: list[MessageEntity] | None = None,
    link_preview_options: LinkPreviewOptions | None = None,
) -> tuple[Content, bool]:
    """aiogram's way of giving a text (entities, link preview) as content and a preview flag."""
    preview = not (link_preview_options and link_preview_options.is_disabled)
    return Content(text, from_entities(text, entities)), preview


async def queue_reply(
    ctx: CoreContext,
    message: Message,
    text: str,
    *,
    entities: list[MessageEntity] | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
    link_preview_options: LinkPreviewOptions | None = None,
) -> None:
    """A reply to `message` (in the group), as Message.reply would send it."""
    content, preview = content_of(text, entities, link_preview_options)
    await queue_answer(
        ctx,
        message.chat.id,
        content,
        thread_id=thread_of(message),
        reply_to=message.message_id,
        reply_markup=reply_markup,
        preview=preview,
    )


async def queue_edit(
    ctx: CoreContext,
    message: Message,
    text: str,
    *,
    entities: list[MessageEntity] | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
    link_preview_options: LinkPreviewOptions | None = None,
) -> None:
    """`message` (the bot's own, in the group) shows `text` from now on, as Message.edit_text
    would make it (without `reply_markup` its keyboard goes)."""
    content, preview = content_of(text, entities, link_preview_options)
    await queue_answer(
        ctx,
        message.chat.id,
        content,
        thread_id=thread_of(message),
        edit=message.message_id,
        reply_markup=reply_markup,
        preview=preview,
    )


class GroupAnswers:
    """The outbox handler of answer rows; each call is of the team bot's group budget."""

    def __init__(self, desk: Gateway) -> None:
        self.desk = desk

    async def post(self, item: OutboxItem) -> None:
        payload = item.payload
        content = Content.from_json(payload["content"])
        markup = payload.get("markup")
        keyboard = InlineKeyboardMarkup.model_validate(markup) if markup else None
        try:
            await self.send(payload, content, keyboard)
        except (TelegramBadRequest, RejectedContent) as exc:
            if is_not_modified(exc):
                return
            # The topic deleted, a keyboard deleted meanwhile, a file refused: no retry helps.
            log.info("answer in %s not posted: %s", payload.get("thread_id"), exc)
            raise GiveUp(f"answer not posted: {exc}") from exc

    async def send(
        self, payload: dict[str, Any], content: Content, keyboard: InlineKeyboardMarkup | None
    ) -> None:
        desk, chat_id = self.desk, int(payload["chat_id"])
        entities = to_entities(content.text, content.spans)
        preview = None if payload.get("preview", True) else LinkPreviewOptions(is_disabled=True)
        if payload.get("edit"):
            message_id = int(payload["edit"])
            await desk.group_call(
                lambda: desk.bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=message_id,
                    text=content.text,
                    entities=entities,
                    parse_mode=None,
                    reply_markup=keyboard,
                    link_preview_options=preview,
                )
            )
            return
        thread_id = payload.get("thread_id")
        reply_to = payload.get("reply_to")
        if content.attachments:
            desk.spend()
            await send_content(
                desk.bot,
                chat_id,
                content=content,
                files=desk.files,
                thread_id=thread_id,
                reply_to=reply_to,
                reply_markup=keyboard,
            )
            return
        reply = (
            ReplyParameters(message_id=int(reply_to), allow_sending_without_reply=True)
            if reply_to
            else None
        )
        await desk.group_call(
            lambda: desk.bot.send_message(
                chat_id,
                content.text,
                entities=entities,
                parse_mode=None,
                message_thread_id=thread_id,
                reply_parameters=reply,
                reply_markup=keyboard,
                link_preview_options=preview,
            )
        )
