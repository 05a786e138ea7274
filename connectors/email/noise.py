"""Mail no automatic message may answer, and bounces of our own mail.

An auto-reply answered by a greeting answered by an auto-reply is a loop that fills two
mailboxes by morning (RFC 3834). A mail that a machine wrote — an out-of-office, a list,
a newsletter, a bounce — is still shown to the team; only nothing automatic answers it.
A delivery status notification (RFC 3464) of one of our replies names the reply and why
it did not arrive.
"""

from __future__ import annotations

import contextlib
import email
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message

from connectors.email.mime import header, one_line

# Local parts of addresses no person reads.
_ROBOTS = re.compile(
    r"^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)([-+._].*)?$",
    re.I,
)
_IDS = re.compile(r"<([^<>\s]+)>")
# Subjects that out-of-office replies carry when their headers do not say so (Outlook,
# Exchange, Yandex and Mail.ru in English and Russian).
_AUTO_SUBJECT = re.compile(
    r"^(automatic reply|auto[- ]?reply|autoreply|out of (the )?office|auto:"
    r"|автоматический ответ|автоответ)",
    re.I,
)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|delivery failure|failure notice"
    r"|mail delivery failed|не доставлено|недоставлен",
    re.I,
)


@dataclass
class Bounce:
    """A delivery status notification of a mail: which, to whom, and why, in plain words."""

    original_ids: list[str]  # Message-IDs (without <>) of the mail that bounced
    status: str  # "5.1.1"; "" when the report gave none
    reason: str  # plain English: "the address does not exist (550 5.1.1 … User unknown)"
    action: str = "failed"  # "failed", "delayed", "delivered", …
    recipients: list[str] = field(default_factory=list)
    diagnostic: str = ""  # the receiving server's own words

    @property
    def failed(self) -> bool:
        """Whether the mail will not arrive (not just a delay or a success report)."""
        return self.action == "failed" or (self.action == "" and self.status.startswith("5"))


def noise_reason(msg: Message, sender: str) -> str | None:
    """Why no automatic message may answer `msg` (from `sender`), or None."""
    auto = header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {one_line(auto)[:60]}"
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in (
        "X-Loop",
        "List-Unsubscribe",
        "List-Id",
        "X-Auto-Response-Suppress",
        "X-Autoreply",
        "X-Autorespond",
    ):
        if header(msg, name).strip():
            return name
    subject = one_line(header(msg, "Subject"))
    if _AUTO_SUBJECT.match(subject):
        return f"an automatic reply ({subject[:60]})"
    local = sender.partition("@")[0]
    if _ROBOTS.match(local):
        return f"sent from {sender}"
    if header(msg, "Return-Path").strip() == "<>":
        return "an empty Return-Path (a machine's mail)"
    if is_report(msg):
        return "a delivery report"
    return None


def is_report(msg: Message) -> bool:
    return msg.get_content_type() == "multipart/report"


def read_bounce(msg: Message, sender: str) -> Bounce | None:
    """The bounce `msg` reports, or None when it is no bounce."""
    report_type = str(msg.get_param("report-type", "") or "")
    if is_report(msg) and report_type.lower() == "delivery-status":
        return _from_report(msg)
    local = sender.partition("@")[0].lower()
    if local.startswith(("mailer-daemon", "postmaster")) and _FAILURE_SUBJECT.search(
        header(msg, "Subject")
    ):
        return _from_plain(msg)
    return None


