"""What a channel gets of an operator's message: the content fitted to what the channel can
carry (core.channels.Capabilities), and what had to be left out.

One place decides it for every channel:
- formatting the channel cannot show is dropped; a link keeps its address in the text
  ("docs (https://acme.io/docs)") and a mention its name, so no word and no address is
  lost; the rest (bold, code, a quote…) is told to the team;
- an attachment of a kind the channel does not take is left out, and so is a file over its
  size limit or one whose bytes cannot be had;
- a file the channel needs the bytes of (it knows none of the file's sources) gets a blob:
  fetched on demand by whoever knows the source (`BlobFetchers`, registered by the front end:
  the core knows no Telegram);
- a text longer than the channel's limit is cut into several messages (`parts`).

What is left out is told to the team (core.events.ContentLeftOut -> a notice in the topic),
and the rest is still delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core.channels import Capabilities, Formatting, RejectedContent
from core.content import Attachment, Content, Span, SpanKind, split


class Omission:
    """Why something was left out (LeftOut.what)."""

    EDIT = "edit"  # the channel cannot change what the client has
    FORMATTING = "formatting"  # it cannot show these span kinds (`kind`: comma-separated)
    KIND = "kind"  # it does not take attachments of this kind
    TOO_LARGE = "too_large"  # the file is over its size limit
    UNAVAILABLE = "unavailable"  # the file's bytes could not be had


@dataclass(frozen=True)
class LeftOut:
    """One thing the channel did not get: `kind` the attachment's kind, `name` its file
    name, `size` and `limit` in bytes for a file too large, `reason` in a few words."""

    what: str
    kind: str = ""
    name: str = ""
    size: int | None = None
    limit: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LeftOut:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


@dataclass
class Fitted:
    """The content as the channel gets it, in `parts` (one message each, in order; none:
    nothing the channel can carry is left), and what was left out."""

    parts: list[Content]
    left_out: list[LeftOut] = field(default_factory=list)
    # The content differs from the message's own (a copy of the original would not do).
    changed: bool = False


# ---- fetching bytes ---------------------------------------------------------------------------

Fetch = Callable[[Attachment], Awaitable[Attachment]]


class BlobFetchers:
    """Who can put a file's bytes into the BlobStore, by the prefix of the source that knows
    the file ("telegram:" -> the Telegram bots' downloads). A fetch returns the attachment
    with its `blob` (and size); it raises RejectedContent when the bytes cannot be had (too
    large, gone) and TemporaryFailure when they cannot be had now."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, Fetch] = {}

    def register(self, prefix: str, fetch: Fetch) -> None:
        self._by_prefix[prefix] = fetch

    async def ensure(self, att: Attachment) -> Attachment:
        """`att` with a blob: as it is when it has one, else fetched by its source."""
        if att.blob or not att.is_file:
            return att
        for source in att.sources:
            for prefix, fetch in self._by_prefix.items():
                if source.startswith(prefix):
                    return await fetch(att)
        raise RejectedContent(f"nobody can fetch the {att.kind.value}'s bytes")


# ---- fitting ---------------------------------------------------------------------------------


def needs_bytes(att: Attachment, capabilities: Capabilities) -> bool:
    """The channel can send this file only from its bytes (it knows none of its sources)."""
    if not att.is_file:
        return False
    known = capabilities.file_sources
    return not any(source.startswith(prefix) for source in att.sources for prefix in known)


# Not shown, yet nothing lost: a link's address stays in the text, a mention's name.
KEPT_IN_WORDS = frozenset({SpanKind.LINK, SpanKind.MENTION})


def shown_kinds(capabilities: Capabilities) -> frozenset[SpanKind]:
    if capabilities.formatting is Formatting.NONE:
        return frozenset()
    return capabilities.span_kinds or frozenset(SpanKind)


def hidden_formatting(spans: tuple[Span, ...], capabilities: Capabilities) -> LeftOut | None:
    """The formatting the channel cannot show that the words do not keep, if any."""
    hidden = {span.kind for span in spans} - shown_kinds(capabilities) - KEPT_IN_WORDS
    if not hidden:
        return None
    order = list(SpanKind)
    kinds = ",".join(kind.value for kind in sorted(hidden, key=order.index))
    return LeftOut(Omission.FORMATTING, kind=kinds)


def formatting(
    text: str, spans: tuple[Span, ...], capabilities: Capabilities
) -> tuple[str, tuple[Span, ...]]:
    """The text and the spans the channel shows. A link it cannot show keeps its address
    in the text after the words (unless the text shows it already)."""
    shown = shown_kinds(capabilities)
    if all(span.kind in shown for span in spans):
        return text, spans
    kept = [span for span in spans if span.kind in shown]
    # (position, what is put there): each address right after its link's words.
    inserts = sorted(
        (span.end, f" ({span.url})")
        for span in spans
        if span.kind is SpanKind.LINK
        and span.kind not in shown
        and span.url
        and not span.url.startswith("tg:")
        and span.url not in text
    )
    if not inserts:
        return text, tuple(kept)
    out, at = [], 0
    for position, added in inserts:
        out += [text[at:position], added]
        at = position
    out.append(text[at:])

    def moved(index: int, *, end: bool) -> int:
        # What was put in before `index` (at a span's end: only what comes before it).
        return index + sum(
            len(added)
            for position, added in inserts
            if position < index or (not end and position == index)
        )

    return "".join(out), tuple(
        replace(span, start=moved(span.start, end=False), end=moved(span.end, end=True))
        for span in kept
    )


def parts(content: Content, capabilities: Capabilities) -> list[Content]:
    """The content in as many messages as the channel's text limit needs (the attachments
    with the first); none when nothing is left to send."""
    if content.empty:
        return []
    limit = capabilities.text_limit
    if limit is None or len(content.text) <= limit:
        return [content]
    cut = split(content.text, content.spans, limit)
    pieces = [Content(text.rstrip(), spans) for text, spans in cut]
    if not pieces:
        return [content]
    pieces[0] = replace(pieces[0], attachments=content.attachments)
    return pieces


async def fit(
    content: Content, capabilities: Capabilities, fetchers: BlobFetchers | None = None
) -> Fitted:
    """`content` as the channel gets it. Fetching bytes may raise TemporaryFailure (try
    again later); a file that cannot be had at all is left out."""
    text, spans = formatting(content.text, content.spans, capabilities)
    hidden = hidden_formatting(content.spans, capabilities)
    left: list[LeftOut] = [hidden] if hidden else []
    kept: list[Attachment] = []
    for att in content.attachments:
        got = await carried(att, capabilities, fetchers or BlobFetchers())
        if isinstance(got, LeftOut):
            left.append(got)
        else:
            kept.append(got)
    adapted = Content(text, spans, tuple(kept))
    changed = (text, spans) != (content.text, content.spans) or len(kept) != len(
        content.attachments
    )
    return Fitted(parts(adapted, capabilities), left, changed)


async def carried(
    att: Attachment, capabilities: Capabilities, fetchers: BlobFetchers
) -> Attachment | LeftOut:
    """The attachment as the channel takes it (with its bytes when it needs them), or why
    it is left out."""
    kind, name = att.kind.value, att.name
    if att.kind not in capabilities.attachment_kinds:
        return LeftOut(Omission.KIND, kind=kind, name=name)
    if not needs_bytes(att, capabilities):
        return att
    try:
        att = await fetchers.ensure(att)
    except RejectedContent as exc:
        limit = getattr(exc, "limit", None)
        if limit is not None:
            return LeftOut(Omission.TOO_LARGE, kind, name, getattr(exc, "size", None), limit)
        return LeftOut(Omission.UNAVAILABLE, kind=kind, name=name, reason=exc.reason)
    limit = capabilities.file_size_limit
    if limit is not None and att.size is not None and att.size > limit:
        return LeftOut(Omission.TOO_LARGE, kind, name, att.size, limit)
    return att
