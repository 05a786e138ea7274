"""The new words of a reply: the quoted thread and the signature taken off.

The attribution and header lines that mail clients put above a quote are found by
`mail-parser-reply` (English and other European clients) plus our own patterns for the
clients Russian speakers use (Gmail, Yandex, Mail.ru, Outlook, Thunderbird, Apple Mail).
Lines quoted with "> " — or, in an HTML mail, inside a <blockquote> (a quote span) — are
the quote. What follows "-- " is the signature. A quote between new lines (an answer
written into the quoted text) stays, as a quote span, so the answer keeps its question.
Whatever is cut, a mail that had words never comes out empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mailparser_reply.parser import EmailMessage

from connectors.email.html import squeeze, tidy
from core.content import Span, SpanKind

# The languages whose client headers mail-parser-reply knows and that we look for.
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl"]
HEADER_LINE_LIMIT = 400

# "01.12.2026 10:00, Иван пишет:", "1 дек. 2026 г., в 10:00, Иван <a@b> написал(а):"
_RU_WROTE = re.compile(
    r"^.{3,300}\s(пишет|написал\(а\)|написала|написал|писал\(а\)|писала|писал)\s*:$", re.I
)
# The attribution with a date and an address that Gmail ("пн, 1 дек. 2026 г. в 10:00, Имя
# <a@b>:"), Yandex ("01.12.2026, 10:00, "Имя" <a@b>:") and Mail.ru ("Понедельник, 1
# декабря 2026, 10:00 +03:00 от Имя <a@b>:") write in any language; trusted only when a
# quote follows it.
_ADDRESS = re.compile(r"<\s*[^<>@\s]+@[^<>\s]+\s*>|[\w.+-]+@[\w-]+(\.[\w-]+)+")
_WHEN = re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b(19|20)\d{2}\b")
# Outlook's block above the quoted mail, in Russian (the English one is the library's).
_RU_FIELD = re.compile(r"^[*\s]*(от|отправлено|дата|кому|копия|тема)\s*\**\s*:", re.I)
_SEPARATOR = re.compile(
    r"^-{2,}\s*(original message|исходное сообщение|исходное письмо)\s*-{2,}$", re.I
)
_RULE = re.compile(r"^[_\-=]{10,}$")
_HEADER_FIELD = re.compile(r"^[>*\s]*[^\W\d_][\w-]*(?: [\w-]+)?\s*\**\s*:")
_QUOTE_MARK = re.compile(r"^[ \t]*(>[ \t]?)+")
_MOBILE = re.compile(
    r"^(sent from my .{1,40}|sent from (yandex|mail\.ru|outlook).{0,40}|get outlook for .{1,30}"
    r"|отправлено (с|со|из) .{1,60})$",
    re.I,
)


@cache
def _library_headers() -> re.Pattern[str]:
    return EmailMessage(text="", languages=list(LANGUAGES)).HEADER_REGEX


@dataclass
class _Header:
    first: int  # line index
    last: int
    block: bool  # Outlook's fields or a separator: the quoted mail follows unmarked


def strip_quotes(
    text: str, spans: tuple[Span, ...] | list[Span] = ()
) -> tuple[str, tuple[Span, ...], bool]:
    """The new part of a mail's text with its spans, and whether anything was cut."""
    lines = text.split("\n")
    offsets = []
    at = 0
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    norm = [line.strip() for line in lines]
    quote_spans = [s for s in spans if s.kind is SpanKind.QUOTE]
    quoted = [
        bool(n) and (n.startswith(">") or _inside(offsets[i], lines[i], quote_spans))
        for i, n in enumerate(norm)
    ]
    headers = _find_headers(norm, quoted)
    in_header = [False] * len(lines)
    for h in headers:
        for i in range(h.first, h.last + 1):
            in_header[i] = True

    def new(i: int) -> bool:
        return bool(norm[i]) and not quoted[i] and not in_header[i]

    drop = [False] * len(lines)
    cut = len(lines)
    for h in headers:
        if any(new(i) for i in range(h.first)):
            cut = h.first
            # Outlook draws a rule above its block: it goes with the block.
            j = cut - 1
            while j >= 0 and not norm[j]:
                j -= 1
            if j >= 0 and _RULE.match(norm[j]):
                cut = j
            break
        for i in range(h.first, h.last + 1):
            if h.block:
                # A forwarded mail with nothing above it: it is the mail; its fields stay.
                in_header[i] = False
            else:
                # Bottom-posted: the attribution and the quote under it go, the answer stays.
                drop[i] = True
    # The signature: from a "-- " line after the new words.
    seen_new = False
    for i in range(cut):
        if norm[i] == "--" and seen_new and not quoted[i]:
            cut = i
            break
        seen_new = seen_new or new(i)
    news = [i for i in range(cut) if new(i) and not drop[i]]
    if news and _MOBILE.match(norm[news[-1]]) and len(news) > 1:
        cut = news[-1]
        news.pop()
    if not news:
        return text, tuple(spans), False
    first, last = news[0], news[-1]
    lead = next((i for i in range(first) if norm[i]), first)
    if quoted[lead] and not any(drop[:first]) and not any(in_header[:first]):
        # The mail opens with a quote and no attribution: an answer written into the
        # quoted text; its first question stays with it.
        first = lead
    keep = [False] * len(text)
    added: list[Span] = []
    block_start: int | None = None
    for i in range(first, last + 1):
        if drop[i] or in_header[i]:
            continue
        start, end = offsets[i], offsets[i] + len(lines[i])
        mark = _QUOTE_MARK.match(lines[i]) if quoted[i] else None
        if mark:
            start += mark.end()
            if block_start is None:
                block_start = start
        elif block_start is not None and norm[i]:
            added.append(Span(SpanKind.QUOTE, block_start, offsets[i] - 1))
            block_start = None
        for c in range(start, min(end + 1, len(text))):
            keep[c] = True
    out, out_spans = squeeze(text, keep, [*spans, *added])
    out, out_spans = tidy(out, out_spans)
    if not out:
        return text, tuple(spans), False
    return out, out_spans, out != tidy(text, spans)[0]


