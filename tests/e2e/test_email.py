"""The e-mail channel end to end: a real Dovecot (IMAP in, mail put in over LMTP as a mail
server does), a capturing SMTP server (aiosmtpd) for what goes out, and the team's forum in
the Telegram emulator. The channel is configured as a person configures it: EMAIL_IMAP_URL,
EMAIL_SMTP_URL, EMAIL_ADDRESS, EMAIL_NAME.

The tests act as the client (writing mails, answering with Gmail's Russian quoting, an
out-of-office machine, a mail server bouncing a reply) and as operators in the topic, and
assert what the topic shows and what the client's mailbox receives, headers included.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

import pytest

from core.conversation import SEND_TO_CLIENT
from core.lifecycle import DialogStatus
from core.models import Episode, OutboxItem, OutboxStatus
from tests.e2e.conftest import Desk, build_desk, running_desk, welcomed
from tests.e2e.mail_servers import USER, Dovecot, SmtpCapture
from tests.e2e.teamwork import card_of
from tests.e2e.test_loopback import Wall

CLIENT = "ann.lee@client.test"
COLLEAGUE = "boris@client.test"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
_ids = itertools.count(1)


def email_settings(dovecot: Dovecot, capture: SmtpCapture, **extra: Any) -> dict[str, Any]:
    return {
        "EMAIL_IMAP_URL": dovecot.imap_url(),
        "EMAIL_SMTP_URL": capture.url,
        "EMAIL_ADDRESS": USER,
        "EMAIL_NAME": "Acme support",
        "EMAIL_POLL_SECONDS": 5,
        **extra,
    }


@pytest.fixture
async def desk(emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator, **email_settings(dovecot, smtp_capture)):
        yield value


def mail(
    text: str,
    *,
    subject: str = "Invoice 15 is wrong",
    sender: str = f"Ann Lee <{CLIENT}>",
    to: str = f"Acme <{USER}>",
    cc: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(__import__("datetime").datetime.now().astimezone())
    message["Message-ID"] = f"<client-{next(_ids)}@client.test>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references or in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if attachment:
        name, mime, data = attachment
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def shown(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


async def bot_says(desk: Desk, thread: int, needle: str) -> list[dict[str, Any]]:
    """The bot's posts in a topic whose text or caption holds `needle`."""
    posts = await desk.topic_messages(thread)
    return [m for m in posts if m["from"]["is_bot"] and needle in shown(m)]


async def topic_with(desk: Desk, needle: str) -> int:
    """The one topic, once it shows `needle`; its thread id."""
    thread = int((await desk.wait(desk.only_topic, timeout=30))["thread_id"])
    await desk.wait(lambda: bot_says(desk, thread, needle), timeout=30)
    return thread


async def press(desk: Desk, who: dict[str, Any], post: dict[str, Any], data: str) -> Any:
    """`who` presses a button under a post in the group; what they were answered."""
    query = await desk.emu.callback(who["id"], post["message_id"], data, chat_id=desk.chat_id)

    async def answered() -> Any:
        answer = await desk.emu.callback_answer(query)
        return answer if answer.get("answered") else None

    return await desk.wait(answered, timeout=30)


async def captured(desk: Desk, capture: SmtpCapture, count: int = 1) -> list[Any]:
    async def enough() -> list[Any] | None:
        return list(capture.mails) if len(capture.mails) >= count else None

    return list(await desk.wait(enough, timeout=30))


def addresses(value: str | None) -> list[str]:
    return [address for _, address in getaddresses([value or ""])]


async def client_got_reply(desk: Desk, capture: SmtpCapture, thread: int, text: str) -> Any:
    await desk.in_topic(thread, text)
    [got] = await captured(desk, capture)
    return got


# ---- in ------------------------------------------------------------------------------------------


async def test_a_mail_creates_one_topic_with_its_subject_text_and_attachment(
    desk: Desk, dovecot: Dovecot
) -> None:
    await dovecot.deliver_async(
        mail(
            "Hello, the total on invoice 15 is doubled.",
            cc=f"Boris <{COLLEAGUE}>",
            attachment=("invoice-15.pdf", "application/pdf", PDF),
        )
    )
    thread = await topic_with(desk, "the total on invoice 15 is doubled")
    [topic] = await desk.topics()
    # Titled with the sender and the subject.
    assert topic["name"] == "Ann Lee · Invoice 15 is wrong"
    [post] = await bot_says(desk, thread, "the total on invoice 15")
    assert "Invoice 15 is wrong" in shown(post).splitlines()[0]

    async def document() -> dict[str, Any] | None:
        posts = await desk.topic_messages(thread)
        return next((m for m in posts if m.get("file_name") == "invoice-15.pdf"), None)

    pdf = await desk.wait(document, timeout=30)
    assert desk.emu.server.state.files[pdf["file_unique_id"]].data == PDF

    # From, To and Cc are the dialog's participants: the card lists those besides the client.
    async def listed() -> str | None:
        card = await card_of(desk, thread)
        text = (card or {}).get("text") or ""
        return text if f"Boris <{COLLEAGUE}> (cc)" in text else None

    card_text = await desk.wait(listed, timeout=30)
    [line] = [x for x in card_text.splitlines() if x.startswith("👥")]
    assert CLIENT not in line


