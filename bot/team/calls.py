"""Telegram errors in outbox terms: what to retry, when, and what is for good."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from core.outbox import RetryLater

T = TypeVar("T")


class ThreadGone(Exception):
    """The topic was deleted: the dialog needs a new one."""


class TopicClosed(Exception):
    """The topic is closed and this bot may not post there (a person closed it by hand, or the
    bot is no administrator): reopen it, then post."""


def is_thread_gone(exc: TelegramBadRequest) -> bool:
    return "message thread not found" in exc.message


def is_topic_closed(exc: TelegramBadRequest) -> bool:
    return "TOPIC_CLOSED" in exc.message


def is_not_modified(exc: TelegramBadRequest) -> bool:
    return "not modified" in exc.message or "TOPIC_NOT_MODIFIED" in exc.message


async def call(request: Awaitable[T]) -> T:
    try:
        return await request
    except TelegramRetryAfter as exc:
        # Telegram says exactly how long: a wait for the budget, not a failed attempt.
        raise RetryLater(float(exc.retry_after), "429", waiting=True) from exc
    except (TimeoutError, TelegramNetworkError, TelegramServerError) as exc:
        # The outbox backs off further with every attempt.
        raise RetryLater(1.0, str(exc) or type(exc).__name__) from exc
    except ClientDecodeError as exc:
        # Not Telegram's JSON: a proxy's HTML "502 Bad Gateway" page in an outage.
        raise RetryLater(1.0, f"unreadable answer: {exc.message}") from exc
    except TelegramBadRequest as exc:
        if is_thread_gone(exc):
            raise ThreadGone(exc.message) from exc
        if is_topic_closed(exc):
            raise TopicClosed(exc.message) from exc
        raise
