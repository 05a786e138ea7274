"""An operator's answer as the client's mail program receives it: read back with the
standard `email` package, headers, both text versions and the attachments."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from connectors.email.compose import compose_reply, reply_subject
from connectors.email.parse import Address, parse_mail
from core.content import Attachment, AttachmentKind, Content, Span, SpanKind

SUPPORT = Address("Анна via Ромашка", "support@example.com")
CLIENT = Address("Иван Петров", "ivan@example.ru")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) + b"\xff\xd9"
PDF = b"%PDF-1.4\n%%EOF\n"


def received(msg: EmailMessage) -> EmailMessage:
    """The message as it arrives: serialized, then parsed as a client would."""
    back = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(back, EmailMessage)
    return back


def reply(**overrides: object) -> tuple[EmailMessage, str]:
    args: dict[str, object] = {
        "from_addr": SUPPORT,
        "to": [CLIENT],
        "cc": [Address("Мария", "maria@example.ru")],
        "subject": "Re: Не работает роутер",
        "in_reply_to": "client.2@mail.gmail.com",
        "references": ["first.1@support.example.com", "client.2@mail.gmail.com"],
        "content": Content.plain("Здравствуйте! Мастер приедет завтра."),
        "attachments": [],
        "domain": "support.example.com",
        "date": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
    }
    args.update(overrides)
    return compose_reply(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Не работает роутер", "Re: Не работает роутер"),
        ("Re: Не работает роутер", "Re: Не работает роутер"),
        ("RE: Re: re:Invoice", "Re: Invoice"),
        ("Ответ: Счёт", "Re: Счёт"),
        ("Re[2]: Счёт", "Re: Счёт"),
        ("Fwd: Contract", "Re: Fwd: Contract"),
        ("AW: Angebot", "Re: Angebot"),
        ("", "Re:"),
    ],
)
def test_the_subject_says_re_once(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected
    msg, _ = reply(subject=subject)
    assert received(msg)["Subject"] == expected


def test_the_reply_is_threaded_and_addressed() -> None:
    msg, message_id = reply()
    back = received(msg)
    assert back["Message-ID"] == f"<{message_id}>"
    assert message_id.endswith("@support.example.com")
    assert back["In-Reply-To"] == "<client.2@mail.gmail.com>"
    assert back["References"] == "<first.1@support.example.com> <client.2@mail.gmail.com>"
    (sender,) = back["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Анна via Ромашка", "support@example.com")
    assert [(a.display_name, a.addr_spec) for a in back["To"].addresses] == [
        ("Иван Петров", "ivan@example.ru")
    ]
    assert [a.addr_spec for a in back["Cc"].addresses] == ["maria@example.ru"]
    assert back["Date"].datetime == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert back["Auto-Submitted"] is None


def test_the_new_message_id_differs_each_time() -> None:
    assert reply()[1] != reply()[1]


def test_references_are_trimmed_keeping_the_first_and_the_latest() -> None:
    chain = [f"m{i}@example.com" for i in range(60)]
    msg, _ = reply(references=chain, in_reply_to="m59@example.com")
    ids = received(msg)["References"].split()
    assert len(ids) == 20
    assert ids[0] == "<m0@example.com>" and ids[-1] == "<m59@example.com>"
    assert ids[1] == "<m41@example.com>"


def test_references_end_with_the_mail_answered() -> None:
    msg, _ = reply(references=[], in_reply_to="<only@example.com>")
    assert received(msg)["References"] == "<only@example.com>"


def test_cc_never_repeats_the_client_or_ourselves() -> None:
    msg, _ = reply(cc=[CLIENT, SUPPORT, Address("", "boss@example.ru")])
    assert [a.addr_spec for a in received(msg)["Cc"].addresses] == ["boss@example.ru"]


def test_the_text_goes_as_plain_text_and_as_escaped_html_with_formatting() -> None:
    text = "Важно: <script>alert(1)</script> см. инструкцию & FAQ\nвторая строка"
    link, italic = text.index("инструкцию"), text.index("см.")
    content = Content(
        text,
        (
            Span(SpanKind.BOLD, 0, 5),
            Span(SpanKind.LINK, link, link + 10, url="https://example.com/help?a=1&b=2"),
            Span(SpanKind.ITALIC, italic, text.index("FAQ")),
        ),
    )
    back = received(reply(content=content)[0])
    plain = back.get_body(preferencelist=("plain",))
    html = back.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == (
        "Важно: <script>alert(1)</script> см. инструкцию <https://example.com/help?a=1&b=2>"
        " & FAQ\nвторая строка\n"
    )
    body = html.get_content()
    assert "<script>" not in body
    assert "<b>Важно</b>: &lt;script&gt;alert(1)&lt;/script&gt; " in body
    assert (
        '<i>см. <a href="https://example.com/help?a=1&amp;b=2">инструкцию</a> &amp; </i>'
        "FAQ<br>\nвторая строка"
    ) in body
    # Every part is 7-bit clean: any relay takes it.
    for part in back.walk():
        assert part.get("Content-Transfer-Encoding", "7bit") in (
            "7bit",
            "base64",
            "quoted-printable",
        )


def test_overlapping_spans_give_well_nested_html() -> None:
    content = Content("abcdef", (Span(SpanKind.BOLD, 0, 4), Span(SpanKind.ITALIC, 2, 6)))
    html = received(reply(content=content)[0]).get_body(preferencelist=("html",))
    assert html is not None
    assert "<b>ab<i>cd</i></b><i>ef</i>" in html.get_content()


def test_attachments_keep_their_bytes_types_and_cyrillic_names() -> None:
    photo = Attachment(AttachmentKind.PHOTO, mime="image/jpeg", size=len(JPEG))
    contract = Attachment(AttachmentKind.DOCUMENT, name="Договор №12 (итог).pdf", mime="")
    voice = Attachment(AttachmentKind.VOICE, mime="audio/ogg")
    msg, _ = reply(attachments=[(photo, JPEG), (contract, PDF), (voice, b"OggS")])
    back = received(msg)
    files = [
        (p.get_filename(), p.get_content_type(), p.get_content()) for p in back.iter_attachments()
    ]
    assert files == [
        ("photo.jpg", "image/jpeg", JPEG),
        ("Договор №12 (итог).pdf", "application/pdf", PDF),
        ("voice.ogg", "audio/ogg", b"OggS"),
    ]
    # The Cyrillic name travels as RFC 2231, not as raw UTF-8 in the header.
    raw = msg.as_bytes()
    assert re.search(rb"filename\*(0\*)?=utf-8''%D0%94%D0%BE", raw)
    raw.decode("ascii")  # the whole message is 7-bit


def test_an_internationalised_domain_goes_as_punycode() -> None:
    msg, _ = reply(to=[Address("Клиент", "info@пример.рф")])
    (to,) = received(msg)["To"].addresses
    assert to.addr_spec == "info@xn--e1afmkfd.xn--p1ai"


def test_an_automatic_message_says_so() -> None:
    back = received(reply(automatic=True)[0])
    assert back["Auto-Submitted"] == "auto-replied"


async def test_a_reply_parses_back_as_the_same_words_and_threading() -> None:
    content = Content("Мастер приедет **завтра**.", (Span(SpanKind.BOLD, 15, 25),))
    msg, message_id = reply(content=content)
    parsed = await parse_mail(msg.as_bytes(), None)
    assert parsed.message_id == message_id
    assert parsed.in_reply_to == ["client.2@mail.gmail.com"]
    assert parsed.subject == "Re: Не работает роутер"
    assert parsed.content.text == "Мастер приедет **завтра**."
    assert [(s.kind, parsed.content.text[s.start : s.end]) for s in parsed.content.spans] == [
        (SpanKind.BOLD, "**завтра**")
    ]
    assert parsed.noise is None