async def test_the_whole_original_mail_is_one_tap_away(desk: Desk, dovecot: Dovecot) -> None:
    sent = mail("Please see the details below.\n\n-- \nAnn Lee\nClient Ltd")
    await dovecot.deliver_async(sent)
    thread = await topic_with(desk, "Please see the details below.")
    [post] = await bot_says(desk, thread, "Please see the details below.")
    buttons = [b for row in post["reply_markup"]["inline_keyboard"] for b in row]
    original = next(b for b in buttons if "📧" in b["text"])

    # An operator who never started the bot in private is told so (an alert).
    answer = await press(desk, desk.colleague, post, original["callback_data"])
    assert answer["show_alert"]
    assert "Start" in answer["text"]

    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/start")
    await desk.wait(lambda: welcomed(desk))
    answer = await press(desk, desk.operator, post, original["callback_data"])
    assert not answer["show_alert"]

    async def eml() -> dict[str, Any] | None:
        shown = await desk.operator_private()
        return next((m for m in shown if (m.get("file_name") or "").endswith(".eml")), None)

    document = await desk.wait(eml, timeout=30)
    data = desk.emu.server.state.files[document["file_unique_id"]].data
    assert b"Message-ID: " + sent["Message-ID"].encode() in data
    assert b"Client Ltd" in data  # the signature the topic does not show


# ---- out and threading ---------------------------------------------------------------------------


