"""A Telegram message as channel-neutral content: text (or caption) with spans, and its
attachment with the Telegram source ref of the bot that received it."""

from __future__ import annotations

from typing import Any

from aiogram.types import Message

from core.content import Attachment, AttachmentKind, Content
from core.copies import Origin
from tgapi.text import from_entities

# In the order they are looked for: an animation also arrives as a document, keep the first.
FILE_KINDS = ("animation", "photo", "video", "video_note", "voice", "audio", "sticker", "document")

# Kinds that cannot be relayed: they still reach the operators, as a label, so that nothing a
# client sends disappears silently.
UNSUPPORTED = ("poll", "dice", "game", "story", "invoice", "giveaway", "paid_media", "checklist")

SOURCE = "telegram:"


def source_key(bot_id: int) -> str:
    """Where an attachment keeps the file id a bot knows it by: valid for that bot alone."""
    return f"{SOURCE}{bot_id}"


def bot_of(key: str) -> int | None:
    """The bot of a source key ("telegram:123" -> 123); None for any other source."""
    rest = key[len(SOURCE) :] if key.startswith(SOURCE) else ""
    return int(rest) if rest.isdigit() else None


def _file(message: Message, kind: str, bot_id: int) -> Attachment | None:
    media: Any = getattr(message, kind, None)
    if not media:
        return None
    if kind == "photo":
        media = media[-1]  # the largest size
    ref = {"file_id": media.file_id, "file_unique_id": media.file_unique_id}
    return Attachment(
        kind=AttachmentKind(kind),
        name=getattr(media, "file_name", None) or "",
        mime=getattr(media, "mime_type", None) or "",
        size=media.file_size,
        sources={source_key(bot_id): ref},
    )


def attachments_of(message: Message, bot_id: int) -> tuple[Attachment, ...]:
    if message.location:
        loc = message.location
        data = {"latitude": loc.latitude, "longitude": loc.longitude}
        return (Attachment(AttachmentKind.LOCATION, data=data),)
    if message.contact:
        c = message.contact
        contact = {"phone": c.phone_number, "first_name": c.first_name, "last_name": c.last_name}
        return (Attachment(AttachmentKind.CONTACT, data={k: v for k, v in contact.items() if v}),)
    for kind in FILE_KINDS:
        att = _file(message, kind, bot_id)
        if att is not None:
            return (att,)
    return ()


def is_unsupported(message: Message) -> bool:
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


def content_of(message: Message, bot_id: int) -> Content:
    """What `message` says, as `bot_id` received it (its file ids are that bot's)."""
    text = message.text or message.caption or ""
    spans = from_entities(text, message.entities or message.caption_entities)
    attachments = attachments_of(message, bot_id)
    if message.venue and not text:
        # A venue carries a location (kept as the attachment); its name and address as text.
        text, spans = f"{message.venue.title}\n{message.venue.address}".strip(), ()
    if is_unsupported(message) or (not text and not attachments):
        text, spans = unsupported_label(message), ()
    return Content(text=text, spans=spans, attachments=attachments)


def origin_of(message: Message, bot_id: int, **data: Any) -> Origin:
    """The team-side post an operator wrote a message as, as `bot_id` saw it: kept as the
    message's copy in the team's chat (its id there, the bot whose id it is, `data`)."""
    return Origin(
        chat=str(message.chat.id), ids=(str(message.message_id),), via=source_key(bot_id), data=data
    )
