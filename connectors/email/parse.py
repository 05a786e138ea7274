"""A raw mail as what the team should read: who wrote to whom about what, the new words
with their formatting, the attachments stored as blobs — and what could not be read.

The standard library's `email` package (policy.default) reads the MIME structure; a mail
that breaks the standards still gives a ParsedMail, with a short note in `problems` for
each thing that could not be read (and in `notices` the same as codes with values, told to
the team in its language). Parsing runs in a worker thread: a 30 MB mail does not stop the
event loop.
"""

from __future__ import annotations

import asyncio
import email
import email.header
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from connectors.email.html import html_to_text
from connectors.email.mime import MailNotice, decode_text, header, one_line, raw_header
from connectors.email.noise import Bounce, noise_reason, read_bounce
from connectors.email.quotes import strip_quotes
from core.blobs import BlobStore, BlobTooLarge
from core.content import Attachment, AttachmentKind, Content, Span, clip
from core.sizes import describe_size

__all__ = ["Address", "Bounce", "MailNotice", "ParsedMail", "parse_mail"]

SUBJECT_LIMIT = 1000
# The new words shown in the topic; the whole mail stays in the raw original.
TEXT_LIMIT = 50_000
FULL_TEXT_LIMIT = 1_000_000
HTML_LIMIT = 1_000_000
# The part of a long text searched for quotes (the new words come first).
QUOTES_LIMIT = 4 * TEXT_LIMIT

_IDS = re.compile(r"<([^<>\s]+)>")
_VALID_ADDR = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")
_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_AUDIO_TYPES = frozenset({"audio/mpeg", "audio/mp3", "audio/mp4", "audio/ogg", "audio/x-m4a"})
# Parts that belong to a delivery report, not to anything a person attached.
_REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/disposition-notification",
    }
)


@dataclass
class Address:
    name: str
    addr: str  # lower case; "" when the mail gave none that reads as an address

    def __str__(self) -> str:
        return f"{self.name} <{self.addr}>" if self.name else self.addr


@dataclass
class ParsedMail:
    message_id: str  # without <>; "" if missing (the caller derives one from the raw mail)
    in_reply_to: list[str]  # ids without <>
    references: list[str]  # ids without <>, in order
    subject: str  # decoded, whitespace collapsed, at most SUBJECT_LIMIT characters
    sender: Address  # From (Reply-To is not used for identity)
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    date: datetime | None
    content: Content  # the new words only; attachments (inline images too) in blobs
    full_text: str  # the whole body text, nothing stripped
    stripped: bool  # whether a quote or signature was removed
    noise: str | None  # why no automatic message may answer it, or None
    bounce: Bounce | None  # a delivery report of one of our mails
    problems: list[str] = field(default_factory=list)  # what could not be read, in English
    # The same, each a code and its values: told to the team in its language.
    notices: list[MailNotice] = field(default_factory=list)
    # (added) Whether the text came from the HTML part.
    html: bool = False


class _Told:
    """What could not be read, as the reading finds it."""

    def __init__(self) -> None:
        self.notices: list[MailNotice] = []

    def add(self, code: str, text: str, **params: Any) -> None:
        self.notices.append(MailNotice(code, text, params))

    def note(self, notice: MailNotice | None) -> None:
        if notice is not None:
            self.notices.append(notice)


def _tell(mail: ParsedMail, notice: MailNotice) -> None:
    mail.notices.append(notice)
    mail.problems.append(notice.text)


@dataclass
class _File:
    part: Message
    name: str
    mime: str
    estimate: int  # decoded size, estimated from the encoded one
    data: bytes | None = None  # set when the bytes are not the part's payload (.eml)


@dataclass
class _Read:
    mail: ParsedMail
    text: str
    spans: tuple[Span, ...]
    files: list[_File]


