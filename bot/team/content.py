"""Posting a stored message's content into the team group, with any of our bots.

The plan (albums, captions, long texts, files owned by another bot) is the Telegram
connector's; here it only gets a topic, a reply and the buttons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from bot.team.calls import call
from connectors.telegram.outbound import CAPTIONLESS, Outbound


async def send_content(
    bot: Bot,
    chat_id: int,
    *,
    text: str,
    entities: list[dict[str, Any]],
    attachments: list[dict[str, Any]],
    bots: dict[int, Bot],
    captions: list[tuple[str, list[dict[str, Any]]]] | None = None,
    thread_id: int | None = None,
    reply_to: int | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
    sent: list[list[int]] | None = None,
    progress: Callable[[list[list[int]]], Awaitable[None]] | None = None,
) -> list[int]:
    """Send text and attachments; returns the new message ids in order.

    `captions`: one per attachment (an album whose items each have one), instead of `text`.
    `sent`: the ids of the steps an earlier attempt finished, which are not sent again;
    `progress` is told the ids so far after every step, to be kept for such a retry."""
    outbound = Outbound(bot, bots, chat_id, thread_id=thread_id, markup=reply_markup)
    if captions is not None:
        steps = outbound.plan(text, entities, attachments, captions)
    elif attachments and all(a["kind"] in CAPTIONLESS for a in attachments):
        # A sticker, location or contact cannot carry a caption: its text goes just above.
        steps = outbound.plan(text, entities, []) + outbound.plan("", [], attachments)
    else:
        steps = outbound.plan(text, entities, attachments)
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
        if progress is not None:
            await progress(done)
    return [i for part in done for i in part]
