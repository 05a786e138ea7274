"""An operator's answer as a reply e-mail a client's mail program threads and shows well:
"Re: " once, In-Reply-To and References, a plain-text part and an HTML part drawn from
the spans (everything escaped; links as links), attachments with their types and names
(RFC 2231, so Cyrillic names survive)."""

from __future__ import annotations

import mimetypes
import re
from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from itertools import pairwise

from connectors.email.parse import Address
from core.content import Attachment, AttachmentKind, Content, Span, SpanKind

# Every part 7-bit clean: quoted-printable or base64, whatever server relays it.
POLICY = policy.default.clone(cte_type="7bit")
# References keep the thread's first mail and the latest ones (RFC 5322 §3.6.4 allows
# trimming; most clients keep about this many).
REFERENCES_KEPT = 20
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|ha|aw|sv|vs|antw|ответ|отв)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+", re.I
)
_ID = re.compile(r"[^<>\s]{1,250}")
_DEFAULT_NAMES = {
    AttachmentKind.PHOTO: "photo",
    AttachmentKind.VIDEO: "video",
    AttachmentKind.ANIMATION: "animation",
    AttachmentKind.AUDIO: "audio",
    AttachmentKind.VOICE: "voice",
    AttachmentKind.VIDEO_NOTE: "video",
    AttachmentKind.STICKER: "sticker",
    AttachmentKind.DOCUMENT: "file",
}
_DEFAULT_MIME = {
    AttachmentKind.PHOTO: "image/jpeg",
    AttachmentKind.VIDEO: "video/mp4",
    AttachmentKind.VIDEO_NOTE: "video/mp4",
    AttachmentKind.ANIMATION: "video/mp4",
    AttachmentKind.VOICE: "audio/ogg",
    AttachmentKind.STICKER: "image/webp",
}
_TAGS = {
    SpanKind.BOLD: ("<b>", "</b>"),
    SpanKind.ITALIC: ("<i>", "</i>"),
    SpanKind.UNDERLINE: ("<u>", "</u>"),
    SpanKind.STRIKE: ("<s>", "</s>"),
    SpanKind.SPOILER: ('<span style="background:#ddd;color:#ddd">', "</span>"),
    SpanKind.CODE: ("<code>", "</code>"),
    SpanKind.PRE: ('<pre style="white-space:pre-wrap">', "</pre>"),
    SpanKind.QUOTE: (
        '<blockquote style="margin:0 0 0 .8ex;border-left:2px solid #ccc;padding-left:1ex">',
        "</blockquote>",
    ),
}


def reply_subject(subject: str) -> str:
    """ "Re: " and the subject without the reply prefixes clients stacked on it."""
    rest = _REPLY_PREFIX.sub("", subject.strip()).strip()
    return f"Re: {rest}" if rest else "Re:"