async def test_an_operators_reply_reaches_the_client_as_a_threaded_mail(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    first = mail(
        "Hello, the total on invoice 15 is doubled.",
        subject="Re: Invoice 15 is wrong",
        cc=f"Boris <{COLLEAGUE}>, Acme <{USER}>",
    )
    await dovecot.deliver_async(first)
    thread = await topic_with(desk, "invoice 15 is doubled")

    got = await client_got_reply(desk, smtp_capture, thread, "Sorry! A corrected invoice follows.")
    message = got.message
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Olga via Acme support", USER)
    assert addresses(message["To"]) == [CLIENT]
    # Reply-all: the Cc stays, our own address never.
    assert addresses(message["Cc"]) == [COLLEAGUE]
    assert message["Subject"] == "Re: Invoice 15 is wrong"
    assert message["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in message["References"]
    assert message["Message-ID"].endswith(f"@{USER.split('@')[1]}>")
    assert sorted(got.recipients) == sorted([CLIENT, COLLEAGUE])
    assert "Sorry! A corrected invoice follows." in message.get_body(("plain",)).get_content()


async def test_the_clients_reply_lands_in_the_same_topic_without_the_quote(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    await dovecot.deliver_async(mail("Hello, my router blinks red."))
    thread = await topic_with(desk, "my router blinks red")
    got = await client_got_reply(desk, smtp_capture, thread, "Please restart the router.")
    ours = got.message["Message-ID"]

    # Gmail in Russian, answering our reply.
    answer = mail(
        "Спасибо, всё заработало!\n\n"
        "пн, 30 нояб. 2026 г. в 10:00, Olga via Acme support <support@acme.test>:\n"
        "> Please restart the router.\n",
        subject="Re: Invoice 15 is wrong",
        in_reply_to=ours,
    )
    await dovecot.deliver_async(answer)
    await desk.wait(lambda: bot_says(desk, thread, "Спасибо, всё заработало!"), timeout=30)
    [topic] = await desk.topics()  # the same topic, no second one
    assert topic["thread_id"] == thread
    [post] = await bot_says(desk, thread, "Спасибо")
    assert "Please restart the router" not in post["text"]
    assert "нояб" not in post["text"]


async def test_a_new_subject_along_the_thread_is_shown(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    first = mail("The printer jams.", subject="Printer")
    await dovecot.deliver_async(first)
    thread = await topic_with(desk, "The printer jams.")
    await dovecot.deliver_async(
        mail("Same printer again.", subject="Re: Printer", in_reply_to=first["Message-ID"])
    )
    await desk.wait(lambda: bot_says(desk, thread, "Same printer again."), timeout=30)
    [same] = await bot_says(desk, thread, "Same printer again.")
    assert "Printer" not in same["text"].splitlines()[0]  # "Re:" is no change
    await dovecot.deliver_async(
        mail("Now the scanner.", subject="Scanner too", in_reply_to=first["Message-ID"])
    )
    await desk.wait(lambda: bot_says(desk, thread, "Now the scanner."), timeout=30)
    [changed] = await bot_says(desk, thread, "Now the scanner.")
    assert "Scanner too" in changed["text"].splitlines()[0]


# ---- loops and noise -----------------------------------------------------------------------------


async def test_an_auto_reply_gets_no_answer_and_our_own_mail_is_ignored(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    await dovecot.deliver_async(
        mail(
            "I am out of office until Monday.",
            subject="Automatic reply: Invoice",
            headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
        )
    )
    thread = await topic_with(desk, "I am out of office until Monday.")
    # Our own address writing (a copy of a reply, a forward loop) is never a client.
    await dovecot.deliver_async(mail("A copy of our own reply", sender=f"Acme <{USER}>"))
    await dovecot.deliver_async(mail("After the copy", subject="Later"))

    async def two_topics() -> list[Any] | None:
        topics = await desk.topics()
        return topics if len(topics) == 2 else None

    await desk.wait(two_topics, timeout=30)
    await desk.settle()
    for topic in await desk.topics():
        posts = await desk.topic_messages(topic["thread_id"])
        assert not any("A copy of our own reply" in (m.get("text") or "") for m in posts)
    assert smtp_capture.mails == []  # nothing automatic answered anything
    [auto] = await bot_says(desk, thread, "out of office")
    # Marked as a machine's, so that nobody answers it (and no automation will).
    assert shown(auto).startswith("🤖 ")
    [other] = [t for t in await desk.topics() if int(t["thread_id"]) != thread]
    later = await bot_says(desk, int(other["thread_id"]), "After the copy")
    assert later and not any(shown(m).startswith("🤖") for m in later)


async def test_a_bounce_of_our_reply_is_told_once(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    await dovecot.deliver_async(mail("Hello, is anyone there?"))
    thread = await topic_with(desk, "is anyone there?")
    got = await client_got_reply(desk, smtp_capture, thread, "Yes, we are here.")
    ours = got.message["Message-ID"]

    for _ in range(2):  # the mail server reports it twice: told once
        await dovecot.deliver_async(bounce_of(ours))
    await desk.wait(lambda: bot_says(desk, thread, "Not delivered"), timeout=30)
    await dovecot.deliver_async(mail("A later mail", subject="Other"))

    async def two_topics() -> list[Any] | None:
        topics = await desk.topics()
        return topics if len(topics) == 2 else None

    await desk.wait(two_topics, timeout=30)  # the bounces made no topic of their own
    await desk.settle()
    told = await bot_says(desk, thread, "Not delivered")
    assert len(told) == 1
    assert "5.1.1" in told[0]["text"] or "does not exist" in told[0]["text"]
    dialog_topics = [t["name"] for t in await desk.topics()]
    assert not any("mailer-daemon" in name.lower() for name in dialog_topics)


def bounce_of(message_id: str) -> bytes:
    boundary = f"b{next(_ids)}"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.client.test>\r\n"
        f"To: {USER}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <bounce-{next(_ids)}@mx.client.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain\r\n\r\n"
        f"I could not deliver your message to <{CLIENT}>.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.client.test\r\n\r\n"
        f"Final-Recipient: rfc822; {CLIENT}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: Acme <{USER}>\r\n"
        f"To: {CLIENT}\r\n"
        f"Message-ID: {message_id}\r\n"
        "Subject: Re: Hello\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


# ---- the reopen window ---------------------------------------------------------------------------


@pytest.fixture
async def window_desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> AsyncIterator[Desk]:
    settings = email_settings(dovecot, smtp_capture, REOPEN_WINDOW_EMAIL="2h")
    async for value in build_desk(emulator, **settings):
        yield value


async def test_after_the_window_the_same_topic_opens_a_new_episode(
    window_desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    desk = window_desk
    first = mail("My order did not arrive.")
    await dovecot.deliver_async(first)
    thread = await topic_with(desk, "My order did not arrive.")
    got = await client_got_reply(desk, smtp_capture, thread, "It left today.")

    async def closed() -> bool:
        topic_closed = bool((await desk.only_topic())["closed"])
        return topic_closed and await desk.status() is DialogStatus.CLOSED

    await desk.in_topic(thread, "/close")
    await desk.wait(closed, timeout=30)
    desk.clock.advance(timedelta(hours=1))
    await dovecot.deliver_async(
        mail("Thanks, and one more thing.", in_reply_to=got.message["Message-ID"])
    )
    await desk.wait(lambda: bot_says(desk, thread, "one more thing"), timeout=30)
    dialog = await desk.dialog()
    assert await Episode.filter(dialog_id=dialog.id).count() == 1  # within the window

    await desk.in_topic(thread, "/close")
    await desk.wait(closed, timeout=30)
    desk.clock.advance(timedelta(hours=3))
    await dovecot.deliver_async(
        mail("It broke after a week.", in_reply_to=got.message["Message-ID"])
    )
    await desk.wait(lambda: bot_says(desk, thread, "It broke after a week."), timeout=30)
    [topic] = await desk.topics()
    assert topic["thread_id"] == thread  # always the same topic
    assert await Episode.filter(dialog_id=dialog.id).count() == 2  # after it: a new episode


# ---- a restart -----------------------------------------------------------------------------------


async def test_a_restart_neither_loses_nor_duplicates_a_mail(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture, tmp_path: Path
) -> None:
    settings = email_settings(
        dovecot, smtp_capture, DATABASE_URL=f"sqlite://{tmp_path / 'eadesk.sqlite3'}"
    )
    people = [
        await emulator.user("Olga", username="olga", language_code="en"),
        await emulator.user("Pavel", username="pavel", language_code="ru"),
        await emulator.user("Ann", last_name="Lee", language_code="en"),
    ]
    from tests.e2e.conftest import TEAM_BOT, TEAM_TOKEN, team_forum

    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    chat_id = await team_forum(emulator, people[0], people[1])

    first = mail("Before the restart.")
    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        await dovecot.deliver_async(first)
        thread = await topic_with(desk, "Before the restart.")
    # While eadesk is down: one more mail in the thread.
    await dovecot.deliver_async(mail("While you were away.", in_reply_to=first["Message-ID"]))
    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        await desk.wait(lambda: bot_says(desk, thread, "While you were away."), timeout=30)
        await dovecot.deliver_async(mail("After the restart.", in_reply_to=first["Message-ID"]))
        await desk.wait(lambda: bot_says(desk, thread, "After the restart."), timeout=30)
        await desk.settle()
        posts = [m.get("text") or "" for m in await desk.topic_messages(thread)]
        for text in ("Before the restart.", "While you were away.", "After the restart."):
            assert sum(text in p for p in posts) == 1, posts
        assert len(await desk.topics()) == 1


async def test_a_crash_between_storing_and_marking_seen_duplicates_nothing(
    desk: Desk, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.email.mailbox import ImapSession

    real = ImapSession.seen
    calls = {"n": 0}

    async def seen_fails_once(self: ImapSession, uid: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the connection dropped before \\Seen")
        await real(self, uid)

    monkeypatch.setattr(ImapSession, "seen", seen_fails_once)
    await dovecot.deliver_async(mail("Stored, not yet seen."))
    thread = await topic_with(desk, "Stored, not yet seen.")
    await dovecot.deliver_async(mail("The next one.", subject="Next"))

    async def two_topics() -> list[Any] | None:
        topics = await desk.topics()
        return topics if len(topics) == 2 else None

    await desk.wait(two_topics, timeout=60)
    await desk.settle()
    assert calls["n"] >= 3  # marked seen after the reconnect
    assert len(await bot_says(desk, thread, "Stored, not yet seen.")) == 1


# ---- refusals ------------------------------------------------------------------------------------


async def test_a_refused_reply_is_retried_when_temporary_and_told_when_permanent(
    desk: Desk, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    wall = Wall()
    desk.app.core.ctx.wall = wall
    await dovecot.deliver_async(mail("Are you open on Sunday?"))
    thread = await topic_with(desk, "Are you open on Sunday?")

    smtp_capture.refuse("451 4.3.0 Try again later")
    await desk.in_topic(thread, "Yes, from 10 to 16.")

    async def put_off() -> OutboxItem | None:
        row = await OutboxItem.get_or_none(kind=SEND_TO_CLIENT)
        return row if row is not None and row.attempts >= 1 else None

    row = await desk.wait(put_off, timeout=30)
    assert row.status is OutboxStatus.PENDING and "451" in (row.last_error or "")
    assert desk.app.health.links[f"E-mail ({USER}, SMTP)"].ok is False
    wall.skip(600)
    [got] = await captured(desk, smtp_capture)
    assert "Yes, from 10 to 16." in got.message.get_body(("plain",)).get_content()
    assert desk.app.health.links[f"E-mail ({USER}, SMTP)"].ok is True

    smtp_capture.refused[CLIENT] = "550 5.1.1 <ann.lee@client.test>: User unknown"
    await desk.in_topic(thread, "Did you get this?")
    [told] = await desk.wait(lambda: bot_says(desk, thread, "Not delivered"), timeout=30)
    assert "User unknown" in shown(told)
    assert len(smtp_capture.mails) == 1


# ---- eadesk check --------------------------------------------------------------------------------


async def test_check_logs_in_to_both_servers_and_says_what_fails(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> None:
    from bot.checks import check_telegram
    from tests.e2e.conftest import TEAM_BOT, TEAM_TOKEN, settings_for, team_forum

    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    admin = await emulator.user("Olga", username="olga", language_code="en")
    chat_id = await team_forum(emulator, admin)
    good = email_settings(dovecot, smtp_capture)
    findings = await check_telegram(settings_for(emulator, chat_id, **good))
    assert f"mailbox {USER} works" in [f.text for f in findings if f.ok]
    assert not [f for f in findings if f.warning]

    # The satisfaction survey's links must lead somewhere a client can reach.
    surveyed = settings_for(emulator, chat_id, **good, CSAT_ENABLED="true")
    warnings = [f.text for f in await check_telegram(surveyed) if f.warning]
    assert any("PUBLIC_URL, which is not set" in w for w in warnings), warnings
    reachable = {**good, "CSAT_ENABLED": "email", "PUBLIC_URL": "https://help.acme.com"}
    findings = await check_telegram(settings_for(emulator, chat_id, **reachable))
    assert not [f for f in findings if f.warning]

    wrong = {**good, "EMAIL_IMAP_URL": dovecot.imap_url().replace("w0rd", "wrong")}
    findings = await check_telegram(settings_for(emulator, chat_id, **wrong))
    [problem] = [f.text for f in findings if not f.ok]
    assert "cannot be read over IMAP" in problem and "refused the login" in problem


# ---- bad input -----------------------------------------------------------------------------------


async def test_a_mail_eadesk_cannot_handle_is_kept_and_holds_nothing_up(
    desk: Desk, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.email import channel
    from core.models import InboxItem

    real = channel.parse_mail

    async def breaks_on_poison(raw: bytes, *args: Any, **kwargs: Any) -> Any:
        if b"POISON" in raw:
            raise RuntimeError("a bug meets this mail")
        return await real(raw, *args, **kwargs)

    monkeypatch.setattr(channel, "parse_mail", breaks_on_poison)
    await dovecot.deliver_async(mail("POISON in the body", subject="Broken"))
    await dovecot.deliver_async(mail("The next client waits for nobody.", subject="Fine"))
    await topic_with(desk, "The next client waits for nobody.")
    [kept] = await InboxItem.filter(error__contains="a bug meets this mail")
    raw = await desk.app.blobs.read(kept.payload["blob"])
    assert b"POISON in the body" in raw  # the raw mail is kept


@pytest.fixture
async def small_desk(
    emulator: Any, dovecot: Dovecot, smtp_capture: SmtpCapture
) -> AsyncIterator[Desk]:
    settings = email_settings(dovecot, smtp_capture, FILE_SIZE_LIMIT="1MB")
    async for value in build_desk(emulator, **settings):
        yield value


async def test_a_mail_over_the_size_limit_is_told_and_its_header_kept(
    small_desk: Desk, dovecot: Dovecot
) -> None:
    desk = small_desk
    huge = bytes(range(256)) * 8 * 1024  # 2 MB of attachment, over FILE_SIZE_LIMIT
    await dovecot.deliver_async(
        mail("See the scan.", subject="Big scan", attachment=("scan.bin", "application/x", huge))
    )
    # Told in the group's language (English here), in a line of its own: the client's post
    # holds no words of ours.
    thread = await topic_with(desk, "is over the size limit: only its header was kept")
    [notice] = await bot_says(desk, thread, "over the size limit")
    assert shown(notice).startswith("⚠️ The message (2") and " MB) is over" in shown(notice)
    assert shown(notice).count("⚠️") == 1  # the body it lacks is no news of its own
    [post] = await bot_says(desk, thread, "Big scan")
    assert post["message_id"] < notice["message_id"]  # under the mail's post
    assert shown(post) == "Ann Lee · Big scan"  # the header was read: who and what
    await dovecot.deliver_async(mail("A small one after it.", subject="Small"))

    async def two_topics() -> list[Any] | None:
        topics = await desk.topics()
        return topics if len(topics) == 2 else None

    await desk.wait(two_topics, timeout=30)  # the big one held nothing up
