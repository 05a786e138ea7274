"""Clients in their private chat with a client bot: what they send becomes core messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.types import Message

from connectors.telegram.inbound import message_to_inbound
from core.connector import IngestFn

# (channel_id, chat_key, external_id, text, entities): core.ingest.Ingest.edit.
EditFn = Callable[[int, str, str, str, list], Awaitable[object]]

# "/start", "/start payload", "/start@some_bot": the chat opening, not a question.
START = r"^/start(@\w+)?(\s|$)"

# Service messages (a pin, "write access allowed", ...) are not something a client said.
CONTENT = F.text | F.caption | F.photo | F.document | F.voice | F.audio | F.video | F.video_note
CONTENT |= F.sticker | F.animation | F.location | F.contact | F.venue | F.poll | F.dice | F.game
CONTENT |= F.story | F.invoice | F.giveaway | F.paid_media | F.checklist


def client_router(
    *,
    channel_id: int,
    bot_id: int,
    ingest: IngestFn,
    on_edit: EditFn,
    greeting: Callable[[str | None], str],
) -> Router:
    router = Router(name=f"telegram-client-{bot_id}")
    router.message.filter(F.chat.type == "private")
    router.edited_message.filter(F.chat.type == "private")

    @router.message(F.text.regexp(START))
    async def start(message: Message) -> None:
        # No dialog: a topic appears with the client's first real message.
        language = message.from_user.language_code if message.from_user else None
        await message.answer(greeting(language), parse_mode=None)

    @router.message(CONTENT)
    async def incoming(message: Message) -> None:
        # Texts that look like commands are content too: a client has no commands but /start.
        await ingest(message_to_inbound(message, channel_id, bot_id))

    @router.edited_message()
    async def edited(message: Message) -> None:
        content = message_to_inbound(message, channel_id, bot_id)
        await on_edit(
            channel_id, content.chat_key, content.external_id, content.text, content.entities
        )

    return router
