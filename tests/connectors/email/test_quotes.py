"""The new words of a reply, as the team should read them: the quoted thread and the
signature gone, whichever client — Russian or English — wrote the reply."""

from __future__ import annotations

import pytest

from connectors.email.html import html_to_text
from connectors.email.quotes import strip_quotes
from core.content import SpanKind

GMAIL_EN = """Thanks, that worked!

On Mon, Dec 1, 2026 at 10:00 AM Support Team <support@example.com>
wrote:

> Please try restarting the router.
>
> --
> Support
"""

GMAIL_RU = """Спасибо, всё заработало.

пн, 1 дек. 2026 г. в 10:00, Служба поддержки <support@example.com>:

> Попробуйте перезагрузить роутер.
> Если не поможет — напишите.
"""

# Gmail wraps a long attribution line in the plain-text part.
GMAIL_RU_WRAPPED = """Спасибо.

пн, 1 дек. 2026 г. в 10:00, Служба технической поддержки компании Ромашка <
support@example.com>:

> Попробуйте перезагрузить роутер.
"""

YANDEX = """Добрый день!
Роутер всё равно не работает.

01.12.2026, 10:00, "Служба поддержки" <support@example.com>:
> Здравствуйте! Попробуйте перезагрузить роутер.
"""

MAILRU = """Хорошо, жду звонка.


Понедельник, 1 декабря 2026, 10:00 +03:00 от Служба поддержки <support@example.com>:

>Здравствуйте!
>Мы перезвоним вам завтра.
"""

OUTLOOK_RU = """Пришлите, пожалуйста, счёт на оплату.

С уважением,
Иван

________________________________
От: Служба поддержки <support@example.com>
Отправлено: 1 декабря 2026 г. 10:00
Кому: Иван Петров <ivan@example.ru>
Тема: Счёт

Здравствуйте! Счёт будет готов завтра.
"""

OUTLOOK_EN = """Please send the invoice.

From: Support <support@example.com>
Sent: Monday, December 1, 2026 10:00 AM
To: Ivan Petrov <ivan@example.ru>
Subject: Invoice

Hello, the invoice will be ready tomorrow.
"""

ORIGINAL_MESSAGE = """See my answer above the line.

-----Original Message-----
From: support@example.com
The old text.
"""

THUNDERBIRD_RU = """Да, это я.

01.12.2026 10:00, Служба поддержки пишет:
> Это вы писали вчера?
"""

# The signature line is "-- ", with its space.
SIGNATURE = "Hello, my printer does not print.\n\n-- \nIvan Petrov\nACME Ltd, +7 999 000-00-00\n"

