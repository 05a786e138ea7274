"""Text building for the team group: UTF-16 offsets, headers, splitting. Never parse_mode."""

from __future__ import annotations

from typing import Any

from aiogram.types import MessageEntity

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def shift_entities(entities: list[dict[str, Any]], by: int) -> list[dict[str, Any]]:
    return [{**e, "offset": e["offset"] + by} for e in entities]


def with_header(
    header: str, text: str, entities: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """`header` in bold on its own line above the text; the text's own formatting kept."""
    if not header:
        return text, entities
    prefix = f"{header}\n" if text else header
    bold = {"type": "bold", "offset": 0, "length": utf16_len(header)}
    return prefix + text, [bold, *shift_entities(entities, utf16_len(prefix))]


def to_entities(entities: list[dict[str, Any]]) -> list[MessageEntity] | None:
    return [MessageEntity.model_validate(e) for e in entities] or None


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at paragraph, line or word boundaries so that every part fits."""
    parts: list[str] = []
    while utf16_len(text) > limit:
        cut = limit
        while utf16_len(text[:cut]) > limit:
            cut -= 1
        window = text[:cut]
        for sep in ("\n\n", "\n", " "):
            at = window.rfind(sep)
            if at > cut // 2:
                cut = at + len(sep)
                break
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts
