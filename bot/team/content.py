"""Posting a stored message's content into the team group, with any of our bots.

The plan (albums, captions, long texts) is tgapi.render's and the files are tgapi.files'; here
it only gets a topic, a reply and the buttons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from core.content import Content
from tgapi.errors import call
from tgapi.render import Caption, Files, Outbound, captionless


async def send_content(
    bot: Bot,
    chat_id: int,
    *,
    content: Content,
    files: Files,
    captions: Sequence[Caption] | None = None,
    thread_id: int | None = None,
    reply_to: int | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
    sent: list[list[int]] | None = None,
    progress: Callable[[list[list[int]]], Awaitable[None]] | None = None,
) -> list[int]:
    """Send `content`; returns the new message ids in order.

    `captions`: one per attachment (an album whose items each have one), instead of `text`.
    `sent`: the ids of the steps an earlier attempt finished, which are not sent again;
    `progress` is told the ids so far after every step but the last, to be kept for such a
    retry (after the last, the caller keeps what it returns)."""
    outbound = Outbound(bot, files, chat_id, thread_id=thread_id, markup=reply_markup)
    text, spans, attachments = content.text, content.spans, content.attachments
    if captions is not None:
        steps = outbound.plan(text, spans, attachments, captions)
    elif captionless(attachments):
        # A sticker, location or contact cannot carry a caption: its text goes just above.
        steps = outbound.plan(text, spans, ()) + outbound.plan("", (), attachments)
    else:
        steps = outbound.plan(text, spans, attachments)
    done = [list(part) for part in sent or []]
    for index, step in enumerate(steps):
        if index < len(done):
            continue
        reply = (
            ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to and index == 0
            else None
        )
        done.append([m.message_id for m in await call(step.send(reply))])
        if progress is not None and index < len(steps) - 1:
            await progress(done)
    return [i for part in done for i in part]
