"""The satisfaction survey by e-mail (CSAT_ENABLED=email), with a real Dovecot and a
capturing SMTP server: after a close the client receives one short mail in the thread with
five links; a GET of a link (over HTTP, as a mail program's click) records the rating and
shows a thank-you page; a later click within a day changes it (a mail scanner that opened a
link first is overruled), after a day it stays; a forged link records nothing. Never asked
inside an e-mail loop (the episode's last client mail was an auto-reply)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from core.models import CsatSurvey, ReportEvent, ReportKind, SurveyStatus
from tests.e2e.conftest import Desk, build_desk
from tests.e2e.mail_servers import Dovecot, SmtpCapture
from tests.e2e.test_email import bot_says, captured, email_settings, mail, topic_with

LINK = re.compile(r"https?://\S+/csat/[\w.-]+/[1-5]")


@pytest.fixture
async def desk(emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture) -> AsyncIterator[Desk]:
    settings = email_settings(dovecot, smtp_capture, CSAT_ENABLED="email")
    async for value in build_desk(emulator, **settings):
        yield value


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def answered_and_closed(desk: Desk, dovecot: Dovecot, capture: SmtpCapture) -> Any:
    """The client writes, the team answers and closes; the client's first mail."""
    first = mail("Hello, the total on invoice 15 is doubled.")
    await dovecot.deliver_async(first)
    thread = await topic_with(desk, "invoice 15 is doubled")
    await desk.in_topic(thread, "Fixed: the new invoice is attached to your account.")
    await captured(desk, capture, 1)
    await desk.in_topic(thread, "/close")
    return thread, first


async def test_the_rating_mail_threads_and_its_links_record_over_http(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    thread, first = await answered_and_closed(desk, dovecot, smtp_capture)
    _, survey = await captured(desk, smtp_capture, 2)
    message = survey.message
    assert message["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in message["References"]
    assert message["Subject"] == "Re: Invoice 15 is wrong"
    # No person wrote it: the client's auto-responder stays silent (RFC 3834).
    assert message["Auto-Submitted"] == "auto-replied"
    text = message.get_body(("plain",)).get_content()
    assert "How would you rate our help?" in text
    links = LINK.findall(text)
    assert [link[-1] for link in links] == ["1", "2", "3", "4", "5"]
    html = message.get_body(("html",)).get_content()
    assert all(f'href="{link}"' in html for link in links)
    base = desk.app.public_url()
    assert all(link.startswith(base + "/csat/") for link in links)

    # A mail scanner (or the client) opens "4": recorded, a thank-you page.
    status, page = await get(links[3])
    assert status == 200
    assert "Your rating: 4/5" in page
    await desk.wait(lambda: bot_says(desk, thread, "⭐ 4/5 from the client"))
    # The client's own click on "5" within the day changes it; the same again is no change.
    status, page = await get(links[4])
    assert "Your rating: 5/5" in page
    await desk.wait(lambda: bot_says(desk, thread, "changed their rating: 4/5 → 5/5"))
    await get(links[4])
    assert [r.value for r in await ReportEvent.filter(kind=ReportKind.CSAT)] == [5]

    # After a day the rating stays.
    desk.clock.advance(timedelta(days=2))
    status, page = await get(links[1])
    assert "Your rating 5/5 is already recorded" in page
    assert (await CsatSurvey.get()).score == 5

    # A link whose token names another survey (or none) records nothing.
    token = links[0].split("/csat/")[1].split("/")[0]
    number, _, mac = token.partition(".")
    status, page = await get(f"{base}/csat/{int(number) + 1}.{mac}/1")
    assert status == 404
    status, page = await get(f"{base}/csat/{number}/1")
    assert status == 404
    assert [r.value for r in await ReportEvent.filter(kind=ReportKind.CSAT)] == [5]
    await desk.settle()
    assert len(smtp_capture.mails) == 2  # one question, once


async def test_never_asked_inside_an_email_loop(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    first = mail("Hello, the total on invoice 15 is doubled.")
    await dovecot.deliver_async(first)
    thread = await topic_with(desk, "invoice 15 is doubled")
    await desk.in_topic(thread, "Looking into it.")
    [ours] = await captured(desk, smtp_capture, 1)
    # The client's out-of-office machine answers our reply.
    await dovecot.deliver_async(
        mail(
            "I am out of office until Monday.",
            subject="Automatic reply: Invoice 15 is wrong",
            in_reply_to=ours.message["Message-ID"],
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    await desk.wait(lambda: bot_says(desk, thread, "out of office"), timeout=30)
    await desk.in_topic(thread, "/close")

    async def skipped() -> bool:
        return await CsatSurvey.filter(status=SurveyStatus.SKIPPED).exists()

    await desk.wait(skipped)
    await desk.settle()
    assert (await CsatSurvey.get()).reason == "automatic"
    assert len(smtp_capture.mails) == 1  # our reply, and no rating mail