async def parse_mail(
    raw: bytes,
    blobs: BlobStore | None,
    *,
    file_size_limit: int | None = None,
    max_attachments: int = 50,
) -> ParsedMail:
    """Read `raw`; store its attachments in `blobs` (when given) up to `file_size_limit`
    (the store's own limit by default) and `max_attachments`. Never raises for what the
    mail contains; a failing blob store's own errors (a full disk) do propagate."""
    read = await asyncio.to_thread(_read, raw, max_attachments)
    mail = read.mail
    limit = file_size_limit if file_size_limit is not None else (blobs.limit if blobs else None)
    attachments = []
    for file in read.files:
        if limit is not None and file.estimate > limit:
            _tell(mail, _too_large(file.name, file.estimate, limit))
            continue
        data = file.data if file.data is not None else await asyncio.to_thread(_decode, file)
        if data is None:
            text = f'the attachment "{file.name}" could not be read'
            _tell(mail, MailNotice("attachment_unreadable", text, {"name": file.name}))
            continue
        blob = None
        if blobs is not None:
            try:
                blob = (await blobs.put(data, limit=limit)).id
            except BlobTooLarge:
                _tell(mail, _too_large(file.name, len(data), limit or 0))
                continue
        attachments.append(
            Attachment(
                kind=_kind(file.mime),
                name=file.name,
                mime=file.mime,
                size=len(data),
                blob=blob,
            )
        )
        del data
    mail.content = Content(text=read.text, spans=read.spans, attachments=tuple(attachments))
    return mail


# ---- in a worker thread --------------------------------------------------------------------


def _read(raw: bytes, max_attachments: int) -> _Read:
    problems = _Told()
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
    except Exception:
        msg = EmailMessage()
        problems.add("malformed", "the mail's structure could not be read")
    assert isinstance(msg, EmailMessage)
    if msg.defects:
        problems.add("malformed", "the mail's structure is broken (read as well as it could be)")
    sender = _sender(msg, problems)
    mail = ParsedMail(
        message_id=_message_id(header(msg, "Message-ID")),
        in_reply_to=_IDS.findall(header(msg, "In-Reply-To")),
        references=list(dict.fromkeys(_IDS.findall(header(msg, "References")))),
        subject=_clip(one_line(header(msg, "Subject")), SUBJECT_LIMIT),
        sender=sender,
        reply_to=_addresses(msg, "Reply-To", problems),
        to=_addresses(msg, "To", problems),
        cc=_addresses(msg, "Cc", problems),
        date=_date(msg),
        content=Content(),
        full_text="",
        stripped=False,
        noise=None,
        bounce=None,
    )
    try:
        mail.bounce = read_bounce(msg, sender.addr)
        mail.noise = noise_reason(msg, sender.addr)
    except Exception:
        problems.add("malformed", "the mail's report headers could not be read")
    text, spans, html_part, plain_part = _body(msg, mail, problems)
    mail.full_text = _clip(text, FULL_TEXT_LIMIT)
    if len(text) > QUOTES_LIMIT:
        text, spans = text[:QUOTES_LIMIT], clip(spans, 0, QUOTES_LIMIT)
    new, new_spans, mail.stripped = strip_quotes(text, spans)
    if len(new) > TEXT_LIMIT:
        problems.add(
            "text_clipped",
            f"the text is longer than {TEXT_LIMIT} characters: its beginning is shown, "
            "the whole mail is in the original",
            limit=TEXT_LIMIT,
        )
        new, new_spans = new[:TEXT_LIMIT], clip(new_spans, 0, TEXT_LIMIT)
    files = [] if mail.bounce else _files(msg, {id(html_part), id(plain_part)}, mail, problems)
    if len(files) > max_attachments:
        problems.add(
            "too_many_attachments",
            f"{len(files) - max_attachments} more attachments were not taken "
            f"(at most {max_attachments} are)",
            kept=max_attachments,
            total=len(files),
        )
        files = files[:max_attachments]
    mail.notices = list(dict.fromkeys(problems.notices))
    mail.problems = list(dict.fromkeys(n.text for n in problems.notices))
    return _Read(mail, new, new_spans, files)


def _body(
    msg: EmailMessage, mail: ParsedMail, problems: _Told
) -> tuple[str, tuple[Span, ...], Message | None, Message | None]:
    html_part = plain_part = None
    try:
        html_part = msg.get_body(preferencelist=("html",))
        plain_part = msg.get_body(preferencelist=("plain",))
    except Exception:
        problems.add("malformed", "the mail's text part could not be found")
    if html_part is not None:
        html = _text_of(html_part, problems)
        if len(html) > HTML_LIMIT:
            text = "the HTML text is too long; only its beginning is shown"
            problems.add("text_clipped", text, limit=HTML_LIMIT)
            html = html[:HTML_LIMIT]
        text, spans = html_to_text(html)
        extra = _extra_texts(msg, "html", {id(html_part), id(plain_part)}, problems)
        for more in extra:
            more_text, more_spans = html_to_text(more)
            if more_text:
                spans = (*spans, *_shift(more_spans, len(text) + 2))
                text = f"{text}\n\n{more_text}" if text else more_text
        if text.strip() or plain_part is None:
            mail.html = True
            return text, spans, html_part, plain_part
    if plain_part is not None:
        text = _plain_text(plain_part, problems)
        for more in _extra_texts(msg, "plain", {id(html_part), id(plain_part)}, problems):
            text = f"{text}\n\n{more}" if text else more
        return text.strip(), (), html_part, plain_part
    broken = [p for p in _leaves(msg) if p.get_content_maintype() == "multipart"]
    if broken:
        # Parts whose boundaries never came: their text is shown as it came.
        text = "the mail's parts could not be told apart; its text is shown as sent"
        problems.add("malformed", text)
        return "\n\n".join(_raw_text(p, problems) for p in broken).strip(), (), None, None
    return "", (), html_part, plain_part


