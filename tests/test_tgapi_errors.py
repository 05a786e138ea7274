"""One translation of Telegram's answers: the connector's delivery failures, the front end's
outbox retries and its quiet answers all read an answer the same way."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage

from bot.team.answers import quietly
from core.channels import DeliveryError, RecipientUnreachable, RejectedContent, TemporaryFailure
from core.outbox import RetryLater
from tgapi.errors import (
    FileTooBig,
    MessageGone,
    NoRights,
    NotModified,
    RateLimited,
    ReplyGone,
    ThreadGone,
    TopicClosed,
    UnknownUser,
    call,
    delivery_errors,
    is_not_modified,
    translate,
)

M = SendMessage(chat_id=1, text="x")


def bad(text: str) -> TelegramBadRequest:
    return TelegramBadRequest(M, f"Bad Request: {text}")


ANSWERS: list[tuple[BaseException, type[DeliveryError]]] = [
    (TelegramRetryAfter(M, "Too Many Requests: retry after 7", retry_after=7), RateLimited),
    (TelegramServerError(M, "Internal Server Error"), TemporaryFailure),
    (TelegramNetworkError(M, "Request timeout error"), TemporaryFailure),
    (TimeoutError(), TemporaryFailure),
    (aiohttp.ServerDisconnectedError(), TemporaryFailure),
    (
        ClientDecodeError("Failed to decode object", ValueError("<html>"), "<html>"),
        TemporaryFailure,
    ),
    (TelegramUnauthorizedError(M, "Unauthorized"), TemporaryFailure),
    (TelegramForbiddenError(M, "Forbidden: bot was blocked by the user"), RecipientUnreachable),
    (bad("chat not found"), RecipientUnreachable),
    (bad("user not found"), UnknownUser),
    (bad("PARTICIPANT_ID_INVALID"), UnknownUser),
    (bad("message thread not found"), ThreadGone),
    (bad("TOPIC_CLOSED"), TopicClosed),
    (bad("TOPIC_NOT_MODIFIED"), NotModified),
    (bad("message is not modified: specified new message content is the same"), NotModified),
    (bad("message to be replied not found"), ReplyGone),
    (bad("message to delete not found"), MessageGone),
    (bad("message to copy not found"), MessageGone),
    (bad("not enough rights to create a topic"), NoRights),
    (bad("file is too big"), FileTooBig),
    (bad("message is too long"), RejectedContent),
    (TelegramEntityTooLarge(M, "Request Entity Too Large"), RejectedContent),
]


@pytest.mark.parametrize(("answer", "meaning"), ANSWERS, ids=lambda x: str(x)[:40])
def test_each_answer_has_one_meaning(answer: BaseException, meaning: type) -> None:
    assert type(translate(answer)) is meaning
    with pytest.raises(meaning) as got, delivery_errors():
        raise answer
    assert got.value.__cause__ is answer


def test_what_is_no_trouble_with_telegram_is_left_alone() -> None:
    assert translate(KeyError("bug")) is None
    with pytest.raises(KeyError), delivery_errors():
        raise KeyError("bug")


async def failing(exc: BaseException) -> Any:
    raise exc


@pytest.mark.parametrize(("answer", "meaning"), ANSWERS, ids=lambda x: str(x)[:40])
async def test_the_front_ends_calls_read_the_same_meaning(answer, meaning) -> None:
    if issubclass(meaning, TemporaryFailure):
        with pytest.raises(RetryLater) as retry:
            await call(failing(answer))
        assert retry.value.waiting is (meaning is RateLimited)
    elif meaning in (ThreadGone, TopicClosed):
        with pytest.raises(meaning):
            await call(failing(answer))
    else:
        with pytest.raises(type(answer)):
            await call(failing(answer))
    assert is_not_modified(answer) is (meaning is NotModified)


async def test_a_quiet_answer_tries_a_passing_trouble_once_more_and_drops_a_refusal() -> None:
    tries: list[int] = []

    async def flaky() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise TelegramServerError(M, "Internal Server Error")
        return "ok"

    assert await quietly(flaky) == "ok" and len(tries) == 2

    async def refused() -> str:
        tries.append(1)
        raise bad("message is too long")

    tries.clear()
    assert await quietly(refused) is None and len(tries) == 1

    with pytest.raises(KeyError):
        await quietly(lambda: failing(KeyError("bug")))
