"""A Telegram message as the core's normalized inbound message."""

from __future__ import annotations

from aiogram.types import Message

from core.ingest import Inbound, Sender
from core.models import ContactKind
from tgapi.parse import content_of


def message_to_inbound(message: Message, channel_id: int, bot_id: int) -> Inbound:
    user = message.from_user
    return Inbound(
        channel_id=channel_id,
        chat_key=str(message.chat.id),
        external_id=str(message.message_id),
        sender=Sender(
            ContactKind.TELEGRAM,
            str(user.id) if user else str(message.chat.id),
            user.full_name if user else (message.chat.title or message.chat.full_name),
            display=f"@{user.username}" if user and user.username else "",
        ),
        content=content_of(message, bot_id),
        album_key=message.media_group_id,
        reply_to_external_id=(
            str(message.reply_to_message.message_id) if message.reply_to_message else None
        ),
        chat_title=message.chat.title,
    )
