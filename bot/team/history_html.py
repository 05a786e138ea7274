"""A client's history as one self-contained HTML file, readable on a phone: messages alternately
shaded, the team's messages with square avatars and the client's with round ones, images
inline (data: URIs, size-capped), other files listed by name and size. Every text is escaped:
a client's words are never markup."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from html import escape

from core.content import Attachment, AttachmentKind
from core.sizes import describe_size

# One image at most this large goes inline; past the total, images are only listed.
IMAGE_LIMIT = 1024 * 1024
IMAGES_TOTAL = 20 * 1024 * 1024
# The client's side: round avatars. The team's (replies, comments, notes): square.
INCOMING = frozenset({"in", "call"})
COLOURS = ("#e57373", "#64b5f6", "#81c784", "#ffb74d", "#ba68c8", "#4db6ac", "#f06292", "#7986cb")
IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232a;
background:#fff}
header{padding:14px 16px;background:#eef2f7;border-bottom:1px solid #d8dee6}
header h1{margin:0 0 4px;font-size:18px}
header p{margin:0;color:#5b6673;font-size:13px}
.dialog{padding:8px 16px;background:#dfe7f1;font-weight:600;font-size:14px}
.dialog a{color:#1f5fa8;text-decoration:none}
.msg{display:flex;gap:10px;padding:10px 16px}
.msg.odd{background:#f5f7fa}
.av{flex:0 0 36px;height:36px;display:flex;align-items:center;justify-content:center;
color:#fff;font-weight:600;font-size:14px}
.av.round{border-radius:50%}
.av.square{border-radius:6px}
.body{flex:1;min-width:0}
.meta{font-size:12px;color:#5b6673}
.meta b{color:#1d232a;font-size:14px}
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin-top:2px}
.msg.comment .text,.msg.note .text{font-style:italic}
img{display:block;max-width:100%;height:auto;border-radius:6px;margin-top:6px}
ul.files{margin:6px 0 0;padding-left:18px;font-size:14px}
"""


@dataclass(frozen=True)
class Part:
    """One message of the transcript, as it is shown."""

    key: str  # "m<id>" for a message, "n<id>" for a note
    kind: str
    author: str
    who: str  # the direction in words: "client", "operator", "comment"…
    at: str
    channel: str
    dialog_id: int
    dialog_title: str
    dialog_url: str | None
    text: str
    attachments: tuple[Attachment, ...] = ()


ImageLoader = Callable[[Attachment, int], Awaitable[bytes | None]]


def initials(name: str) -> str:
    words = [w for w in name.replace("@", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


def colour(name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8", "replace")).digest()
    return COLOURS[digest[0] % len(COLOURS)]


def image_mime(att: Attachment) -> str | None:
    if att.kind is AttachmentKind.PHOTO:
        return att.mime if att.mime in IMAGE_MIMES else "image/jpeg"
    if att.kind in (AttachmentKind.DOCUMENT, AttachmentKind.STICKER) and att.mime in IMAGE_MIMES:
        return att.mime
    return None


def file_line(att: Attachment) -> str:
    name = att.name or att.kind.value
    if att.kind is AttachmentKind.LOCATION:
        lat, lon = att.data.get("latitude"), att.data.get("longitude")
        name = f"📍 {lat}, {lon}"
    elif att.kind is AttachmentKind.CONTACT:
        name = f"👤 {att.data.get('first_name', '')} {att.data.get('phone', '')}".strip()
    size = f" — {describe_size(att.size)}" if att.size else ""
    return f"<li>{escape(name)}{escape(size)}</li>"


async def transcript_html(
    parts: Sequence[Part],
    *,
    title: str,
    lang: str,
    image: ImageLoader,
    labels: dict[str, str],
) -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>",
        f"<p>{escape(labels.get('count', ''))} · {escape(labels.get('generated', ''))}</p>",
        "</header><main>",
    ]
    images_left = IMAGES_TOTAL
    current = None
    for number, part in enumerate(parts):
        if part.dialog_id != current:
            current = part.dialog_id
            heading = escape(part.dialog_title)
            if part.dialog_url:
                heading = f'<a href="{escape(part.dialog_url)}">{heading}</a>'
            out.append(f'<div class="dialog">💬 {heading}</div>')
        shape = "round" if part.kind in INCOMING else "square"
        shade = "odd" if number % 2 else "even"
        out.append(
            f'<section class="msg {escape(part.kind)} {shade}" data-key="{escape(part.key)}">'
            f'<div class="av {shape}" style="background:{colour(part.author)}">'
            f"{escape(initials(part.author))}</div>"
            '<div class="body"><div class="meta">'
            f"<b>{escape(part.author)}</b> · {escape(part.who)} · {escape(part.channel)} · "
            f"<time>{escape(part.at)}</time></div>"
        )
        if part.text:
            out.append(f'<div class="text">{escape(part.text)}</div>')
        listed = []
        for att in part.attachments:
            mime = image_mime(att)
            data = await image(att, min(IMAGE_LIMIT, images_left)) if mime and images_left else None
            if data is not None and mime is not None:
                images_left -= len(data)
                encoded = base64.b64encode(data).decode("ascii")
                alt = escape(att.name or att.kind.value)
                out.append(f'<img src="data:{mime};base64,{encoded}" alt="{alt}">')
            else:
                listed.append(file_line(att))
        if listed:
            out.append('<ul class="files">' + "".join(listed) + "</ul>")
        out.append("</div></section>")
    out.append("</main></body></html>")
    return "\n".join(out)
