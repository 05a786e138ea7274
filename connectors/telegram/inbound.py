"""A Telegram message as the core's normalized inbound message."""

from __future__ import annotations

from typing import Any

from aiogram.types import Message

from core.ingest import Inbound, Sender
from core.models import ContactKind

# In the order they are looked for: an animation also arrives as a document, keep the first.
FILE_KINDS = ("animation", "photo", "video", "video_note", "voice", "audio", "sticker", "document")

# Kinds that cannot be relayed: they still reach the operators, as a label, so that nothing a
# client sends disappears silently.
UNSUPPORTED = ("poll", "dice", "game", "story", "invoice", "giveaway", "paid_media", "checklist")


def _file(message: Message, kind: str, bot_id: int) -> dict[str, Any] | None:
    media = getattr(message, kind, None)
    if not media:
        return None
    if kind == "photo":
        media = media[-1]  # the largest size
    att: dict[str, Any] = {
        "kind": kind,
        "file_id": media.file_id,
        "file_unique_id": media.file_unique_id,
        "file_name": getattr(media, "file_name", None),
        "mime_type": getattr(media, "mime_type", None),
        "size": media.file_size,
        # A file_id is valid only for the bot that received it.
        "bot_id": bot_id,
    }
    return {k: v for k, v in att.items() if v is not None}


def attachments_of(message: Message, bot_id: int) -> list[dict[str, Any]]:
    if message.location:
        loc = message.location
        return [{"kind": "location", "latitude": loc.latitude, "longitude": loc.longitude}]
    if message.contact:
        c = message.contact
        contact = {"kind": "contact", "phone_number": c.phone_number, "first_name": c.first_name}
        return [contact | ({"last_name": c.last_name} if c.last_name else {})]
    for kind in FILE_KINDS:
        att = _file(message, kind, bot_id)
        if att is not None:
            return [att]
    return []


def describe_unsupported(message: Message) -> bool:
    """True for the kinds we cannot relay (polls, dice, games, stories, invoices, ...)."""
    return any(getattr(message, kind, None) for kind in UNSUPPORTED)


def unsupported_label(message: Message) -> str:
    """What the operators see instead of content we cannot relay: "[poll] question"."""
    if message.poll:
        return f"[poll] {message.poll.question}"
    if message.dice:
        return f"[dice] {message.dice.emoji} {message.dice.value}"
    if message.game:
        return f"[game] {message.game.title}"
    for kind in UNSUPPORTED:
        if getattr(message, kind, None):
            return f"[{kind}]"
    return "[unsupported message]"


def message_to_inbound(message: Message, channel_id: int, bot_id: int) -> Inbound:
    user = message.from_user
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or []
    attachments = attachments_of(message, bot_id)
    if message.venue and not text:
        # A venue carries a location (kept as the attachment); its name and address as text.
        text = f"{message.venue.title}\n{message.venue.address}".strip()
    if describe_unsupported(message) or (not text and not attachments):
        text, entities = unsupported_label(message), []
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
        text=text,
        entities=[e.model_dump(mode="json", exclude_none=True) for e in entities],
        attachments=attachments,
        album_key=message.media_group_id,
        reply_to_external_id=(
            str(message.reply_to_message.message_id) if message.reply_to_message else None
        ),
        chat_title=message.chat.title,
    )
