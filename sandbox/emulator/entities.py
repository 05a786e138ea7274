"""HTML and MarkdownV2 parsing into Bot API message entities (UTF-16 offsets)."""

from __future__ import annotations

import html
import re
from typing import Any


class ParseError(Exception):
    """Raised with the text Telegram puts after ``can't parse entities: ``."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ATTR_RE = re.compile(r"""([a-zA-Z_-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    out_len = 0  # utf-16 units
    stack: list[tuple[str, int, dict[str, Any], int]] = []  # tag, start, entity, src index
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i)
            if end == -1:
                raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise ParseError(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
                tag, start, closing, _ = stack.pop()
                if name != tag:
                    raise ParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{tag}>", found "</{name}>"'
                    )
                length = out_len - start
                if length > 0:
                    closing["offset"] = start
                    closing["length"] = length
                    entities.append(closing)
                i = end + 1
                continue
            m = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", inner)
            name = (m.group(1) if m else inner).lower()
            if name not in _HTML_TAGS:
                raise ParseError(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
                )
            attrs: dict[str, str] = {}
            for am in _ATTR_RE.finditer(inner[len(name) :]):
                attrs[am.group(1).lower()] = html.unescape(
                    am.group(2) or am.group(3) or am.group(4) or ""
                )
            kind = _HTML_TAGS[name]
            ent: dict[str, Any] = {"type": kind}
            if name == "span":
                if attrs.get("class") != "tg-spoiler":
                    raise ParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(src, i)}"
                    )
            elif name == "a":
                href = attrs.get("href", "")
                if href.startswith("tg://user?id="):
                    ent = {
                        "type": "text_mention",
                        "user": {
                            "id": int(href.split("=", 1)[1] or 0),
                            "is_bot": False,
                            "first_name": "User",
                        },
                    }
                else:
                    ent["url"] = href
            elif name == "blockquote" and "expandable" in attrs:
                ent["type"] = "expandable_blockquote"
            elif name == "tg-emoji":
                ent["custom_emoji_id"] = attrs.get("emoji-id", "")
            elif name == "code" and stack and stack[-1][0] == "pre":
                lang = attrs.get("class", "")
                if lang.startswith("language-"):
                    stack[-1][2]["language"] = lang[len("language-") :]
                # code inside pre is merged into the pre entity
                ent = {"type": "_skip"}
            stack.append((name, out_len, ent, i))
            i = end + 1
            continue
        if ch == "&":
            m = re.match(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);", src[i:])
            if m:
                body = m.group(1)
                rep: str | None
                if body.startswith("#x"):
                    rep = chr(int(body[2:], 16))
                elif body.startswith("#"):
                    rep = chr(int(body[1:]))
                else:
                    rep = _NAMED.get(body)
                if rep is not None:
                    out.append(rep)
                    out_len += utf16_len(rep)
                    i += len(m.group(0))
                    continue
            out.append("&")
            out_len += 1
            i += 1
            continue
        out.append(ch)
        out_len += utf16_len(ch)
        i += 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities = [e for e in entities if e["type"] != "_skip"]
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")


def parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    out_len = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, int]] = []  # marker, start utf16, src index
    i = 0
    n = len(src)
    line_start = True
    quote_start: int | None = None

    def emit(s: str) -> None:
        nonlocal out_len
        out.append(s)
        out_len += utf16_len(s)

    def close_quote() -> None:
        nonlocal quote_start
        if quote_start is not None and out_len > quote_start:
            entities.append(
                {"type": "blockquote", "offset": quote_start, "length": out_len - quote_start}
            )
        quote_start = None

    while i < n:
        ch = src[i]
        if line_start:
            line_start = False
            if ch == ">":
                if quote_start is None:
                    quote_start = out_len
                i += 1
                continue
            close_quote()
        if ch == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                emit(src[i + 1])
                i += 2
                continue
            raise ParseError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        if ch == "\n":
            emit(ch)
            i += 1
            line_start = True
            continue
        if src.startswith("```", i):
            end = src.find("```", i + 3)
            if end == -1:
                raise ParseError(
                    f"Can't find end of Pre entity at byte offset {_byte_offset(src, i)}"
                )
            body = src[i + 3 : end]
            lang = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    lang, body = first, rest
            text = re.sub(r"\\([`\\])", r"\1", body)
            start = out_len
            emit(text)
            ent: dict[str, Any] = {"type": "pre", "offset": start, "length": out_len - start}
            if lang:
                ent["language"] = lang
            if ent["length"]:
                entities.append(ent)
            i = end + 3
            continue
        if ch == "`":
            end = i + 1
            while end < n and src[end] != "`":
                end += 2 if src[end] == "\\" else 1
            if end >= n:
                raise ParseError(
                    f"Can't find end of Code entity at byte offset {_byte_offset(src, i)}"
                )
            text = re.sub(r"\\([`\\])", r"\1", src[i + 1 : end])
            start = out_len
            emit(text)
            if out_len > start:
                entities.append({"type": "code", "offset": start, "length": out_len - start})
            i = end + 1
            continue
        marker = None
        for mk in ("__", "||", "*", "_", "~"):
            if src.startswith(mk, i):
                marker = mk
                break
        if ch == "[" or (ch == "!" and src.startswith("![", i)):
            stack.append(("[" if ch == "[" else "![", out_len, i))
            i += 1 if ch == "[" else 2
            continue
        if ch == "]" and stack and stack[-1][0] in ("[", "!["):
            mk, start, sidx = stack.pop()
            if not src.startswith("(", i + 1):
                raise ParseError(f"Can't find end of a url at byte offset {_byte_offset(src, i)}")
            end = i + 2
            url_chars: list[str] = []
            while end < n and src[end] != ")":
                if src[end] == "\\" and end + 1 < n:
                    url_chars.append(src[end + 1])
                    end += 2
                else:
                    url_chars.append(src[end])
                    end += 1
            if end >= n:
                raise ParseError(f"Can't find end of a url at byte offset {_byte_offset(src, i)}")
            url = "".join(url_chars)
            if out_len > start:
                if mk == "![":
                    emoji_id = url.split("id=", 1)[-1]
                    entities.append(
                        {
                            "type": "custom_emoji",
                            "offset": start,
                            "length": out_len - start,
                            "custom_emoji_id": emoji_id,
                        }
                    )
                elif url.startswith("tg://user?id="):
                    entities.append(
                        {
                            "type": "text_mention",
                            "offset": start,
                            "length": out_len - start,
                            "user": {
                                "id": int(url.split("=", 1)[1] or 0),
                                "is_bot": False,
                                "first_name": "User",
                            },
                        }
                    )
                else:
                    entities.append(
                        {
                            "type": "text_link",
                            "offset": start,
                            "length": out_len - start,
                            "url": url,
                        }
                    )
            i = end + 1
            continue
        if marker is not None:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                if out_len > start:
                    kind = {
                        "__": "underline",
                        "||": "spoiler",
                        "*": "bold",
                        "_": "italic",
                        "~": "strikethrough",
                    }[marker]
                    entities.append({"type": kind, "offset": start, "length": out_len - start})
            else:
                stack.append((marker, out_len, i))
            i += len(marker)
            continue
        if ch in _MD_RESERVED:
            raise ParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(ch)
        i += 1
    if stack:
        mk, _, sidx = stack[-1]
        raise ParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, sidx)}"
        )
    close_quote()
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def parse(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]] | None]:
    """Parse ``text`` by ``parse_mode``; raise ParseError like Telegram does."""
    if not parse_mode:
        return text, None
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown_legacy(text)
    raise ParseError(f'Unsupported parse_mode "{parse_mode}"')


_LEGACY_MARKERS = {"*": "bold", "_": "italic", "`": "code", "[": "text_link"}
_LEGACY_ESCAPABLE = "_*`["


def _legacy_link(url: str, offset: int, length: int) -> dict[str, Any] | None:
    """The entity of a legacy ``[text](url)``; None when Telegram would drop it (bad url)."""
    m = re.match(r"tg:(?://)?user/?\?(.*)", url, re.IGNORECASE)
    if m:
        for part in m.group(1).split("#", 1)[0].split("&"):
            key, _, value = part.partition("=")
            if key == "id" and value.isdigit():
                user = {"id": int(value), "is_bot": False, "first_name": "User"}
                return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": url}


def _parse_markdown_legacy(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's legacy ``Markdown``, as tdlib's ``parse_markdown`` reads it.

    Entities: *bold*, _italic_, `code`, a pre block between triple backticks (an optional
    language right after the opening ones), and [text](url): the url runs up to the first
    closing parenthesis, so it may hold underscores or asterisks; [url] alone links to
    itself. Outside entities a backslash escapes the next of the four characters _ * ` [;
    any other backslash is kept. Inside entities nothing is escaped; entities do not nest.
    """
    out: list[str] = []
    out_len = 0
    entities: list[dict[str, Any]] = []
    n = len(src)
    i = 0
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in _LEGACY_ESCAPABLE:
            out.append(src[i + 1])
            out_len += 1
            i += 2
            continue
        if ch not in _LEGACY_MARKERS:
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        i += 1
        is_pre = False
        language = ""
        if ch == "`" and src.startswith("``", i):
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and not src[lang_end].isspace() and src[lang_end] != "`":
                lang_end += 1
            if lang_end != i and lang_end < n and src[lang_end] != "`":
                language = src[i:lang_end]
                i = lang_end
            if i < n and src[i] in "\r\n":  # one line break after the opening ``` is skipped
                i += 2 if src[i + 1 : i + 2] in ("\r", "\n") and src[i + 1] != src[i] else 1
        start = out_len
        body_start = i
        while i < n and (src[i] != end_char or (is_pre and not src.startswith("``", i + 1))):
            i += 1
        if i >= n:
            raise ParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, begin)}"
            )
        body = src[body_start:i]
        out.append(body)
        out_len += utf16_len(body)
        if out_len > start:
            length = out_len - start
            if ch == "[":
                if src.startswith("(", i + 1):
                    close = src.find(")", i + 2)
                    url_end = n if close == -1 else close
                    url = src[i + 2 : url_end]
                    i = url_end
                else:
                    url = body
                link = _legacy_link(url, start, length)
                if link is not None:
                    entities.append(link)
            elif is_pre:
                ent: dict[str, Any] = {"type": "pre", "offset": start, "length": length}
                if language:
                    ent["language"] = language
                entities.append(ent)
            else:
                entities.append({"type": _LEGACY_MARKERS[ch], "offset": start, "length": length})
        i += 3 if is_pre else 1
    return "".join(out), entities
