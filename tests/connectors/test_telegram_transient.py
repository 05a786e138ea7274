"""How Telegram's transient answers are classified: retry later, heal, or give up."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage

from core.channels import TemporaryFailure
from core.outbox import RetryLater
from tgapi.errors import ThreadGone, TopicClosed, call, delivery_errors

METHOD = SendMessage(chat_id=1, text="x")
TRANSIENT: list[BaseException] = [
    TelegramServerError(METHOD, "Internal Server Error"),
    TelegramNetworkError(METHOD, "Request timeout error"),
    TelegramNetworkError(METHOD, "ServerDisconnectedError: Server disconnected"),
    TimeoutError(),
    ClientDecodeError("Failed to decode object", ValueError("<html>"), "<html>502</html>"),
]


async def failing(exc: BaseException) -> Any:
    raise exc


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
async def test_transient_trouble_in_the_group_is_retried_as_a_failed_attempt(exc):
    with pytest.raises(RetryLater) as got:
        await call(failing(exc))
    assert not got.value.waiting and got.value.delay > 0


async def test_a_429_in_the_group_is_a_wait():
    exc = TelegramRetryAfter(METHOD, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryLater) as got:
        await call(failing(exc))
    assert got.value.waiting and got.value.delay == 7


@pytest.mark.parametrize(
    ("message", "healed"),
    [
        ("Bad Request: message thread not found", ThreadGone),
        ("Bad Request: TOPIC_CLOSED", TopicClosed),
    ],
)
async def test_a_gone_or_closed_topic_is_for_the_desk_to_heal(message, healed):
    with pytest.raises(healed):
        await call(failing(TelegramBadRequest(METHOD, message)))


async def test_other_bad_requests_stay_as_they_are():
    with pytest.raises(TelegramBadRequest):
        await call(failing(TelegramBadRequest(METHOD, "Bad Request: message is too long")))


@pytest.mark.parametrize(
    "exc", [*TRANSIENT, aiohttp.ServerDisconnectedError()], ids=lambda e: type(e).__name__
)
def test_transient_trouble_on_a_reply_is_a_temporary_failure(exc):
    with pytest.raises(TemporaryFailure) as got, delivery_errors():
        raise exc
    assert got.value.reason and got.value.retry_after is None
