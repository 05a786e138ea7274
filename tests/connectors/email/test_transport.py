"""The e-mail channel's transports against real servers on loopback: the mailbox over IMAP
(a private Dovecot) and replies over SMTP (aiosmtpd), without the rest of eadesk.

The mailbox takes mail that came while nobody watched, new mail as IDLE announces it, and
polls a server without IDLE; a mail is marked seen only once it was handed over; a dropped
connection is told and opened again. SMTP refusals become what the outbox understands.
`check` says in plain words what fails.
"""

from __future__ import annotations

import asyncio
import email.policy
import imaplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from connectors.email import mailbox as imap
from connectors.email import smtp
from connectors.email.mailbox import Fetched, ImapSession, Mailbox
from connectors.email.settings import (
    IMAP_EXAMPLE,
    EmailSettings,
    parse_server_url,
)
from core.channels import RejectedContent, TemporaryFailure
from tests.e2e.mail_servers import (
    PASSWORD,
    USER,
    Dovecot,
    SmtpCapture,
    make_certificates,
    running_dovecot,
)

WAIT = 30.0
# aiosmtpd does not count its own implicit TLS as TLS, and says so: the smtps server asks
# for a login over TLS all the same.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def dovecot_without_idle() -> Iterator[Dovecot]:
    with running_dovecot("imap_capability = IMAP4rev1 UIDPLUS") as server:
        yield server


@pytest.fixture
def dovecot_tls() -> Iterator[Dovecot]:
    with running_dovecot(tls=True) as server:
        yield server


@pytest.fixture
def capture() -> Iterator[SmtpCapture]:
    server = SmtpCapture()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann <ann@client.test>"
    message["To"] = USER
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@client.test>"
    message.set_content(f"{subject}, the body.")
    return message


class Watcher:
    """A mailbox run in the background, recording what it hands over and how it feels."""

    def __init__(self, url: str, **options: Any) -> None:
        self.got: list[Fetched] = []
        self.states: list[tuple[bool, str]] = []
        self.fail_next = 0
        self.mailbox = Mailbox(
            parse_server_url(url, ("imaps", "imap"), IMAP_EXAMPLE),
            self.deliver,
            last_uid=self.last_uid,
            on_state=self.on_state,
            **options,
        )
        self.task: asyncio.Task[None] | None = None

    async def deliver(self, fetched: Fetched) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("the disk is full")
        if all(g.uid != fetched.uid for g in self.got):
            self.got.append(fetched)

    async def last_uid(self, uidvalidity: int) -> int | None:
        return max((g.uid for g in self.got if g.uidvalidity == uidvalidity), default=None)

    async def on_state(self, ok: bool, why: str) -> None:
        self.states.append((ok, why))

    def subjects(self) -> list[str]:
        found = []
        for fetched in self.got:
            parsed = email.message_from_bytes(fetched.raw, policy=email.policy.default)
            found.append(str(parsed["Subject"]))
        return found

    async def __aenter__(self) -> Watcher:
        self.task = asyncio.create_task(self.mailbox.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.mailbox.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, WAIT)


