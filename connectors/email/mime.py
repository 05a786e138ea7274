"""Reading headers and text parts of a mail without ever raising: what cannot be read as
the standards say is read as well as it can be, and the caller is told."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass(frozen=True)
class MailNotice:
    """One thing of a mail that could not be read: a code and its values, for the team's
    language (the connector passes them on, core.ingest.Inbound.notices), and the same in
    English words for logs (`text`)."""

    code: str
    text: str = field(compare=False)
    params: dict[str, Any] = field(default_factory=dict, hash=False)


# Charsets tried, in order, when a part's own is missing, unknown or wrong.
_CYRILLIC = ("cp1251", "koi8_r")
_LOWER = re.compile(r"[а-яё]")
_UPPER = re.compile(r"[А-ЯЁ]")
_SPACES = re.compile(r"\s+")
# Codecs where any byte reads as some character, so a wrong one never fails to decode.
_SINGLE_BYTE = frozenset(
    {
        "ascii",
        "cp1251",
        "cp1252",
        "cp1250",
        "cp866",
        "koi8-r",
        "koi8-u",
        "iso8859-1",
        "iso8859-2",
        "iso8859-5",
        "iso8859-15",
        "latin-1",
        "mac-cyrillic",
    }
)


def header(msg: Message, name: str) -> str:
    """A header's decoded value ("" when missing); the raw value when it cannot be parsed."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:
        return raw_header(msg, name)


def headers(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name) or []]
    except Exception:
        raw = raw_header(msg, name)
        return [raw] if raw else []


def raw_header(msg: Message, name: str) -> str:
    lowered = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lowered:
            return str(value)
    return ""


def one_line(value: str) -> str:
    return _SPACES.sub(" ", value).strip()


def decode_text(data: bytes, declared: str | None) -> tuple[str, MailNotice | None]:
    """The text of a part's bytes, and a note when its declared charset did not read it."""
    charset = (declared or "").strip().strip("\"'").lower()
    known = _known(charset)
    if known in _SINGLE_BYTE and not data.isascii():
        # A legacy charset that is wrong more often than not: Russian text in windows-1251
        # or koi8-r is never valid UTF-8 by chance, so valid UTF-8 is what was sent.
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if known in ("ascii",):
                return text, None  # undeclared UTF-8 is common and harmless
            return text, _misread(charset, "UTF-8")
    if known:
        try:
            return data.decode(known), None
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not charset:
            return text, None
        return text, _misread(charset, "UTF-8")
    text = data.decode("utf-8", errors="replace")
    if known in (None, "utf-8") and text.count("\ufffd") <= len(text) // 200:
        # UTF-8 with a broken byte here and there (a cut multi-byte character).
        return text, MailNotice("bad_chars", "a few characters of the text could not be read")
    guess = _guess_cyrillic(data)
    if guess:
        shown = charset or "no charset"
        note = f"the text ({shown}) was read as {_name(guess)}"
        if not charset:
            return data.decode(guess), MailNotice("no_charset", note, {"read_as": _name(guess)})
        return data.decode(guess), MailNotice(
            "charset", note, {"charset": charset, "read_as": _name(guess)}
        )
    fallback = known or "utf-8"
    note = f"the text ({charset or 'no charset'}) had characters that could not be read"
    return data.decode(fallback, errors="replace"), MailNotice("bad_chars", note)


def _misread(charset: str, read_as: str) -> MailNotice:
    return MailNotice(
        "charset",
        f"the text said it was {charset} but was read as {read_as}",
        {"charset": charset, "read_as": read_as},
    )


def _known(charset: str) -> str | None:
    if not charset:
        return None
    aliases = {"windows-1251": "cp1251", "win-1251": "cp1251", "cp-1251": "cp1251"}
    try:
        return codecs.lookup(aliases.get(charset, charset)).name
    except LookupError:
        return None


def _guess_cyrillic(data: bytes) -> str | None:
    """windows-1251 or koi8-r, whichever reads as Russian: most letters of a real text are
    lower case, and the wrong one of the two swaps the cases."""
    best, best_score = None, 0
    for candidate in _CYRILLIC:
        text = data.decode(candidate, errors="replace")
        score = len(_LOWER.findall(text)) - len(_UPPER.findall(text))
        if score > best_score:
            best, best_score = candidate, score
    return best


def _name(codec: str) -> str:
    return {"cp1251": "windows-1251", "koi8_r": "koi8-r"}.get(codec, codec)
