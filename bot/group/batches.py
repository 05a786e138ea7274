"""What goes out in one topic post: an album whole, or the client's texts that piled up while
the group's budget was spent (coalesced: who once, when per line) — in order, never reordered."""

from __future__ import annotations

from datetime import tzinfo

from core.content import Span, SpanKind, shift
from core.models import Dialog, Message
from tgapi.text import with_header

# A coalesced post stays well inside one Telegram message.
COALESCE_LIMIT = 3500
# The client's opening texts ride on the pinned card's first post (a card is ~1000 chars).
OPENING_LIMIT = 2500


def texts_up_to(messages: list[Message], limit: int) -> list[Message]:
    """The leading plain texts of `messages` that together fit into about `limit` chars."""
    batch: list[Message] = []
    size = 0
    for m in messages:
        if m.attachments or m.album_key:
            break
        if batch and m.reply_to_id:  # type: ignore[attr-defined]
            break  # a reply starts a post of its own: that post replies to its target
        size += len(m.text) + len(m.sender_name) + 16
        if batch and size > limit:
            break
        batch.append(m)
    return batch


def batch_of(head: Message, unposted: list[Message]) -> list[Message]:
    """`batch_from` of the dialog's messages not yet shown, from `head` on."""
    if head.album_key:
        return [m for m in unposted if m.album_key == head.album_key]
    if head.attachments:
        return [head]
    return texts_up_to(unposted, COALESCE_LIMIT) or [head]


def opening_text(dialog: Dialog, batch: list[Message], tz: tzinfo) -> tuple[str, tuple[Span, ...]]:
    text, spans = coalesced(batch, tz)
    if dialog.subject:
        text, spans = with_header(f"✉ {dialog.subject}", text, spans)
    return text, spans


def robot_marked(message: Message, label: str) -> str:
    """A message a machine wrote (an auto-reply, a list) is marked: nobody needs to answer it."""
    return f"🤖 {label}" if message.automatic else label


def coalesced(batch: list[Message], tz: tzinfo) -> tuple[str, tuple[Span, ...]]:
    """Several client texts as one post: who once (or per line in group dialogs), when."""
    senders = {m.sender_name for m in batch}
    text, spans = "", ()  # type: tuple[str, tuple[Span, ...]]
    if len(senders) == 1:
        text, spans = with_header(batch[0].sender_name or "—", "")
        text += "\n"
    for m in batch:
        when = m.created_at.astimezone(tz).strftime("%H:%M")
        label = f"{when} {m.sender_name}: " if len(senders) > 1 else f"{when} "
        label = robot_marked(m, label)
        italic = Span(SpanKind.ITALIC, len(text), len(text) + len(label))
        text += label
        spans = (*spans, italic, *shift(m.content.spans, len(text)))
        text += m.text + "\n"
    return text.rstrip("\n"), spans
