"""Telegram's answers in delivery terms: who cannot be reached, what is refused, what to retry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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

from core.connector import RecipientUnreachable, RejectedContent, TemporaryFailure

REPLY_GONE = "message to be replied not found"
NOT_MODIFIED = "message is not modified"
# A user who never wrote to the bot (or deleted their account) shows up as "chat not found".
UNREACHABLE_BAD_REQUESTS = ("chat not found", "user is deactivated", "PEER_ID_INVALID")


def is_not_modified(exc: TelegramBadRequest) -> bool:
    return NOT_MODIFIED in exc.message


@contextmanager
def delivery_errors() -> Iterator[None]:
    """Turn aiogram's exceptions into core.connector's DeliveryError family."""
    try:
        yield
    except TelegramForbiddenError as exc:
        # "bot was blocked by the user", "bot can't initiate conversation", "user is deactivated"
        raise RecipientUnreachable(exc.message) from exc
    except TelegramRetryAfter as exc:
        raise TemporaryFailure(exc.message, retry_after=float(exc.retry_after)) from exc
    except TelegramBadRequest as exc:
        if any(s in exc.message for s in UNREACHABLE_BAD_REQUESTS):
            raise RecipientUnreachable(exc.message) from exc
        # "message is too long", "file is too big", "wrong file identifier", ...
        raise RejectedContent(exc.message) from exc
    except TelegramEntityTooLarge as exc:
        raise RejectedContent(exc.message) from exc
    except (TelegramNetworkError, TimeoutError, aiohttp.ClientError) as exc:
        raise TemporaryFailure(str(exc) or type(exc).__name__) from exc
    except ClientDecodeError as exc:
        # Not Telegram's JSON: a proxy's HTML "502 Bad Gateway" page in an outage.
        raise TemporaryFailure(f"unreadable answer: {exc.message}") from exc
    except TelegramAPIError as exc:
        # 5xx, and the unexpected (401 after a token was revoked, 409, ...): not the
        # message's fault, so try again later rather than lose it.
        raise TemporaryFailure(exc.message) from exc