def _raw_text(part: Message, problems: _Told) -> str:
    payload = part.get_payload()
    if not isinstance(payload, str):
        return ""
    data = payload.encode("ascii", "surrogateescape")
    text, note = decode_text(data, part.get_content_charset())
    problems.note(note)
    return text.replace("\r\n", "\n")


def _shift(spans: tuple[Span, ...], by: int) -> tuple[Span, ...]:
    return tuple(Span(s.kind, s.start + by, s.end + by, s.url, s.language) for s in spans)


def _leaves(part: Message) -> Iterator[Message]:
    if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        yield part


def _is_inline_text(part: Message, subtype: str | None = None) -> bool:
    if part.get_content_maintype() != "text":
        return False
    if subtype and part.get_content_subtype() != subtype:
        return False
    if part.get_content_subtype() not in ("plain", "html"):
        return False
    return part.get_content_disposition() != "attachment" and not _filename(part)


def _extra_texts(msg: Message, subtype: str, taken: set[int], problems: _Told) -> list[str]:
    """Text parts of the same kind beside the body (a client that puts text, a picture and
    more text in a row): their words are the mail's too."""
    if not msg.is_multipart():
        return []
    out = []
    for part in _leaves(msg):
        if id(part) in taken or not _is_inline_text(part, subtype):
            continue
        if _in_alternative(msg, part):
            continue
        text = _plain_text(part, problems) if subtype == "plain" else _text_of(part, problems)
        if text.strip():
            out.append(text.strip())
    return out


def _in_alternative(root: Message, target: Message) -> bool:
    """Whether `target` is one of the versions of a multipart/alternative."""

    def walk(part: Message, alternative: bool) -> bool | None:
        if part is target:
            return alternative
        if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
            inside = part.get_content_subtype() == "alternative"
            for sub in part.get_payload():
                if isinstance(sub, Message):
                    found = walk(sub, inside)
                    if found is not None:
                        return found
        return None

    return bool(walk(root, False))


def _text_of(part: Message, problems: _Told) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        problems.add("malformed", "a text part could not be decoded")
        return ""
    if not isinstance(data, bytes):
        return ""
    text, note = decode_text(data, part.get_content_charset())
    problems.note(note)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _plain_text(part: Message, problems: _Told) -> str:
    text = _text_of(part, problems)
    if part.get_param("format", "").lower() == "flowed":  # type: ignore[union-attr]
        delsp = str(part.get_param("delsp", "no")).lower() == "yes"
        text = unflow(text, delsp=delsp)
    return text


_QUOTE_DEPTH = re.compile(r">*")


def unflow(text: str, *, delsp: bool = False) -> str:
    """A format=flowed text (RFC 3676) with its soft line breaks joined back."""
    out: list[str] = []
    buffer: str | None = None
    depth_of_buffer = 0
    for line in text.split("\n"):
        depth = len(_QUOTE_DEPTH.match(line).group())  # type: ignore[union-attr]
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delsp:
            body = body[:-1]
        if buffer is not None and depth != depth_of_buffer:
            out.append(_quoted(buffer, depth_of_buffer))
            buffer = None
        buffer = body if buffer is None else buffer + body
        depth_of_buffer = depth
        if not flowed:
            out.append(_quoted(buffer, depth))
            buffer = None
    if buffer is not None:
        out.append(_quoted(buffer, depth_of_buffer))
    return "\n".join(out)


def _quoted(text: str, depth: int) -> str:
    return (">" * depth + " " + text) if depth else text


