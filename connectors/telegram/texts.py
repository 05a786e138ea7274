"""Telegram's text rules: lengths in UTF-16 units, entity spans, splitting long texts."""

from __future__ import annotations

from typing import Any

from aiogram.enums import MessageEntityType
from aiogram.types import MessageEntity
from pydantic import ValidationError

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# Spans that are formatting the sender chose. Auto-detected ones (mentions, links, commands)
# are found again by Telegram on its own, so keeping them does no harm either.
KNOWN_TYPES = frozenset(t.value for t in MessageEntityType)
# Breaks tried in order when a text must be cut: a paragraph, a line, a word.
BREAKS = ("\n\n", "\n", " ")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def to_entities(entities: list[dict[str, Any]]) -> list[MessageEntity] | None:
    """Stored spans as aiogram entities; spans Telegram would not know are dropped."""
    out = []
    for raw in entities:
        if raw.get("type") not in KNOWN_TYPES or int(raw.get("length") or 0) <= 0:
            continue
        try:
            out.append(MessageEntity.model_validate(raw))
        except ValidationError:
            continue
    return out or None


def _cut(text: str, start: int, limit: int) -> int:
    """Where the part starting at `start` ends (exclusive). A cut goes after a paragraph,
    a line or a word break found in the later half of the part, so no part is left nearly
    empty (a name alone above a full text); the break and any blank lines right after it
    stay with the part when they fit, so the parts together hold every character."""
    end, units = start, 0
    while end < len(text):
        units += 2 if ord(text[end]) > 0xFFFF else 1
        if units > limit:
            break
        end += 1
    if end == len(text):
        return end
    if end == start:
        return start + 1  # one character wider than the limit: it goes alone
    half = start + (end - start) // 2
    for sep in BREAKS:
        at = text.rfind(sep, start, end)
        if at >= half:
            cut = at + len(sep)
            while cut < end and text[cut] in "\n ":
                cut += 1
            return cut
    return end


def _shift(entities: list[dict[str, Any]], start16: int, end16: int) -> list[dict[str, Any]]:
    out = []
    for e in entities:
        lo = max(int(e["offset"]), start16)
        hi = min(int(e["offset"]) + int(e["length"]), end16)
        if hi > lo:
            out.append({**e, "offset": lo - start16, "length": hi - lo})
    return out


def split_text(
    text: str, entities: list[dict[str, Any]], limit: int = TEXT_LIMIT
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Cut a text into parts of at most `limit` UTF-16 units at paragraph, line or word
    breaks; each part keeps the part of every span that falls inside it. Joined, the parts
    are the text (only blank lines that do not fit before a cut are left out)."""
    parts: list[tuple[str, list[dict[str, Any]]]] = []
    start = 0
    while start < len(text):
        end = _cut(text, start, limit)
        piece = text[start:end]
        if piece.strip():
            start16 = utf16_len(text[:start])
            # Spans stop where the part's trailing break starts (Telegram trims it).
            visible = utf16_len(piece.rstrip())
            parts.append((piece, _shift(entities, start16, start16 + visible)))
        start = end
        while start < len(text) and text[start] == "\n":
            start += 1  # a run of blank lines longer than the part's room: not carried over
    return parts