def _inside(offset: int, line: str, quotes: list[Span]) -> bool:
    lead = len(line) - len(line.lstrip())
    start, end = offset + lead, offset + len(line.rstrip())
    return any(q.start <= start and end <= q.end for q in quotes)


def _find_headers(norm: list[str], quoted: list[bool]) -> list[_Header]:
    found: dict[int, _Header] = {}
    # Headers are short lines; a long one is left out of the library's patterns, whose
    # backtracking on a line of thousands of words would take minutes.
    joined = "\n".join(n if len(n) <= HEADER_LINE_LIMIT else "" for n in norm)
    for m in _library_headers().finditer(joined):
        s = m.start()
        while s < m.end() and joined[s] == "\n":
            s += 1
        if s >= m.end():
            continue
        first = joined.count("\n", 0, s)
        last = joined.count("\n", 0, max(s, m.end() - 1))
        if quoted[first] and norm[first].startswith(">"):
            continue  # a header inside the quote: the quote is cut anyway
        chunk = [n for n in norm[first : last + 1] if n]
        block = bool(_SEPARATOR.match(chunk[0])) or "original message" in chunk[0].lower()
        block = block or all(_HEADER_FIELD.match(n) for n in chunk)
        found.setdefault(first, _Header(first, last, block))
    i = 0
    while i < len(norm):
        line = norm[i]
        if not line or quoted[i]:
            i += 1
            continue
        if _SEPARATOR.match(line):
            found.setdefault(i, _Header(i, i, True))
        elif _RU_FIELD.match(line):
            j = i
            while j + 1 < len(norm) and _RU_FIELD.match(norm[j + 1]):
                j += 1
            fields = {_RU_FIELD.match(norm[k]).group(1).lower() for k in range(i, j + 1)}  # type: ignore[union-attr]
            if j > i and "от" in fields and fields & {"отправлено", "дата", "кому", "тема"}:
                found.setdefault(i, _Header(i, j, True))
                i = j + 1
                continue
        else:
            for span in (1, 2):
                last = i + span - 1
                if last >= len(norm) or (span == 2 and (not norm[last] or quoted[last])):
                    break
                text = " ".join(norm[i : last + 1])
                if len(text) > 300 or not text.endswith(":"):
                    continue
                if _RU_WROTE.match(text):
                    found.setdefault(i, _Header(i, last, False))
                    break
                if (
                    _ADDRESS.search(text)
                    and _WHEN.search(text)
                    and _quote_follows(norm, quoted, last)
                ):
                    found.setdefault(i, _Header(i, last, False))
                    break
        i += 1
    return sorted(found.values(), key=lambda h: h.first)


def _quote_follows(norm: list[str], quoted: list[bool], last: int) -> bool:
    for j in range(last + 1, len(norm)):
        if norm[j]:
            return quoted[j]
    return False