def _from_report(msg: Message) -> Bounce:
    ids: list[str] = []
    recipients: list[str] = []
    statuses: list[tuple[str, str, str]] = []  # (action, status, diagnostic)
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            for block in _status_blocks(part):
                action = header(block, "Action").strip().lower()
                status = _STATUS.search(header(block, "Status"))
                diagnostic = one_line(header(block, "Diagnostic-Code"))
                diagnostic = re.sub(r"^(smtp|x-[\w-]+)\s*;\s*", "", diagnostic, flags=re.I)
                recipient = header(block, "Final-Recipient") or header(block, "Original-Recipient")
                if recipient:
                    recipients.append(recipient.rpartition(";")[2].strip().strip("<>").lower())
                if action or status or diagnostic:
                    statuses.append((action, status.group(0) if status else "", diagnostic))
        elif kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                ids += _ids(header(inner, "Message-ID"))
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "text/global-headers"):
            try:
                text = part.get_payload(decode=True) or b""
                inner = email.message_from_bytes(bytes(text), policy=policy.default)
                ids += _ids(header(inner, "Message-ID"))
            except Exception:
                pass
    if not ids:
        ids = _ids(header(msg, "References")) + _ids(header(msg, "In-Reply-To"))
    failed = [s for s in statuses if s[0] == "failed"]
    action, code, diagnostic = (failed or statuses or [("failed", "", "")])[0]
    return Bounce(
        original_ids=list(dict.fromkeys(ids)),
        status=code,
        reason=explain(code, diagnostic, action),
        action=action,
        recipients=list(dict.fromkeys(recipients)),
        diagnostic=diagnostic[:500],
    )


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    # A report the parser left as text: its blocks are header blocks apart by blank lines.
    text = payload if isinstance(payload, str) else ""
    return [
        email.message_from_string(block.strip() + "\n", policy=policy.default)
        for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
        if block.strip()
    ]


def _from_plain(msg: Message) -> Bounce:
    """An old-style bounce (qmail, Exim without a report): ids from the quoted original."""
    ids: list[str] = []
    texts: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                ids += _ids(header(payload[0], "Message-ID"))
        elif kind == "text/plain":
            with contextlib.suppress(Exception):
                texts.append(str(part.get_content()) if isinstance(part, EmailMessage) else "")
    body = "\n".join(texts)
    if not ids:
        for m in re.finditer(r"^\s*Message-ID:\s*(<[^<>\s]+>)", body, re.I | re.M):
            ids += _ids(m.group(1))
    if not ids:
        ids = _ids(header(msg, "References")) + _ids(header(msg, "In-Reply-To"))
    status = _STATUS.search(body)
    code = status.group(0) if status else ""
    line = next((one_line(x) for x in body.splitlines() if re.search(r"\b[45]\d\d\b", x)), "")
    return Bounce(
        original_ids=list(dict.fromkeys(ids)),
        status=code,
        reason=explain(code, line, "failed"),
        diagnostic=line[:500],
    )


def _ids(value: str) -> list[str]:
    return _IDS.findall(value)


# RFC 3463 status codes in words a person understands.
_DETAILS = {
    "1.1": "the address does not exist",
    "1.2": "the recipient's domain does not exist",
    "1.3": "the address is not valid",
    "1.6": "the recipient has moved and left no forwarding address",
    "1.10": "the recipient's domain accepts no mail",
    "2.1": "the recipient's mailbox is disabled",
    "2.2": "the recipient's mailbox is full",
    "2.3": "the mail is larger than the recipient accepts",
    "3.4": "the mail is larger than the receiving server accepts",
    "4.1": "the receiving server did not answer",
    "4.2": "the connection to the receiving server broke",
    "4.4": "the recipient's mail server could not be found",
    "4.7": "delivery took too long and was given up",
    "5.3": "the receiving server refused too many recipients",
    "7.1": "the receiving server refused it (not allowed: a spam filter or a policy)",
    "7.26": "the receiving server refused it as not authenticated (SPF, DKIM or DMARC)",
    "7.27": "the recipient's domain accepts no mail",
}
_CLASSES = {
    "1": "the address is wrong",
    "2": "the recipient's mailbox cannot take it",
    "3": "the recipient's mail system cannot take it",
    "4": "the network or the route to the recipient failed",
    "5": "the receiving server could not handle it",
    "6": "the mail's content could not be delivered",
    "7": "the receiving server refused it (security or policy)",
}


def explain(status: str, diagnostic: str = "", action: str = "failed") -> str:
    """A bounce's reason in plain words, the server's own words after it."""
    m = _STATUS.search(status or "")
    if m:
        what = _DETAILS.get(f"{m.group(2)}.{m.group(3)}") or _CLASSES.get(m.group(2), "")
        what = what or "the receiving server refused it"
        if m.group(1) == "4" or action == "delayed":
            what = f"delivery is delayed, the server keeps trying: {what}"
    elif action == "delayed":
        what = "delivery is delayed, the server keeps trying"
    else:
        what = "the receiving server refused it"
    diagnostic = one_line(diagnostic)
    if diagnostic:
        clipped = diagnostic if len(diagnostic) <= 200 else diagnostic[:199] + "…"
        return f"{what} ({clipped})"
    return what
