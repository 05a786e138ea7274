"""The website chat's offline continuity in a real browser (headless Chromium on the demo
page): a visitor leaves an e-mail, writes and closes the page; the operator's reply reaches
them by e-mail (the e-mail channel: a real Dovecot and a capturing SMTP server) with a link
back to the page; their answer to that mail lands in the same topic, and the chat shows it
when they come back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from connectors.webchat import channel
from core.models import ChannelKind
from tests.e2e.conftest import Desk, bot_says, build_desk
from tests.e2e.mail_servers import Dovecot, SmtpCapture
from tests.e2e.test_email import captured, email_settings, mail
from tests.e2e.test_webchat_browser import (
    FROM_OPERATOR,
    FROM_VISITOR,
    INPUT,
    LAUNCHER,
    MS,
    WAIT,
    base_url,
    browser,
    context,
    shows,
    topic_with,
    webchat_settings,
    write,
)

__all__ = ["browser", "context"]  # the fixtures, shared with test_webchat_browser

ADDRESS = "ann@clientmail.com"


@pytest.fixture
async def desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Desk]:
    # "A few minutes" without a tab open: at once here.
    monkeypatch.setattr(channel, "OFFLINE_AFTER", 0.0)
    settings = {
        **email_settings(dovecot, smtp_capture),
        **webchat_settings(WEBCHAT_ASK_EMAIL="required"),
    }
    async for value in build_desk(emulator, **settings):
        yield value


async def test_a_visitor_who_closed_the_page_gets_the_reply_by_e_mail_and_answers_into_the_topic(
    desk: Desk, context: BrowserContext, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    page = await context.new_page()
    await page.goto(f"{base_url(desk)}/webchat/demo")
    await page.locator(LAUNCHER).click()
    email = page.locator("[data-eadesk=email]")
    await expect(email).to_be_visible(timeout=MS)
    await email.fill(ADDRESS)
    await email.press("Enter")
    await expect(page.locator(INPUT)).to_be_visible(timeout=MS)
    await write(page, "Can you call me back?")
    thread = await topic_with(desk, "Can you call me back?")

    # The visitor closes the page; the server sees the chat go.
    await page.close()
    chat = next(c for c in desk.app.core.connectors if c.kind == ChannelKind.WEBCHAT)

    async def gone() -> bool:
        return not chat.live.sockets

    await desk.wait(gone, timeout=WAIT)

    # The operator's reply goes by e-mail too, with a way back to the page.
    await desk.in_topic(thread, "Sure, tomorrow at 10")
    [got] = await captured(desk, smtp_capture)
    assert ADDRESS in got.message["To"]
    body = got.message.get_body(preferencelist=("plain",)).get_content()
    assert "Sure, tomorrow at 10" in body
    assert f"{base_url(desk)}/webchat/demo" in body

    # Their answer to the mail lands in the same topic.
    answer = mail(
        "Thanks, 10 is fine",
        sender=f"Ann <{ADDRESS}>",
        subject=f"Re: {got.message['Subject']}",
        in_reply_to=got.message["Message-ID"],
    )
    await dovecot.deliver_async(answer)
    await desk.wait(lambda: bot_says(desk, thread, "Thanks, 10 is fine"), timeout=WAIT)
    assert len(await desk.topics()) == 1

    # Back on the site: the chat shows the reply and their answer by e-mail, in order.
    page = await context.new_page()
    await page.goto(f"{base_url(desk)}/webchat/demo")
    await page.locator(LAUNCHER).click()
    await shows(desk, page.locator(FROM_OPERATOR).filter(has_text="Sure, tomorrow at 10"))
    answered = page.locator(FROM_VISITOR).filter(has_text="Thanks, 10 is fine")
    await shows(desk, answered)
    texts = await page.locator("[data-eadesk=message]").all_inner_texts()
    order = [t for t in texts if any(w in t for w in ("call me", "tomorrow", "10 is fine"))]
    assert len(order) == 3
    assert "call me" in order[0] and "tomorrow" in order[1] and "10 is fine" in order[2]
