"""An HTML mail as text with its formatting kept as spans: never rendered, never fetched.

What a reader of the mail would see is kept — paragraphs, line breaks, lists, bold, italic,
links, quotes, code — and what a browser would run or load is dropped: scripts, styles,
hidden elements, images (an inline image arrives as an attachment of its own; a remote one
is never requested). The standard library's tolerant `html.parser` reads it, so broken
markup gives text, not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from core.content import Span, SpanKind

# Elements whose content is no text for a reader.
_SKIP = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe"}
)
# Elements that never have an end tag.
_VOID = frozenset(
    {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source", "embed"}
)
# Blocks that stand apart by a blank line, and those that only start a new line.
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "pre", "dl"}
)
_LINE = frozenset(
    {
        "div",
        "li",
        "tr",
        "dt",
        "dd",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "center",
        "form",
        "fieldset",
        "figure",
        "figcaption",
        "main",
        "nav",
        "aside",
        "caption",
        "tbody",
        "thead",
        "tfoot",
    }
)
_INLINE = {
    "b": SpanKind.BOLD,
    "strong": SpanKind.BOLD,
    "h1": SpanKind.BOLD,
    "h2": SpanKind.BOLD,
    "h3": SpanKind.BOLD,
    "h4": SpanKind.BOLD,
    "h5": SpanKind.BOLD,
    "h6": SpanKind.BOLD,
    "i": SpanKind.ITALIC,
    "em": SpanKind.ITALIC,
    "cite": SpanKind.ITALIC,
    "u": SpanKind.UNDERLINE,
    "ins": SpanKind.UNDERLINE,
    "s": SpanKind.STRIKE,
    "strike": SpanKind.STRIKE,
    "del": SpanKind.STRIKE,
    "code": SpanKind.CODE,
    "tt": SpanKind.CODE,
    "kbd": SpanKind.CODE,
    "samp": SpanKind.CODE,
    "pre": SpanKind.PRE,
    "blockquote": SpanKind.QUOTE,
}
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")
_SPACES = re.compile(r"\s+")
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_BOLD_STYLE = re.compile(r"font-weight\s*:\s*(bold|bolder|[6-9]00)\b", re.I)
_ITALIC_STYLE = re.compile(r"font-style\s*:\s*italic", re.I)
_UNDERLINE_STYLE = re.compile(r"text-decoration[a-z-]*\s*:[^;]*underline", re.I)
_STRIKE_STYLE = re.compile(r"text-decoration[a-z-]*\s*:[^;]*line-through", re.I)
_BULLET = "• "


@dataclass
class _Open:
    tag: str
    kinds: tuple[SpanKind, ...]
    start: int
    url: str | None = None
    skip: bool = False
    pre: bool = False
    list_kind: str | None = None  # "ul" / "ol"
    counter: int = 0


def html_to_text(html: str) -> tuple[str, tuple[Span, ...]]:
    """The text a reader sees in `html`, and its formatting as spans (code points)."""
    reader = _Reader()
    try:
        reader.feed(html)
        reader.close()
    except Exception:  # html.parser is tolerant; a failure keeps what was read so far
        pass
    return reader.result()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.length = 0
        self.stack: list[_Open] = []
        self.spans: list[Span] = []
        self.pending = 0  # line breaks owed before the next text
        self.trailing = 0  # line breaks at the end of what was written
        self.space = False  # a space owed before the next word

    # ---- state -----------------------------------------------------------------------------

    @property
    def skipping(self) -> bool:
        return any(o.skip for o in self.stack)

    @property
    def in_pre(self) -> bool:
        return any(o.pre for o in self.stack)

    def active(self, kind: SpanKind) -> bool:
        return any(kind in o.kinds for o in self.stack)

    def write(self, text: str) -> None:
        if not text:
            return
        self.out.append(text)
        self.length += len(text)
        stripped = text.rstrip("\n")
        if stripped:
            self.trailing = len(text) - len(stripped)
        else:
            self.trailing += len(text)

    def brk(self, lines: int) -> None:
        self.pending = max(self.pending, lines)
        self.space = False

    def text(self, data: str) -> None:
        if self.length and self.pending > self.trailing:
            self.write("\n" * (self.pending - self.trailing))
        self.pending = 0
        if self.space and self.length and not self.trailing:
            self.write(" ")
        self.space = False
        self.write(data)

    # ---- parser callbacks ------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag not in _VOID:
                self.stack.append(_Open(tag, (), self.length, skip=True))
            return
        attr = {k: v or "" for k, v in attrs}
        style = attr.get("style", "")
        if tag == "br":
            self.text("")
            self.write("\n")
            self.space = False
            return
        if tag == "hr":
            self.brk(2)
            return
        if tag in _VOID:
            return  # images are never fetched; an inline one arrives as an attachment
        if tag in _SKIP or _HIDDEN.search(style) or "hidden" in attr:
            self.stack.append(_Open(tag, (), self.length, skip=True))
            return
        if tag in _PARAGRAPH:
            self.brk(2)
        elif tag in _LINE:
            self.brk(1)
        elif tag in ("td", "th") and not self.trailing:
            self.space = True
        kinds = []
        kind = _INLINE.get(tag)
        if kind:
            kinds.append(kind)
        if style:
            for pattern, styled in (
                (_BOLD_STYLE, SpanKind.BOLD),
                (_ITALIC_STYLE, SpanKind.ITALIC),
                (_UNDERLINE_STYLE, SpanKind.UNDERLINE),
                (_STRIKE_STYLE, SpanKind.STRIKE),
            ):
                if pattern.search(style):
                    kinds.append(styled)
        url = None
        if tag == "a":
            href = attr.get("href", "").strip()
            if href.lower().startswith(_LINK_SCHEMES):
                url = href
                kinds.append(SpanKind.LINK)
        opened = _Open(tag, tuple(dict.fromkeys(kinds)), self.length, url=url, pre=tag == "pre")
        if tag in ("ul", "ol"):
            opened.list_kind = tag
        self.stack.append(opened)
        if tag == "li":
            self.text(self._bullet())

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth].tag == tag:
                break
        else:
            return  # an end tag with no start: ignored
        while len(self.stack) > depth:
            self._close(self.stack.pop())

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack and self.stack[-1].tag == tag:
            self._close(self.stack.pop())

    def handle_data(self, data: str) -> None:
        if self.skipping or not data:
            return
        if self.in_pre:
            self.text(data.replace("\r\n", "\n").replace("\xa0", " "))
            return
        lead = data[0].isspace()
        words = _SPACES.sub(" ", data).strip()
        if lead:
            self.space = True
        if words:
            self.text(words)
            self.space = data[-1].isspace()

    # ---- helpers ---------------------------------------------------------------------------

    def _bullet(self) -> str:
        lists = [o for o in self.stack if o.list_kind]
        if not lists:
            return _BULLET
        current = lists[-1]
        indent = "  " * (len(lists) - 1)
        if current.list_kind == "ol":
            current.counter += 1
            return f"{indent}{current.counter}. "
        return indent + _BULLET

    def _close(self, opened: _Open) -> None:
        if opened.skip:
            return
        tag = opened.tag
        for kind in opened.kinds:
            outer = [o for o in self.stack if kind in o.kinds]
            # A span inside one of the same kind adds nothing (and nested quotes would not
            # render): only the outermost is kept.
            if outer and kind is not SpanKind.LINK:
                continue
            self.spans.append(Span(kind, opened.start, self.length, url=opened.url))
        if tag in _PARAGRAPH:
            self.brk(2)
        elif tag in _LINE:
            self.brk(1)
        elif tag in ("td", "th"):
            self.space = True

    def result(self) -> tuple[str, tuple[Span, ...]]:
        while self.stack:
            self._close(self.stack.pop())
        return tidy("".join(self.out), self.spans)


def tidy(text: str, spans: list[Span] | tuple[Span, ...]) -> tuple[str, tuple[Span, ...]]:
    """`text` without spaces at line ends, without more than one blank line in a row and
    without blank lines around it; `spans` moved along, trimmed of the whitespace at their
    ends and dropped where nothing is left of them."""
    keep = [True] * len(text)
    line_start = 0
    for line in text.split("\n"):
        end = line_start + len(line)
        for i in range(line_start + len(line.rstrip()), end):
            keep[i] = False
        line_start = end + 1
    newlines = 0
    for i, ch in enumerate(text):
        if not keep[i]:
            continue
        if ch == "\n":
            newlines += 1
            if newlines > 2:
                keep[i] = False
        else:
            newlines = 0
    return squeeze(text, keep, spans)


def squeeze(
    text: str, keep: list[bool], spans: list[Span] | tuple[Span, ...]
) -> tuple[str, tuple[Span, ...]]:
    """The characters of `text` marked in `keep`, stripped at both ends; `spans` moved along,
    trimmed of whitespace at their ends and dropped where nothing is left of them."""
    new_index = [0] * (len(text) + 1)
    count = 0
    for i, kept in enumerate(keep):
        new_index[i] = count
        if kept:
            count += 1
    new_index[len(text)] = count
    out = "".join(ch for ch, kept in zip(text, keep, strict=True) if kept)
    lead = len(out) - len(out.lstrip())
    body = out.strip()
    result: list[Span] = []
    for s in spans:
        start = new_index[max(0, min(s.start, len(text)))] - lead
        end = new_index[max(0, min(s.end, len(text)))] - lead
        start, end = max(0, start), min(len(body), end)
        while start < end and body[start].isspace():
            start += 1
        while end > start and body[end - 1].isspace():
            end -= 1
        if end > start:
            result.append(Span(s.kind, start, end, s.url, s.language))
    result.sort(key=lambda s: (s.start, -s.end))
    return body, tuple(dict.fromkeys(result))