async def until(predicate: Any, timeout: float = WAIT) -> Any:  # noqa: ASYNC109
    async def poll() -> Any:
        # What changes is another task's list: looked at again and again.
        while not (value := predicate()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return value

    return await asyncio.wait_for(poll(), timeout)


def seen_flags(server: Dovecot) -> list[bool]:
    client = imaplib.IMAP4("127.0.0.1", server.imap_port)
    try:
        client.login(server.user, server.password)
        client.select("INBOX", readonly=True)
        _, data = client.fetch("1:*", "(FLAGS)")
        return [b"\\Seen" in line for line in data if isinstance(line, bytes)]
    finally:
        client.logout()


# ---- IMAP ----------------------------------------------------------------------------------------


async def test_mail_from_before_the_start_and_new_mail_by_idle_each_once(dovecot: Dovecot) -> None:
    dovecot.deliver(mail("While nobody watched"))
    async with Watcher(dovecot.imap_url(), idle_seconds=600) as watcher:
        await until(lambda: watcher.subjects() == ["While nobody watched"])
        assert watcher.mailbox.idle is True
        # IDLE announces the next one at once (no poll could: the next is ten minutes away).
        await dovecot.deliver_async(mail("Announced by IDLE"))
        await until(lambda: len(watcher.got) == 2)
        assert watcher.subjects() == ["While nobody watched", "Announced by IDLE"]
        await until(lambda: seen_flags(dovecot) == [True, True])
        assert watcher.states[0] == (True, "")


async def test_mail_that_comes_while_one_is_taken_is_not_left_for_the_next_idle(
    dovecot: Dovecot,
) -> None:
    dovecot.deliver(mail("The first"))
    async with Watcher(dovecot.imap_url(), idle_seconds=600) as watcher:
        real = watcher.deliver

        async def and_another_arrives(fetched: Fetched) -> None:
            if not watcher.got:
                # The server tells of it in the answer to this round's commands, not in IDLE.
                await dovecot.deliver_async(mail("Came meanwhile"))
            await real(fetched)

        watcher.mailbox.deliver = and_another_arrives
        await until(lambda: watcher.subjects() == ["The first", "Came meanwhile"])


async def test_a_mail_that_could_not_be_kept_stays_unseen_and_comes_again(
    dovecot: Dovecot,
) -> None:
    dovecot.deliver(mail("Kept on the second try"))
    async with Watcher(dovecot.imap_url(), poll_seconds=0.2) as watcher:
        watcher.fail_next = 1

        def told() -> bool:
            return any(not ok for ok, _ in watcher.states)

        await until(told)
        # Not handed over: not marked seen, a person or the next session still has it.
        assert watcher.got == [] and seen_flags(dovecot) == [False]
        await until(lambda: watcher.subjects() == ["Kept on the second try"])
        await until(lambda: seen_flags(dovecot) == [True])


async def test_a_server_without_idle_is_polled(dovecot_without_idle: Dovecot) -> None:
    server = dovecot_without_idle
    async with Watcher(server.imap_url(), poll_seconds=0.3, idle_seconds=600) as watcher:
        await until(lambda: watcher.states)
        assert watcher.mailbox.idle is False
        await server.deliver_async(mail("Found by polling"))
        await until(lambda: watcher.subjects() == ["Found by polling"])


async def test_a_dropped_connection_is_told_and_opened_again(dovecot: Dovecot) -> None:
    async with Watcher(dovecot.imap_url(), poll_seconds=0.5, idle_seconds=600) as watcher:
        await until(lambda: watcher.mailbox.sessions == 1)
        await asyncio.to_thread(dovecot.kick)
        await until(lambda: any(not ok for ok, _ in watcher.states))
        await until(lambda: watcher.mailbox.sessions >= 2)
        await dovecot.deliver_async(mail("After the drop"))
        await until(lambda: watcher.subjects() == ["After the drop"])
        assert any("dropped" in why for ok, why in watcher.states if not ok), watcher.states


async def test_check_says_in_plain_words_what_fails(
    dovecot: Dovecot, dovecot_without_idle: Dovecot
) -> None:
    assert await imap.check(parse_server_url(dovecot.imap_url(), ("imap",), "")) == []

    wrong = dovecot.imap_url().replace("w0rd", "wrong")
    [problem] = await imap.check(parse_server_url(wrong, ("imap",), ""))
    assert f"refused the login of '{USER}'" in problem
    assert "app password" in problem

    closed = parse_server_url(f"imap://u:p@127.0.0.1:{free_closed_port()}/INBOX", ("imap",), "")
    [problem] = await imap.check(closed)
    assert "nothing answers" in problem

    missing = dovecot.imap_url("Nowhere")
    [problem] = await imap.check(parse_server_url(missing, ("imap",), ""))
    assert "the folder 'Nowhere' cannot be opened" in problem

    no_idle = parse_server_url(dovecot_without_idle.imap_url(), ("imap",), "")
    [problem] = await imap.check(no_idle)
    assert "has no IDLE" in problem


async def test_imaps_and_starttls_speak_tls_and_an_unknown_certificate_is_refused(
    dovecot_tls: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dovecot_tls
    untrusted = parse_server_url(server.imap_url(imaps=True), ("imaps",), "")
    [problem] = await imap.check(untrusted)
    assert "TLS with 127.0.0.1" in problem and "CERTIFICATE_VERIFY_FAILED" in problem

    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))  # the test authority, trusted
    for url in (server.imap_url(imaps=True), server.imap_url()):
        session = ImapSession(parse_server_url(url, ("imaps", "imap"), ""))
        await session.open()
        try:
            assert session.imap.protocol.transport.get_extra_info("ssl_object") is not None
            assert "IDLE" in session.capabilities
        finally:
            await session.close()
    server.deliver(mail("Over STARTTLS"))
    async with Watcher(server.imap_url(), idle_seconds=600) as watcher:
        await until(lambda: watcher.subjects() == ["Over STARTTLS"])


def free_closed_port() -> int:
    from tests.e2e.mail_servers import free_port

    return free_port()


# ---- SMTP ----------------------------------------------------------------------------------------