def compose_reply(
    *,
    from_addr: Address,
    to: list[Address],
    cc: list[Address],
    subject: str,
    in_reply_to: str | None,
    references: list[str],
    content: Content,
    attachments: list[tuple[Attachment, bytes]],
    domain: str,
    date: datetime | None = None,
    automatic: bool = False,
) -> tuple[EmailMessage, str]:
    """The reply and its new Message-ID (without <>). `date` is the send time (now when
    not given); `automatic` marks a message no person wrote (RFC 3834), so that the
    client's auto-responder stays silent."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _header_address(from_addr)
    seen = {from_addr.addr.lower()}
    to_list = _unique(to, seen)
    cc_list = _unique(cc, seen)
    if to_list:
        msg["To"] = [_header_address(a) for a in to_list]
    if cc_list:
        msg["Cc"] = [_header_address(a) for a in cc_list]
    msg["Subject"] = reply_subject(subject)
    msg["Date"] = format_datetime(date) if date else format_datetime(datetime.now().astimezone())
    message_id = make_msgid(domain=_ascii_domain(domain) or None)[1:-1]
    msg["Message-ID"] = f"<{message_id}>"
    parent = in_reply_to.strip().strip("<>") if in_reply_to else ""
    if parent and _ID.fullmatch(parent):
        msg["In-Reply-To"] = f"<{parent}>"
    chain = _references(references, parent)
    if chain:
        msg["References"] = " ".join(f"<{r}>" for r in chain)
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(plain_text(content) + "\n")
    msg.add_alternative(render_html(content), subtype="html")
    for attachment, data in attachments:
        mime = _mime(attachment)
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=_name(attachment))
    return msg, message_id


def _references(references: list[str], parent: str) -> list[str]:
    chain = [r.strip().strip("<>") for r in references]
    chain = [r for r in chain if _ID.fullmatch(r)]
    if parent:
        chain = [r for r in chain if r != parent] + [parent]
    chain = list(dict.fromkeys(chain))
    if len(chain) > REFERENCES_KEPT:
        chain = [chain[0], *chain[-(REFERENCES_KEPT - 1) :]]
    return chain


def _unique(addresses: list[Address], seen: set[str]) -> list[Address]:
    out = []
    for a in addresses:
        key = a.addr.lower()
        if key and key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _header_address(a: Address) -> HeaderAddress:
    local, _, domain = a.addr.rpartition("@")
    return HeaderAddress(display_name=a.name, username=local, domain=_ascii_domain(domain))


def _ascii_domain(domain: str) -> str:
    """An internationalised domain (пример.рф) as the xn-- form every server takes."""
    try:
        domain.encode("ascii")
        return domain
    except UnicodeEncodeError:
        try:
            return domain.encode("idna").decode("ascii")
        except UnicodeError:
            return domain


def _mime(attachment: Attachment) -> str:
    mime = attachment.mime.strip().lower()
    if re.fullmatch(r"[\w.+-]+/[\w.+-]+", mime):
        return mime
    guessed = mimetypes.guess_type(attachment.name)[0] if attachment.name else None
    return guessed or _DEFAULT_MIME.get(attachment.kind, "application/octet-stream")


def _name(attachment: Attachment) -> str:
    if attachment.name:
        return attachment.name
    ext = mimetypes.guess_extension(_mime(attachment)) or ""
    if _mime(attachment) == "audio/ogg":
        ext = ".ogg"
    return _DEFAULT_NAMES.get(attachment.kind, "file") + ext


# ---- the text as plain text and as HTML --------------------------------------------------------


def plain_text(content: Content) -> str:
    """The text; a link whose words are not its address gets the address after them."""
    text = content.text
    inserts = sorted(
        (s.end, f" <{s.url}>")
        for s in content.spans
        if s.kind in (SpanKind.LINK, SpanKind.MENTION)
        and s.url
        and s.url.startswith(("http://", "https://", "mailto:"))
        and text[s.start : s.end].strip() not in (s.url, s.url.removeprefix("mailto:"))
    )
    for at, insert in reversed(inserts):
        text = text[:at] + insert + text[at:]
    return text


def render_html(content: Content) -> str:
    body = _render(content.text, content.spans)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        f'<body><div dir="auto">{body}</div></body></html>\n'
    )


def _render(text: str, spans: tuple[Span, ...]) -> str:
    spans = tuple(
        s
        for s in spans
        if 0 <= s.start < s.end <= len(text) and (s.kind in _TAGS or _link_url(s) is not None)
    )
    bounds = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    out: list[str] = []
    stack: list[Span] = []
    for lo, hi in pairwise(bounds):
        active = [s for s in spans if s.start <= lo and hi <= s.end]
        keep = 0
        while keep < len(stack) and stack[keep] in active:
            keep += 1
        for s in reversed(stack[keep:]):
            out.append(_close(s))
        del stack[keep:]
        for s in sorted((s for s in active if s not in stack), key=lambda s: (-s.end, s.start)):
            out.append(_open(s))
            stack.append(s)
        piece = escape(text[lo:hi])
        if not any(s.kind is SpanKind.PRE for s in stack):
            piece = piece.replace("\n", "<br>\n")
        out.append(piece)
    for s in reversed(stack):
        out.append(_close(s))
    return "".join(out)


def _link_url(s: Span) -> str | None:
    if s.kind not in (SpanKind.LINK, SpanKind.MENTION) or not s.url:
        return None
    return s.url if s.url.lower().startswith(("http://", "https://", "mailto:", "tel:")) else None


def _open(s: Span) -> str:
    url = _link_url(s)
    if url is not None:
        return f'<a href="{escape(url, quote=True)}">'
    return _TAGS[s.kind][0]


def _close(s: Span) -> str:
    if _link_url(s) is not None:
        return "</a>"
    return _TAGS[s.kind][1]
