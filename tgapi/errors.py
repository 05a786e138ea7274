"""Telegram's answers, translated once into typed failures.

`translate` is the one place that reads aiogram's exceptions and Telegram's error texts. What
it gives is of core.channels' DeliveryError family, with Telegram's own cases as subclasses
(a topic gone or closed, a message not modified, a reply target gone). The two ways of
calling Telegram build on it:

- `delivery_errors()`, for connectors: every failure leaves as a DeliveryError;
- `call(request)`, for the front end's outbox work: a temporary failure is the outbox's
  RetryLater (a 429 a wait for the budget, the rest a failed attempt), a gone or closed topic
  is ThreadGone / TopicClosed for the desk to heal, anything else stays aiogram's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import aiohttp
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)

from core.channels import DeliveryError, RecipientUnreachable, RejectedContent, TemporaryFailure
from core.outbox import RetryLater

T = TypeVar("T")


class RateLimited(TemporaryFailure):
    """Telegram's 429: wait `retry_after` seconds; a wait, not a failed attempt."""


class ThreadGone(RejectedContent):
    """The topic was deleted: the dialog needs a new one."""


class TopicClosed(RejectedContent):
    """The topic is closed and this bot may not post there (a person closed it by hand, or the
    bot is no administrator): reopen it, then post."""


class NotModified(RejectedContent):
    """The message (or the topic) already shows this: an edit with nothing to do, no fault."""


class ReplyGone(RejectedContent):
    """The message to reply to is gone: send without the reply."""


class MessageGone(RejectedContent):
    """The message to edit, copy or delete is not there (any more)."""


class NoRights(RejectedContent):
    """The bot lacks an administrator right the call needs (topics, pins, deletes)."""


class FileTooBig(RejectedContent):
    """Telegram will not hand this bot the file (getFile's 20 MB) or take it."""


class UnknownUser(RecipientUnreachable):
    """Telegram does not know this user in the chat asked about (getChatMember)."""


# Telegram's error texts, each read here only; bad requests are matched in this order, in
# any case.
BAD_REQUESTS: tuple[tuple[str, type[DeliveryError]], ...] = (
    ("message thread not found", ThreadGone),
    ("TOPIC_CLOSED", TopicClosed),
    # "message is not modified: specified new message content…", "TOPIC_NOT_MODIFIED"
    ("not modified", NotModified),
    ("not_modified", NotModified),
    ("message to be replied not found", ReplyGone),
    # A user who never wrote to the bot (or deleted their account) shows up as "chat not found".
    ("chat not found", RecipientUnreachable),
    ("user is deactivated", RecipientUnreachable),
    ("PEER_ID_INVALID", RecipientUnreachable),
    ("user not found", UnknownUser),
    ("PARTICIPANT_ID_INVALID", UnknownUser),
    ("USER_ID_INVALID", UnknownUser),
    ("not enough rights", NoRights),
    ("CHAT_ADMIN_REQUIRED", NoRights),
    ("file is too big", FileTooBig),
    # "message to delete not found", "message to edit not found", "message to copy not found"
    ("not found", MessageGone),
)
TRANSPORT = (TelegramNetworkError, TimeoutError, aiohttp.ClientError)


def translate(exc: BaseException) -> DeliveryError | None:
    """What `exc`, raised by a call to Telegram, means; None when it is no Telegram trouble
    (a bug, the database): that is not for a caller of Telegram to judge."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, TelegramRetryAfter):
        return RateLimited(exc.message, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        # "bot was blocked by the user", "bot can't initiate conversation", "user is deactivated"
        return RecipientUnreachable(exc.message)
    if isinstance(exc, TelegramBadRequest):
        said = exc.message.lower()
        for text, failure in BAD_REQUESTS:
            if text.lower() in said:
                return failure(exc.message)
        # "message is too long", "wrong file identifier", ...
        return RejectedContent(exc.message)
    if isinstance(exc, TelegramEntityTooLarge):
        return RejectedContent(exc.message)
    if isinstance(exc, TRANSPORT):
        return TemporaryFailure(str(exc) or type(exc).__name__)
    if isinstance(exc, ClientDecodeError):
        # Not Telegram's JSON: a proxy's HTML "502 Bad Gateway" page in an outage.
        return TemporaryFailure(f"unreadable answer: {exc.message}")
    if isinstance(exc, TelegramAPIError):
        # 5xx, and the unexpected (401 after a token was revoked, 409, ...): not the
        # message's fault, so try again later rather than lose it.
        return TemporaryFailure(exc.message)
    return None


def is_not_modified(exc: BaseException) -> bool:
    return isinstance(translate(exc), NotModified)


@contextmanager
def delivery_errors() -> Iterator[None]:
    """Telegram's failures inside leave as core.channels' DeliveryError family."""
    try:
        yield
    except Exception as exc:
        failure = translate(exc)
        if failure is None or failure is exc:
            raise
        raise failure from exc


async def call(request: Awaitable[T]) -> T:
    """`request` in outbox terms: RetryLater for what passes, ThreadGone / TopicClosed for a
    topic to heal; other failures stay as aiogram raised them."""
    try:
        return await request
    except Exception as exc:
        failure = translate(exc)
        if isinstance(failure, RateLimited):
            # Telegram says exactly how long: a wait for the budget, not a failed attempt.
            raise RetryLater(failure.retry_after or 1.0, "429", waiting=True) from exc
        if isinstance(failure, TemporaryFailure):
            # The outbox backs off further with every attempt.
            raise RetryLater(1.0, failure.reason) from exc
        if isinstance(failure, ThreadGone | TopicClosed) and failure is not exc:
            raise failure from exc
        raise
