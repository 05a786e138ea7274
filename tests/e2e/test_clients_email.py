"""The client's card and merge with e-mail (#15), through the test mail servers: the people on
a mail thread (To/Cc) under 👥 *Participants*, each opening their own card in the presser's
private chat; a client who wrote by e-mail and on Telegram merged by their address, with one
history after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.models import Client, Dialog
from tests.e2e.conftest import Desk
from tests.e2e.mail_servers import Dovecot, SmtpCapture
from tests.e2e.teamwork import (
    buttons,
    card_of,
    last_bot_message,
    pressed,
    private_has,
    said,
    start_private,
    teamwork_desk,
)
from tests.e2e.test_email import COLLEAGUE, bot_says, email_settings, mail

# An address email-validator takes (it refuses special-use domains such as .test).
CLIENT = "ann.lee@example.com"


@pytest.fixture
async def desk(emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture) -> AsyncIterator[Desk]:
    async for value in teamwork_desk(emulator, **email_settings(dovecot, smtp_capture)):
        yield value


async def topic_showing(desk: Desk, needle: str, known: set[int]) -> int:
    async def found() -> int | None:
        for topic in await desk.topics():
            thread = int(topic["thread_id"])
            if thread not in known and await bot_says(desk, thread, needle):
                return thread
        return None

    return int(await desk.wait(found, timeout=30))


async def test_participants_open_their_own_cards_in_private(desk: Desk, dovecot: Dovecot) -> None:
    await dovecot.deliver_async(mail("Please check invoice 15.", cc=f"Boris Orlov <{COLLEAGUE}>"))
    thread = await topic_showing(desk, "Please check invoice 15.", set())

    async def card_with_participants() -> dict[str, Any] | None:
        card = await card_of(desk, thread)
        return card if card and "👥 Participants" in buttons(card) else None

    card = await desk.wait(card_with_participants, timeout=30)
    await start_private(desk, desk.operator)
    await pressed(desk, desk.operator, card, "Participants")
    listing = await desk.wait(lambda: last_bot_message(desk, thread, "On this thread (1)"))
    assert list(buttons(listing)) == ["👤 Boris Orlov"]
    answer = await pressed(desk, desk.operator, listing, "Boris Orlov")
    assert "private chat" in (answer.get("text") or "")
    [boris] = await desk.wait(lambda: private_has(desk, desk.operator, "👤 Boris Orlov"))
    assert f"email: {COLLEAGUE}" in boris["text"]
    assert "Dialogs (0)" in boris["text"]
    # Someone who never started the bot is told to, in an alert.
    answer = await pressed(desk, desk.colleague, listing, "Boris Orlov")
    assert answer.get("show_alert")
    # An address the mail came from is found even where a checker refuses it (.test).
    await desk.in_topic(thread, f"/merge email {COLLEAGUE}")
    await desk.wait(lambda: said(desk, thread, "merged Boris Orlov into Ann Lee"))


async def test_a_client_on_email_and_telegram_merged_by_address_has_one_history(
    desk: Desk, dovecot: Dovecot
) -> None:
    await dovecot.deliver_async(mail("by mail: invoice 15", sender=f"Ann Lee <{CLIENT}>"))
    mail_thread = await topic_showing(desk, "by mail: invoice 15", set())
    await desk.client_says("on telegram: invoice 15")
    tg_thread = await topic_showing(desk, "on telegram: invoice 15", {mail_thread})

    await desk.in_topic(tg_thread, f"/contact add email {CLIENT.upper()}")
    offer = await desk.wait(lambda: last_bot_message(desk, tg_thread, "another client"))
    assert await Client.all().count() == 2
    await desk.in_topic(tg_thread, f"/merge email {CLIENT}")
    await desk.wait(lambda: said(desk, tg_thread, "merged Ann Lee into Ann Lee"))
    # The offer's button is stale now: the same client; nothing more happens.
    answer = await pressed(desk, desk.operator, offer, "Merge with")
    assert "this same client" in (answer.get("text") or "")

    kept = await Client.get(merged_into_id=None)
    assert await Dialog.filter(client_id=kept.id).count() == 2
    await start_private(desk, desk.operator)
    await desk.in_topic(mail_thread, "/history")

    async def page() -> dict[str, Any] | None:
        pages = await private_has(desk, desk.operator, "📜")
        return pages[-1] if pages else None

    shown = await desk.wait(page, timeout=30)
    assert shown["text"].count("by mail: invoice 15") == 1
    assert shown["text"].count("on telegram: invoice 15") == 1