MOBILE = """Yes, please do.

Sent from my iPhone

On Mon, Dec 1, 2026 at 10:00 AM Support <support@example.com> wrote:
> Shall we replace it?
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GMAIL_EN, "Thanks, that worked!"),
        (GMAIL_RU, "Спасибо, всё заработало."),
        (GMAIL_RU_WRAPPED, "Спасибо."),
        (YANDEX, "Добрый день!\nРоутер всё равно не работает."),
        (MAILRU, "Хорошо, жду звонка."),
        (OUTLOOK_RU, "Пришлите, пожалуйста, счёт на оплату.\n\nС уважением,\nИван"),
        (OUTLOOK_EN, "Please send the invoice."),
        (ORIGINAL_MESSAGE, "See my answer above the line."),
        (THUNDERBIRD_RU, "Да, это я."),
        (SIGNATURE, "Hello, my printer does not print."),
        (MOBILE, "Yes, please do."),
    ],
    ids=[
        "gmail-en",
        "gmail-ru",
        "gmail-ru-wrapped",
        "yandex",
        "mailru",
        "outlook-ru",
        "outlook-en",
        "original-message",
        "thunderbird-ru",
        "signature",
        "mobile-footer",
    ],
)
def test_the_quote_and_signature_are_cut(text: str, expected: str) -> None:
    new, _, stripped = strip_quotes(text)
    assert new == expected
    assert stripped


def test_a_mail_that_is_only_a_quote_keeps_its_words() -> None:
    text = "> the whole mail\n> is a quote\n"
    new, _, stripped = strip_quotes(text)
    assert "the whole mail" in new and "is a quote" in new
    assert not stripped


def test_a_forward_with_nothing_above_it_stays_whole() -> None:
    text = (
        "From: Boss <boss@example.com>\nSent: Monday\nTo: me\nSubject: hi\n\nThe forwarded body\n"
    )
    new, _, stripped = strip_quotes(text)
    assert new.startswith("From: Boss") and new.endswith("The forwarded body")
    assert not stripped


def test_plain_words_with_a_time_and_an_address_are_not_a_quote_header() -> None:
    text = "Call me at 10:00 or write to ivan@example.ru:\nI am at the office all day."
    new, _, stripped = strip_quotes(text)
    assert new == text
    assert not stripped


def test_a_bottom_post_keeps_the_answer_under_the_quote() -> None:
    text = (
        "On Mon, Dec 1, 2026 at 10:00 AM Support <support@example.com> wrote:\n"
        "> Which model do you have?\n\nAn HP LaserJet 1020.\n"
    )
    new, _, stripped = strip_quotes(text)
    assert new == "An HP LaserJet 1020."
    assert stripped


def test_answers_written_into_the_quote_keep_their_questions_as_quotes() -> None:
    text = "> Which model?\nHP 1020\n> Which system?\nWindows 11\n\n-- \nIvan\n"
    new, spans, stripped = strip_quotes(text)
    assert new == "Which model?\nHP 1020\nWhich system?\nWindows 11"
    quotes = [new[s.start : s.end] for s in spans if s.kind is SpanKind.QUOTE]
    assert quotes == ["Which model?", "Which system?"]
    assert stripped


def test_gmail_html_reply_keeps_formatting_and_loses_the_blockquote() -> None:
    html = """<div dir="ltr">Всё <b>заработало</b>, спасибо!<div>Подробности
    <a href="https://example.ru/log">в логе</a>.</div></div><br>
    <div class="gmail_quote"><div dir="ltr" class="gmail_attr">пн, 1 дек. 2026 г. в 10:00,
    Служба поддержки &lt;<a href="mailto:support@example.com">support@example.com</a>&gt;:<br>
    </div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">
    <div dir="ltr">Попробуйте <b>перезагрузить</b> роутер.</div></blockquote></div>"""
    text, spans = html_to_text(html)
    new, new_spans, stripped = strip_quotes(text, spans)
    assert new == "Всё заработало, спасибо!\nПодробности в логе."
    shown = {(s.kind, new[s.start : s.end], s.url) for s in new_spans}
    assert shown == {
        (SpanKind.BOLD, "заработало", None),
        (SpanKind.LINK, "в логе", "https://example.ru/log"),
    }
    assert stripped


def test_outlook_html_reply_in_russian_is_cut_at_its_header_block() -> None:
    html = """<html><body><div class="WordSection1">
    <p class="MsoNormal">Когда будет <i>мастер</i>?<o:p></o:p></p>
    <p class="MsoNormal"><o:p>&nbsp;</o:p></p>
    <div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
    <p class="MsoNormal"><b>От:</b> Служба поддержки &lt;support@example.com&gt;<br>
    <b>Отправлено:</b> 1 декабря 2026 г. 10:00<br><b>Кому:</b> Иван &lt;ivan@example.ru&gt;<br>
    <b>Тема:</b> Ремонт<o:p></o:p></p></div>
    <p class="MsoNormal">Мастер приедет завтра.<o:p></o:p></p></div></body></html>"""
    text, spans = html_to_text(html)
    new, new_spans, stripped = strip_quotes(text, spans)
    assert new == "Когда будет мастер?"
    assert [(s.kind, new[s.start : s.end]) for s in new_spans] == [(SpanKind.ITALIC, "мастер")]
    assert stripped
