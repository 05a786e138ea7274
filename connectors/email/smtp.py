"""Replies out over SMTP (aiosmtplib): smtps, smtp with STARTTLS when offered, or no login.

What the server answers becomes what the outbox understands: a temporary refusal (4xx, a
dropped connection, a login the server refuses today) is a TemporaryFailure and is tried
again; a permanent one (5xx) is RejectedContent, told in the topic with the server's own
words — an address the server refuses too (RecipientUnreachable would tell the team the
client blocked us, which is no mail server's meaning).
"""

from __future__ import annotations

import contextlib
import ssl
from email.message import EmailMessage

import aiosmtplib

from connectors.email.mailbox import plain_words
from connectors.email.settings import ServerUrl
from core.channels import DeliveryError, RejectedContent, TemporaryFailure

TIMEOUT = 60.0


class SmtpLoginRefused(TemporaryFailure):
    """The server refused eadesk's login: a setting to fix, not the reply's fault."""


async def _connect(url: ServerUrl) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(
        hostname=url.host,
        port=url.port,
        use_tls=url.tls,
        start_tls=False,
        timeout=TIMEOUT,
        tls_context=ssl.create_default_context() if url.tls else None,
    )
    await smtp.connect()
    try:
        await smtp.ehlo()
        secure = url.tls
        if not url.tls and smtp.supports_extension("starttls"):
            await smtp.starttls(tls_context=ssl.create_default_context())
            await smtp.ehlo()
            secure = True
        if url.user:
            if not secure and not url.loopback:
                raise TemporaryFailure(
                    f"{url.host}:{url.port} offers no STARTTLS, and eadesk sends a password in "
                    "plain text only to this machine: use smtps:// (port 465)"
                )
            try:
                await smtp.login(url.user, url.password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise SmtpLoginRefused(
                    f"{url.host} refused the login of {url.user!r} ({exc.code} "
                    f"{exc.message.strip()}): check the user and the password (Gmail, Yandex "
                    "and Mail.ru need an app password)"
                ) from None
    except BaseException:
        smtp.close()
        raise
    return smtp


async def send(url: ServerUrl, message: EmailMessage, sender: str, recipients: list[str]) -> None:
    """Hand `message` to the server for `recipients`; a DeliveryError says why not."""
    try:
        smtp = await _connect(url)
    except DeliveryError:
        raise
    except aiosmtplib.SMTPResponseException as exc:
        raise _refusal(exc) from None
    except Exception as exc:
        raise TemporaryFailure(f"the mail server {plain_words(exc, url)}") from None
    try:
        errors, _ = await smtp.send_message(message, sender=sender, recipients=recipients)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        if all(400 <= r.code < 500 for r in exc.recipients):
            raise TemporaryFailure(_answer(first)) from None
        raise RejectedContent(
            f"the mail server refused {first.recipient} ({_answer(first)})"
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise _refusal(exc) from None
    except Exception as exc:
        raise TemporaryFailure(f"the mail server {plain_words(exc, url)}") from None
    finally:
        with contextlib.suppress(Exception):
            await smtp.quit()
        smtp.close()
    if errors and recipients and recipients[0] in errors:
        # Only some addresses were refused; the first (the client) among them.
        refused = errors[recipients[0]]
        raise RejectedContent(
            f"the mail server refused {recipients[0]} ({refused.code} {refused.message})"
        )


def _answer(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message.strip()}"


def _refusal(exc: aiosmtplib.SMTPResponseException) -> DeliveryError:
    if 400 <= exc.code < 500:
        return TemporaryFailure(f"the mail server asked to try later ({_answer(exc)})")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return RejectedContent(f"the mail server refused the sender address ({_answer(exc)})")
    return RejectedContent(f"the mail server refused the mail ({_answer(exc)})")


async def check(url: ServerUrl) -> list[str]:
    """For `check`: connect and log in; what fails, in plain words."""
    try:
        smtp = await _connect(url)
    except DeliveryError as exc:
        return [f"replies cannot be sent over SMTP at {url.shown}: {exc.reason}"]
    except aiosmtplib.SMTPResponseException as exc:
        return [f"replies cannot be sent over SMTP at {url.shown}: {_answer(exc)}"]
    except Exception as exc:
        return [f"replies cannot be sent over SMTP at {url.shown}: {plain_words(exc, url)}"]
    with contextlib.suppress(Exception):
        await smtp.quit()
    smtp.close()
    return []
