"""The website chat's offline continuity: a visitor who left an e-mail and closed the page
gets the operator's reply by e-mail (through the e-mail channel: a real Dovecot and a
capturing SMTP server), and their answer to that mail continues the same dialog and topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from connectors.webchat import channel
from tests.e2e.conftest import Desk, bot_says, build_desk
from tests.e2e.mail_servers import Dovecot, SmtpCapture
from tests.e2e.test_email import captured, email_settings, mail
from tests.e2e.test_webchat import SITE, Visitor, tab_has, topic_with

ADDRESS = "ann@clientmail.com"


@pytest.fixture
async def desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Desk]:
    # "A few minutes" without a tab open: at once here.
    monkeypatch.setattr(channel, "OFFLINE_AFTER", 0.0)
    settings = {**email_settings(dovecot, smtp_capture), "WEBCHAT_ENABLED": "true"}
    async for value in build_desk(emulator, **settings):
        yield value


async def test_an_offline_visitor_gets_the_reply_by_e_mail_and_their_answer_continues_the_chat(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    async with aiohttp.ClientSession() as http:
        visitor = Visitor(desk, http)
        await visitor.session()
        status, _ = await visitor.call(
            "POST", "/webchat/api/email", json={"token": visitor.token, "email": ADDRESS}
        )
        assert status == 200
        await visitor.send("Can you call me back?")
        thread = await topic_with(desk, "Can you call me back?")

        # The visitor closed the page: the reply goes by e-mail too, with a way back.
        await desk.in_topic(thread, "Sure, tomorrow at 10")
        [got] = await captured(desk, smtp_capture)
        assert ADDRESS in got.message["To"]
        body = got.message.get_body(preferencelist=("plain",)).get_content()
        assert "Sure, tomorrow at 10" in body
        assert f"{SITE}/pricing" in body

        answer = mail(
            "Thanks, 10 is fine",
            sender=f"Ann <{ADDRESS}>",
            subject=f"Re: {got.message['Subject']}",
            in_reply_to=got.message["Message-ID"],
        )
        await dovecot.deliver_async(answer)
        await desk.wait(lambda: bot_says(desk, thread, "Thanks, 10 is fine"), timeout=30)
        assert len(await desk.topics()) == 1
        history = await visitor.session()
        assert [m["text"] for m in history["messages"]][-1] == "Thanks, 10 is fine"

        # With a tab open, the reply stays in the chat.
        tab = await visitor.open_tab()
        await desk.in_topic(thread, "See you")
        await tab_has(desk, tab, "operator", "See you")
        await desk.settle()
        assert len(smtp_capture.mails) == 1
        await visitor.close()
