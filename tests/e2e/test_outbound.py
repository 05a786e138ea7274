"""/new in General (#15): the team starts a dialog — a new e-mail thread (its topic, its card,
the mail the client receives, the client's answer in the same topic), or a message to a
Telegram client who wrote to the bot before. Bad input answers in one line, changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.lifecycle import DialogStatus
from core.models import Dialog, Message, MessageKind
from tests.e2e.conftest import Desk, build_desk
from tests.e2e.mail_servers import Dovecot, SmtpCapture
from tests.e2e.teamwork import card_of, client_got, desk_fixture, last_bot_message, new_topic, said
from tests.e2e.test_email import bot_says, captured, email_settings, mail

desk = desk_fixture()


@pytest.fixture
async def mail_desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> AsyncIterator[Desk]:
    settings = email_settings(dovecot, smtp_capture, GROUP_MESSAGES_PER_MINUTE=600)
    async for value in build_desk(emulator, **settings):
        timings = value.app.teamwork.timings
        timings.card, timings.board, timings.activity = 0.3, 0.3, 0.3
        yield value


async def in_general(desk: Desk, text: str, who: dict[str, Any] | None = None) -> None:
    await desk.emu.send((who or desk.operator)["id"], chat_id=desk.chat_id, text=text)


async def general_says(desk: Desk, needle: str) -> bool:
    return await said(desk, "general", needle)


async def test_new_email_starts_a_thread_and_the_answer_lands_in_its_topic(
    mail_desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    desk = mail_desk
    await in_general(
        desk, "/new email Bob@Client.example.com Delivery date | When can we ship your order?"
    )
    await desk.wait(
        lambda: general_says(desk, "A new dialog with bob@client.example.com"), timeout=30
    )
    [sent] = await captured(desk, smtp_capture)
    got = sent.message
    assert got["Subject"] == "Delivery date"
    assert "bob@client.example.com" in got["To"]
    assert got["In-Reply-To"] is None
    assert "When can we ship your order?" in got.get_body(("plain",)).get_content()

    topic = await desk.wait(desk.only_topic, timeout=30)
    assert "bob@client.example.com" in topic["name"] and "Delivery date" in topic["name"]
    thread = int(topic["thread_id"])
    await desk.wait(lambda: bot_says(desk, thread, "When can we ship your order?"), timeout=30)
    assert await desk.wait(lambda: card_of(desk, thread), timeout=30)

    # The client answers the mail: the same dialog, the same topic.
    await dovecot.deliver_async(
        mail(
            "Monday is fine.",
            subject="Re: Delivery date",
            sender="Bob <bob@client.example.com>",
            in_reply_to=got["Message-ID"],
        )
    )
    await desk.wait(lambda: bot_says(desk, thread, "Monday is fine."), timeout=30)
    assert len(await desk.topics()) == 1
    assert await Dialog.all().count() == 1
    assert await desk.status() is DialogStatus.OPEN


async def test_new_email_bad_input_changes_nothing(
    mail_desk: Desk, smtp_capture: SmtpCapture
) -> None:
    desk = mail_desk
    await in_general(desk, "/new email not-an-address Hi | text")
    await desk.wait(lambda: general_says(desk, "is not an e-mail address"))
    await in_general(desk, "/new email bob@client.example.com no subject bar")
    await desk.wait(lambda: general_says(desk, "Form: /new email"))
    await in_general(desk, "/new fax 123 hello")
    await desk.wait(
        lambda: general_says(desk, "Form: /new email client@example.com Subject | text, or")
    )
    assert not await Dialog.exists()
    assert not smtp_capture.mails
    assert await desk.topics() == []


async def test_new_tg_writes_to_a_client_who_wrote_before(desk: Desk) -> None:
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: _status(DialogStatus.CLOSED))
    await in_general(desk, f"/new tg {desk.client['id']} Your order has shipped")
    await desk.wait(lambda: general_says(desk, "Written to Ann Lee"))
    await desk.wait(lambda: client_got(desk, "Your order has shipped"))
    await desk.wait(lambda: bot_says(desk, thread, "Your order has shipped"))
    assert await desk.status() is DialogStatus.OPEN
    # The client's answer continues the dialog in its topic.
    await desk.client_says("Thanks!")
    await desk.wait(lambda: said(desk, thread, "Thanks!"))
    assert len(await desk.topics()) == 1


async def test_new_tg_to_someone_unknown_explains_and_changes_nothing(desk: Desk) -> None:
    await in_general(desk, "/new tg @nobody_here Hello")
    await desk.wait(lambda: general_says(desk, "wrote to it first"))
    await in_general(desk, "/new tg 424242")
    await desk.wait(lambda: general_says(desk, "Form: /new tg"))
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/new tg 1 hi")
    await desk.wait(lambda: last_bot_message(desk, thread, "/new works in General"))
    await in_general(desk, "/new email ann@example.com Hi | there")
    await desk.wait(lambda: general_says(desk, "e-mail channel is not configured"))
    assert not await Message.exists(kind=MessageKind.OUT)


async def test_new_tg_by_username(desk: Desk) -> None:
    bob = await desk.emu.user("Bob", username="BobbyK", language_code="en")
    await desk.client_says("Hi there", who=bob)
    thread = int((await desk.wait(desk.only_topic))["thread_id"])
    await desk.wait(lambda: said(desk, thread, "Hi there"))
    await in_general(desk, "/new tg @bobbyk A follow-up")
    await desk.wait(lambda: general_says(desk, "Written to Bob"))
    await desk.wait(lambda: client_got_as(desk, bob, "A follow-up"))


async def client_got_as(desk: Desk, who: dict[str, Any], needle: str) -> bool:
    return any(
        m["from"]["is_bot"] and needle in (m.get("text") or "") for m in await desk.client_chat(who)
    )


async def _status(status: DialogStatus) -> bool:
    dialog = await Dialog.all().first()
    return dialog is not None and dialog.status is status
