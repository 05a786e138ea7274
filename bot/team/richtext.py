"""Building a message as text plus spans (links, bold), sent as entities — never parse_mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiogram.types import MessageEntity

from core.content import Span, SpanKind, shift
from tgapi.text import to_entities, utf16_len

LIMIT = 4000


class Rich:
    def __init__(self) -> None:
        self.text = ""
        self.spans: list[Span] = []

    def add(self, text: str, *, bold: bool = False, url: str | None = None) -> Rich:
        start, end = len(self.text), len(self.text) + len(text)
        if end > start and url:
            self.spans.append(Span(SpanKind.LINK, start, end, url=url))
        elif end > start and bold:
            self.spans.append(Span(SpanKind.BOLD, start, end))
        self.text += text
        return self

    def line(self, text: str = "", **kwargs: Any) -> Rich:
        if self.text:
            self.text += "\n"
        return self.add(text, **kwargs)

    def block(self, text: str, spans: Sequence[Span]) -> Rich:
        """Text with its own spans on a new line (a client's words, never markup)."""
        if self.text:
            self.text += "\n"
        self.spans.extend(shift(tuple(spans), len(self.text)))
        self.text += text
        return self

    def fits(self, more: int = 200) -> bool:
        return utf16_len(self.text) + more < LIMIT

    def message_entities(self) -> list[MessageEntity] | None:
        return to_entities(self.text, self.spans)