def _files(msg: Message, taken: set[int], mail: ParsedMail, problems: _Told) -> list[_File]:
    if not msg.is_multipart() and _is_inline_text(msg):
        return []
    files: list[_File] = []
    for part in _leaves(msg):
        if id(part) in taken or _is_inline_text(part):
            continue
        kind = part.get_content_type()
        if kind in _REPORT_PARTS or part.get_content_maintype() == "multipart":
            continue
        try:
            files.append(_file(part, len(files) + 1))
        except Exception:
            problems.add("malformed", "an attachment could not be read")
    return files


def _file(part: Message, number: int) -> _File:
    mime = part.get_content_type()
    name = _filename(part)
    if mime in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        message = inner[0] if isinstance(inner, list) and inner else None
        data = message.as_bytes() if isinstance(message, Message) else b""
        if not name:
            subject = one_line(header(message, "Subject")) if isinstance(message, Message) else ""
            name = _safe_name(subject or "message")[:100] + ".eml"
        return _File(part, name, "message/rfc822", len(data), data=data)
    if mime == "application/octet-stream" and name:
        mime = mimetypes.guess_type(name)[0] or mime
    if not name:
        ext = mimetypes.guess_extension(mime) or ".bin"
        stem = "image" if mime.startswith("image/") else "attachment"
        name = f"{stem}-{number}{ext}"
    payload = part.get_payload()
    encoded = payload if isinstance(payload, str) else ""
    estimate = len(encoded)
    if part.get("Content-Transfer-Encoding", "").strip().lower() == "base64":
        estimate = (len(encoded) - encoded.count("\n") - encoded.count("\r")) * 3 // 4
    return _File(part, name, mime, estimate)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    return _safe_name(name)


def _safe_name(name: str) -> str:
    name = one_line(name)
    # Never a path: "../../x" is the file "x".
    name = _UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = name.strip(" .")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) <= 9 else name[:200]
    return name


def _decode(file: _File) -> bytes | None:
    try:
        data = file.part.get_payload(decode=True)
    except Exception:
        return None
    return data if isinstance(data, bytes) else None


def _kind(mime: str) -> AttachmentKind:
    if mime in _PHOTO_TYPES:
        return AttachmentKind.PHOTO
    if mime == "image/gif":
        return AttachmentKind.ANIMATION
    if mime == "video/mp4":
        return AttachmentKind.VIDEO
    if mime in _AUDIO_TYPES:
        return AttachmentKind.AUDIO
    return AttachmentKind.DOCUMENT


def _too_large(name: str, size: int, limit: int) -> MailNotice:
    text = (
        f'"{name}" ({describe_size(size)}) was not taken: '
        f"files over {describe_size(limit)} are not kept"
    )
    return MailNotice("attachment_too_large", text, {"name": name, "size": size, "limit": limit})


# ---- headers -------------------------------------------------------------------------------


def _message_id(value: str) -> str:
    found = _IDS.search(value)
    if found:
        return found.group(1)
    value = value.strip()
    return value if value and " " not in value and "@" in value else ""


def _sender(msg: Message, problems: _Told) -> Address:
    for name in ("From", "Sender", "Return-Path"):
        found = _addresses(msg, name, _Told() if name != "From" else problems)
        if found and found[0].addr:
            return found[0]
    problems.add("address", "the sender's address could not be read", header="From")
    return Address("", "")


def _addresses(msg: Message, name: str, problems: _Told) -> list[Address]:
    pairs: list[tuple[str, str]] = []
    try:
        value: Any = msg.get(name)
        if value is None:
            return []
        for a in value.addresses:
            pairs.append((a.display_name, a.addr_spec))
    except Exception:
        raw = raw_header(msg, name)
        try:
            pairs = getaddresses([str(email.header.make_header(email.header.decode_header(raw)))])
        except Exception:
            pairs = getaddresses([raw])
    out: dict[str, Address] = {}
    for display, addr in pairs:
        addr = addr.strip().strip("<>").lower()
        if not _VALID_ADDR.fullmatch(addr):
            if addr or display:
                problems.add("address", f"an address in {name} could not be read", header=name)
            continue
        out.setdefault(addr, Address(one_line(display).strip("\"'"), addr))
    return list(out.values())


def _date(msg: Message) -> datetime | None:
    value: datetime | None = None
    try:
        date = msg.get("Date")
        value = getattr(date, "datetime", None)
    except Exception:
        value = None
    if value is None:
        try:
            value = parsedate_to_datetime(raw_header(msg, "Date"))
        except Exception:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
