"""Telegram's text rules: lengths in UTF-16 units, spans <-> entities, long texts in parts.

Content keeps its formatting as spans in code points (core.content); Telegram counts
entities in UTF-16 units. This is the one place that converts between the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.enums import MessageEntityType as T
from aiogram.types import MessageEntity

from core import content
from core.content import Span, SpanKind, Utf16, shift, utf16_len

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "from_entities",
    "split",
    "to_entities",
    "utf16_len",
    "with_header",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# Entities the sender chose. The rest (hashtags, commands, custom emoji, ...) Telegram finds
# again on its own or no other channel can carry.
KINDS: dict[str, SpanKind] = {
    T.BOLD: SpanKind.BOLD,
    T.ITALIC: SpanKind.ITALIC,
    T.UNDERLINE: SpanKind.UNDERLINE,
    T.STRIKETHROUGH: SpanKind.STRIKE,
    T.SPOILER: SpanKind.SPOILER,
    T.CODE: SpanKind.CODE,
    T.PRE: SpanKind.PRE,
    T.TEXT_LINK: SpanKind.LINK,
    T.URL: SpanKind.LINK,
    T.TEXT_MENTION: SpanKind.MENTION,
    T.MENTION: SpanKind.MENTION,
    T.BLOCKQUOTE: SpanKind.QUOTE,
    T.EXPANDABLE_BLOCKQUOTE: SpanKind.QUOTE,
}
TYPES: dict[SpanKind, str] = {
    SpanKind.BOLD: T.BOLD,
    SpanKind.ITALIC: T.ITALIC,
    SpanKind.UNDERLINE: T.UNDERLINE,
    SpanKind.STRIKE: T.STRIKETHROUGH,
    SpanKind.SPOILER: T.SPOILER,
    SpanKind.CODE: T.CODE,
    SpanKind.PRE: T.PRE,
    SpanKind.QUOTE: T.BLOCKQUOTE,
}


def from_entities(text: str, entities: Iterable[MessageEntity] | None) -> tuple[Span, ...]:
    """Telegram's entities of `text` as spans in code points."""
    index = Utf16(text)
    spans = []
    for entity in entities or ():
        kind = KINDS.get(entity.type)
        if kind is None:
            continue
        start, end = index.span_range(entity.offset, entity.length)
        if end <= start:
            continue
        url = None
        if entity.type == T.TEXT_LINK:
            url = entity.url
        elif entity.type == T.URL:
            url = text[start:end]
        elif entity.type == T.TEXT_MENTION and entity.user is not None:
            url = f"tg://user?id={entity.user.id}"
        if kind is SpanKind.LINK and not url:
            continue
        language = entity.language if kind is SpanKind.PRE else None
        spans.append(Span(kind, start, end, url=url, language=language or None))
    return tuple(spans)


def to_entities(text: str, spans: Iterable[Span]) -> list[MessageEntity] | None:
    """Spans of `text` as Telegram's entities (UTF-16 units); None when there are none. A
    mention without a link is left to Telegram, which finds an @username by itself."""
    index = Utf16(text)
    out = []
    for span in spans:
        offset = index.units(span.start)
        length = index.units(span.end) - offset
        if length <= 0:
            continue
        if span.kind in (SpanKind.LINK, SpanKind.MENTION):
            if not span.url:
                continue
            kind: str = T.TEXT_LINK
        else:
            kind = TYPES[span.kind]
        out.append(
            MessageEntity(
                type=kind,
                offset=offset,
                length=length,
                url=span.url if kind == T.TEXT_LINK else None,
                language=span.language if span.kind is SpanKind.PRE else None,
            )
        )
    return out or None


def split(
    text: str, spans: Iterable[Span], limit: int = TEXT_LIMIT
) -> list[tuple[str, tuple[Span, ...]]]:
    """`text` in parts of at most `limit` UTF-16 units, each with its part of the spans."""
    return content.split(text, tuple(spans), limit, measure=utf16_len)


def with_header(header: str, text: str, spans: Iterable[Span] = ()) -> tuple[str, tuple[Span, ...]]:
    """`header` in bold on its own line above the text; the text's own formatting kept."""
    if not header:
        return text, tuple(spans)
    prefix = f"{header}\n" if text else header
    return prefix + text, (Span(SpanKind.BOLD, 0, len(header)), *shift(tuple(spans), len(prefix)))
