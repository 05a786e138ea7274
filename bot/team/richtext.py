"""Building a message as text plus entities (links, bold) — never parse_mode."""

from __future__ import annotations

from typing import Any

from aiogram.types import MessageEntity

from bot.team.texts import utf16_len

LIMIT = 4000


class Rich:
    def __init__(self) -> None:
        self.text = ""
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str, *, bold: bool = False, url: str | None = None) -> Rich:
        offset, length = utf16_len(self.text), utf16_len(text)
        if length and url:
            self.entities.append(
                {"type": "text_link", "offset": offset, "length": length, "url": url}
            )
        elif length and bold:
            self.entities.append({"type": "bold", "offset": offset, "length": length})
        self.text += text
        return self

    def line(self, text: str = "", **kwargs: Any) -> Rich:
        if self.text:
            self.text += "\n"
        return self.add(text, **kwargs)

    def block(self, text: str, entities: list[dict[str, Any]]) -> Rich:
        """Text with its own entities on a new line (a client's words, never markup)."""
        if self.text:
            self.text += "\n"
        shift = utf16_len(self.text)
        self.entities.extend({**e, "offset": e["offset"] + shift} for e in entities)
        self.text += text
        return self

    def fits(self, more: int = 200) -> bool:
        return utf16_len(self.text) + more < LIMIT

    def message_entities(self) -> list[MessageEntity] | None:
        return [MessageEntity.model_validate(e) for e in self.entities] or None

    def snapshot(self) -> tuple[str, list[dict[str, Any]]]:
        return self.text, list(self.entities)
