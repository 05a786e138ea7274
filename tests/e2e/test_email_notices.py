"""What eadesk could not read of a mail is told in the group's language, in a line of its
own under the mail (never mixed into the client's words); and a mail the card shows itself
(a busy group: the card's first post carries the client's first words) keeps its 📧 Original.

A real Dovecot and the Telegram emulator, as in test_email.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.conftest import Desk, build_desk, welcomed
from tests.e2e.mail_servers import USER, Dovecot, SmtpCapture
from tests.e2e.test_email import CLIENT, bot_says, email_settings, press, shown

WORDS = "Не приходит счёт за декабрь."
NO_CHARSET_EN = "⚠️ The text named no encoding and was read as windows-1251"
NO_CHARSET_RU = "⚠️ Кодировка текста не указана, он прочитан как windows-1251"


@pytest.fixture
async def en_desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator, **email_settings(dovecot, smtp_capture)):
        yield value


@pytest.fixture
async def ru_desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> AsyncIterator[Desk]:
    settings = email_settings(dovecot, smtp_capture, LANGUAGE="ru")
    async for value in build_desk(emulator, **settings):
        yield value


def cp1251_mail(message_id: str, subject: str = "Invoice") -> bytes:
    """A mail from an old client: windows-1251 text that names no charset, and a signature
    (so the topic shows less than the mail: its original is kept)."""
    head = (
        f"From: Ann Lee <{CLIENT}>\r\nTo: Acme <{USER}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}@client.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    body = f"{WORDS}\r\n\r\n-- \r\nАнна Ли\r\nООО Клиент\r\n"
    return head.encode() + body.encode("cp1251")


def buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    markup = post.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


@contextmanager
def busy_group(desk: Desk) -> Iterator[None]:
    """The group's budget as a busy hour leaves it: a new topic's card shows the client's
    first words itself."""
    gateway = desk.app.desk.gateway
    gateway.busy = lambda: True
    try:
        yield
    finally:
        del gateway.busy


async def test_a_charset_guess_is_told_in_english_under_the_clients_own_words(
    en_desk: Desk, dovecot: Dovecot
) -> None:
    desk = en_desk  # LANGUAGE=en
    await dovecot.deliver_async(cp1251_mail("old-client-1"))
    thread = int((await desk.wait(desk.only_topic, timeout=30))["thread_id"])
    [notice] = await desk.wait(lambda: bot_says(desk, thread, NO_CHARSET_EN), timeout=30)
    assert shown(notice) == NO_CHARSET_EN + ": some letters may be wrong."
    [post] = await bot_says(desk, thread, WORDS)
    # The client's words alone, the line of ours after them.
    assert shown(post) == f"Ann Lee · Invoice\n{WORDS}"
    assert post["message_id"] < notice["message_id"]


async def test_in_a_busy_russian_group_the_card_has_the_original_and_the_notice_is_russian(
    ru_desk: Desk, dovecot: Dovecot
) -> None:
    desk = ru_desk
    with busy_group(desk):
        await dovecot.deliver_async(cp1251_mail("old-client-2"))
        thread = int((await desk.wait(desk.only_topic, timeout=30))["thread_id"])

        async def card() -> dict[str, Any] | None:
            posts = await desk.topic_messages(thread)
            return next((m for m in posts if m.get("pinned") and WORDS in shown(m)), None)

        shown_card = await desk.wait(card, timeout=30)
    # The card carries the mail's words: no post of their own, and 📧 for the whole mail
    # beside the card's own buttons.
    assert [m["message_id"] for m in await bot_says(desk, thread, WORDS)] == [
        shown_card["message_id"]
    ]
    labels = [b["text"] for b in buttons(shown_card)]
    assert "📧 Оригинал" in labels and len(labels) > 1, labels
    [notice] = await desk.wait(lambda: bot_says(desk, thread, NO_CHARSET_RU), timeout=30)
    assert shown(notice) == NO_CHARSET_RU + ": некоторые буквы могут быть неверны."
    assert "⚠️" not in shown(shown_card)

    # 📧 on the card sends the whole mail, signature and all, to the presser in private.
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/start")
    await desk.wait(lambda: welcomed(desk))
    original = next(b for b in buttons(shown_card) if b["text"] == "📧 Оригинал")
    answer = await press(desk, desk.operator, shown_card, original["callback_data"])
    assert not answer["show_alert"]

    async def eml() -> dict[str, Any] | None:
        got = await desk.operator_private()
        return next((m for m in got if (m.get("file_name") or "").endswith(".eml")), None)

    document = await desk.wait(eml, timeout=30)
    data = desk.emu.server.state.files[document["file_unique_id"]].data
    assert b"<old-client-2@client.test>" in data
    assert "ООО Клиент".encode("cp1251") in data  # the signature the card leaves out

    # A redraw (the dialog closed: Reopen instead of Close) keeps the card's words and 📧.
    close = next(b for b in buttons(shown_card) if b["callback_data"].startswith("dlg:close"))
    await press(desk, desk.operator, shown_card, close["callback_data"])

    async def redrawn() -> dict[str, Any] | None:
        posts = await desk.topic_messages(thread)
        now = next(m for m in posts if m["message_id"] == shown_card["message_id"])
        return now if buttons(now) != buttons(shown_card) else None

    card_now = await desk.wait(redrawn, timeout=30)
    assert WORDS in shown(card_now)
    assert "📧 Оригинал" in [b["text"] for b in buttons(card_now)]


async def test_a_first_mail_posted_before_its_card_keeps_the_original_when_the_card_comes(
    en_desk: Desk, dovecot: Dovecot
) -> None:
    from core.events import DialogCreated

    desk = en_desk
    # A topic whose first post came before any card (a dialog from before cards, a card
    # that failed): the post carries Close and Snooze, and 📧.
    card = desk.app.teamwork.card
    desk.app.core.bus.unsubscribe(DialogCreated, card.on_created)
    await dovecot.deliver_async(cp1251_mail("old-client-3"))
    thread = int((await desk.wait(desk.only_topic, timeout=30))["thread_id"])
    [first] = await desk.wait(lambda: bot_says(desk, thread, WORDS), timeout=30)
    assert "📧 Original" in [b["text"] for b in buttons(first)]
    assert any(b["callback_data"].startswith("dlg:close") for b in buttons(first))

    await desk.in_topic(thread, "/close")  # the card comes, and carries Close and Snooze

    async def first_post_stripped() -> list[dict[str, Any]] | None:
        posts = await desk.topic_messages(thread)
        now = next(m for m in posts if m["message_id"] == first["message_id"])
        shown_buttons = buttons(now)
        if any(b["callback_data"].startswith("dlg:") for b in shown_buttons):
            return None
        return shown_buttons

    # Only the card's buttons went: 📧 stays with the mail it sends.
    kept = await desk.wait(first_post_stripped, timeout=30)
    assert [b["text"] for b in kept] == ["📧 Original"]