def reply() -> EmailMessage:
    message = EmailMessage()
    message["From"] = USER
    message["To"] = "ann@client.test"
    message["Subject"] = "Re: Hello"
    message.set_content("Hello Ann")
    return message


async def test_smtp_hands_the_mail_over(capture: SmtpCapture) -> None:
    url = parse_server_url(capture.url, ("smtp",), "")
    await smtp.send(url, reply(), USER, ["ann@client.test", "boris@client.test"])
    [got] = capture.mails
    assert got.sender == USER
    assert got.recipients == ["ann@client.test", "boris@client.test"]
    assert got.message["Subject"] == "Re: Hello"
    assert await smtp.check(url) == []


async def test_smtp_refusals_become_what_the_outbox_understands(capture: SmtpCapture) -> None:
    url = parse_server_url(capture.url, ("smtp",), "")
    capture.refuse("451 4.3.0 Try again later")
    with pytest.raises(TemporaryFailure) as temporary:
        await smtp.send(url, reply(), USER, ["ann@client.test"])
    assert "451" in temporary.value.reason

    capture.refuse("554 5.7.1 Message rejected as spam")
    with pytest.raises(RejectedContent) as rejected:
        await smtp.send(url, reply(), USER, ["ann@client.test"])
    assert "spam" in rejected.value.reason

    capture.refused["ann@client.test"] = "550 5.1.1 User unknown"
    with pytest.raises(RejectedContent) as unreachable:
        await smtp.send(url, reply(), USER, ["ann@client.test"])
    assert "ann@client.test" in unreachable.value.reason
    assert "User unknown" in unreachable.value.reason
    assert capture.mails == []

    dead = parse_server_url(f"smtp://127.0.0.1:{free_closed_port()}", ("smtp",), "")
    with pytest.raises(TemporaryFailure):
        await smtp.send(dead, reply(), USER, ["ann@client.test"])
    [problem] = await smtp.check(dead)
    assert "nothing answers" in problem


@pytest.mark.parametrize("tls", ["smtps", "starttls"])
async def test_smtps_and_starttls_log_in_over_tls(
    tls: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_certificates(tmp_path)
    server = SmtpCapture(
        tls=tls, certificates=tmp_path, user="support@acme.test", password="p@ss w0rd"
    )
    server.start()
    try:
        url = parse_server_url(server.login_url, ("smtps", "smtp"), "")
        [problem] = await smtp.check(url)  # the test authority is not trusted yet
        assert "CERTIFICATE_VERIFY_FAILED" in problem

        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        assert await smtp.check(url) == []
        await smtp.send(url, reply(), USER, ["ann@client.test"])
        assert [m.recipients for m in server.mails] == [["ann@client.test"]]
        assert server.logins == ["support@acme.test", "support@acme.test"]

        wrong = parse_server_url(server.login_url.replace("w0rd", "wrong"), ("smtps", "smtp"), "")
        [problem] = await smtp.check(wrong)
        assert "refused the login of 'support@acme.test'" in problem
        with pytest.raises(TemporaryFailure):  # a setting to fix: kept and tried again
            await smtp.send(wrong, reply(), USER, ["ann@client.test"])
    finally:
        server.stop()


# ---- settings ------------------------------------------------------------------------------------


def test_a_percent_encoded_user_and_password_are_decoded() -> None:
    url = parse_server_url(
        "imaps://support%40acme.com:p%40ss%20w0rd%2F1%3F%23@imap.gmail.com/INBOX",
        ("imaps", "imap"),
        IMAP_EXAMPLE,
    )
    assert (url.user, url.password) == ("support@acme.com", "p@ss w0rd/1?#")
    assert (url.host, url.port, url.folder, url.tls) == ("imap.gmail.com", 993, "INBOX", True)
    assert PASSWORD == "p@ss w0rd/1?#"  # the Dovecot tests log in with this very one


def test_the_channel_is_off_without_imap_and_complete_with_it() -> None:
    assert not EmailSettings(_env_file=None).enabled
    with pytest.raises(ValueError, match="EMAIL_SMTP_URL"):
        EmailSettings(_env_file=None, IMAP_URL="imap://u:p@127.0.0.1:143/INBOX")
    with pytest.raises(ValueError, match="use imaps:// or imap://"):
        EmailSettings(_env_file=None, IMAP_URL="http://imap.gmail.com")
    settings = EmailSettings(
        _env_file=None,
        IMAP_URL="imap://u:p@127.0.0.1:143/INBOX",
        SMTP_URL="smtp://127.0.0.1:25",
        ADDRESS="support@acme.test",
    )
    assert settings.enabled and settings.smtp.port == 25 and not settings.smtp.user
