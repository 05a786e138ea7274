"""Text for the team group: a bold header above a client's text. Never parse_mode."""

from __future__ import annotations

from typing import Any

from connectors.telegram.texts import split_text, to_entities, utf16_len

__all__ = ["shift_entities", "split_text", "to_entities", "utf16_len", "with_header"]


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
