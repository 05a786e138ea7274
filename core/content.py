"""What a message says, the same for every channel: text, formatting spans, attachments.

Offsets are in code points of `text` (Python string indices), never in a channel's units
(Telegram's UTF-16): a span means the same whichever channel wrote or reads it. An
attachment names its bytes by a blob (core.blobs) once someone needed them, and keeps the
ids channels gave the same file (a Telegram `file_id` per bot) so that a channel that has
one re-sends it without the bytes ever moving.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import accumulate
from typing import Any


class SpanKind(StrEnum):
    BOLD = "bold"
    ITALIC = "italic"
    UNDERLINE = "underline"
    STRIKE = "strike"
    SPOILER = "spoiler"
    CODE = "code"
    PRE = "pre"  # with `language` when known
    LINK = "link"  # with `url`
    MENTION = "mention"  # a person; `url` when the channel gave a link to them
    QUOTE = "quote"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    ANIMATION = "animation"
    AUDIO = "audio"
    VOICE = "voice"
    VIDEO_NOTE = "video_note"
    STICKER = "sticker"
    DOCUMENT = "document"
    LOCATION = "location"  # data: latitude, longitude
    CONTACT = "contact"  # data: phone, first_name, last_name


# Kinds whose content is data, not a file.
DATA_KINDS = frozenset({AttachmentKind.LOCATION, AttachmentKind.CONTACT})


@dataclass(frozen=True)
class Span:
    kind: SpanKind
    start: int
    end: int
    url: str | None = None
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "start": self.start, "end": self.end}
        if self.url:
            out["url"] = self.url
        if self.language:
            out["language"] = self.language
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Span | None:
        """None for what is no span of ours (an unknown kind, an empty or broken range)."""
        try:
            kind = SpanKind(raw["kind"])
            start, end = int(raw["start"]), int(raw["end"])
        except (KeyError, TypeError, ValueError):
            return None
        if start < 0 or end <= start:
            return None
        return cls(kind, start, end, raw.get("url") or None, raw.get("language") or None)


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    name: str = ""
    mime: str = ""
    size: int | None = None
    # The content address of the bytes in the BlobStore, once they were fetched or received.
    blob: str | None = None
    # Ids other channels gave the same file: {"telegram:<bot id>": {"file_id": ..., ...}}.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What a data kind carries (a location's coordinates, a contact's phone).
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_file(self) -> bool:
        return self.kind not in DATA_KINDS

    def source(self, key: str) -> dict[str, Any] | None:
        return self.sources.get(key)

    def with_source(self, key: str, ref: dict[str, Any]) -> Attachment:
        return replace(self, sources={**self.sources, key: ref})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        for name in ("name", "mime", "size", "blob"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        if self.sources:
            out["sources"] = self.sources
        if self.data:
            out["data"] = self.data
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Attachment | None:
        try:
            kind = AttachmentKind(raw["kind"])
        except (KeyError, ValueError):
            return None
        size = raw.get("size")
        return cls(
            kind=kind,
            name=str(raw.get("name") or ""),
            mime=str(raw.get("mime") or ""),
            size=int(size) if isinstance(size, int | float) else None,
            blob=raw.get("blob") or None,
            sources=dict(raw.get("sources") or {}),
            data=dict(raw.get("data") or {}),
        )


@dataclass(frozen=True)
class Content:
    text: str = ""
    spans: tuple[Span, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.text.strip() and not self.attachments

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "spans": [s.to_json() for s in self.spans],
            "attachments": [a.to_json() for a in self.attachments],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Content:
        return cls(
            text=str(raw.get("text") or ""),
            spans=spans_from_json(raw.get("spans") or []),
            attachments=attachments_from_json(raw.get("attachments") or []),
        )

    @classmethod
    def plain(cls, text: str) -> Content:
        return cls(text=text)

    def with_text(self, text: str, spans: tuple[Span, ...] = ()) -> Content:
        return replace(self, text=text, spans=spans)


def spans_from_json(raw: list[dict[str, Any]]) -> tuple[Span, ...]:
    return tuple(s for s in (Span.from_json(r) for r in raw if isinstance(r, dict)) if s)


def attachments_from_json(raw: list[dict[str, Any]]) -> tuple[Attachment, ...]:
    return tuple(a for a in (Attachment.from_json(r) for r in raw if isinstance(r, dict)) if a)


def shift(spans: tuple[Span, ...] | list[Span], by: int) -> tuple[Span, ...]:
    """Spans of a text that now starts `by` code points later (a header put above it)."""
    return tuple(replace(s, start=s.start + by, end=s.end + by) for s in spans)


def clip(spans: tuple[Span, ...] | list[Span], start: int, end: int) -> tuple[Span, ...]:
    """The parts of `spans` inside text[start:end], counted from `start` (a cut-out part)."""
    out = []
    for s in spans:
        lo, hi = max(s.start, start), min(s.end, end)
        if hi > lo:
            out.append(replace(s, start=lo - start, end=hi - start))
    return tuple(out)


# Breaks tried in order when a text must be cut: a paragraph, a line, a word.
BREAKS = ("\n\n", "\n", " ")


def split(
    text: str, spans: tuple[Span, ...] | list[Span], limit: int, measure: Any = len
) -> list[tuple[str, tuple[Span, ...]]]:
    """`text` cut into parts of at most `limit` units (`measure` of a string: code points by
    default; a channel counting otherwise passes its own, e.g. `utf16_len`) at paragraph,
    line or word breaks found in the later half of a part; each part keeps the part of every
    span inside it. Joined, the parts are the text (only blank lines that do not fit before a
    cut are left out)."""
    parts: list[tuple[str, tuple[Span, ...]]] = []
    if text.strip() and measure(text) <= limit:
        return [(text, clip(spans, 0, len(text.rstrip())))]  # one part: the common case
    start = 0
    while start < len(text):
        end = _cut(text, start, limit, measure)
        piece = text[start:end]
        if piece.strip():
            visible = start + len(piece.rstrip())
            parts.append((piece, clip(spans, start, visible)))
        start = end
        while start < len(text) and text[start] == "\n":
            start += 1
    return parts


def _cut(text: str, start: int, limit: int, measure: Any) -> int:
    end, units = start, 0
    while end < len(text):
        units += measure(text[end])
        if units > limit:
            break
        end += 1
    if end == len(text):
        return end
    if end == start:
        return start + 1
    half = start + (end - start) // 2
    for sep in BREAKS:
        at = text.rfind(sep, start, end)
        if at >= half:
            cut = at + len(sep)
            while cut < end and text[cut] in "\n ":
                cut += 1
            return cut
    return end


# ---- UTF-16 offsets ---------------------------------------------------------------------------
# Some channels count a text in UTF-16 code units (Telegram's entities, JavaScript strings): a
# character beyond the Basic Multilingual Plane (most emoji) takes two units there, one here.


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Utf16:
    """One text's offsets in code points and in UTF-16 units, both ways."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Units before each code point, and the whole text's units last.
        self._units = list(accumulate((2 if ord(c) > 0xFFFF else 1 for c in text), initial=0))

    @property
    def length(self) -> int:
        return self._units[-1]

    def units(self, index: int) -> int:
        """The UTF-16 offset of code point `index` (clamped to the text)."""
        return self._units[max(0, min(index, len(self.text)))]

    def index(self, units: int, *, end: bool = False) -> int:
        """The code point at UTF-16 offset `units`; one that falls inside a character counts
        that character in when it is a range's `end`, out when it is a start."""
        units = max(0, min(units, self.length))
        if end:
            return bisect_left(self._units, units)
        return bisect_right(self._units, units) - 1

    def span_range(self, offset: int, length: int) -> tuple[int, int]:
        """A range given in UTF-16 units (offset, length) as code points [start, end)."""
        return self.index(offset), self.index(offset + length, end=True)
