"""Answers to people and cosmetic calls that never make an update run again.

The poller re-runs an update whose handler raised. Once a handler has made its change, a
failed answer, reaction or delete must not raise: the change would be made twice (a
template sent twice, "already closed" for a dialog just closed). Such calls go through
`quietly`: a transient failure is tried once more, anything else is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import (
    AiogramError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from connectors.telegram.texts import TEXT_LIMIT, utf16_len

log = logging.getLogger(__name__)
T = TypeVar("T")

# A Telegram-given wait longer than this is not waited out inside an update.
MAX_INLINE_WAIT = 5.0
MORE = "\n…"


async def quietly(request: Callable[[], Awaitable[T]], what: str = "answer") -> T | None:
    """`request()`, tried twice on a transient failure; None when it did not work."""
    for attempt in (1, 2):
        try:
            return await request()
        except TelegramRetryAfter as exc:
            if attempt == 2 or exc.retry_after > MAX_INLINE_WAIT:
                log.warning("%s dropped: %s", what, exc.message)
                return None
            await asyncio.sleep(exc.retry_after)
        except (TelegramServerError, TelegramNetworkError, TimeoutError) as exc:
            if attempt == 2:
                log.warning("%s dropped: %s", what, exc)
                return None
            await asyncio.sleep(0.5)
        except AiogramError as exc:
            log.warning("%s dropped: %s", what, exc)
            return None
    return None


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text` cut at a line break (or anywhere) so that it fits one Telegram message."""
    if utf16_len(text) <= limit:
        return text
    room, units, end = limit - utf16_len(MORE), 0, 0
    for end, char in enumerate(text):  # noqa: B007
        units += 2 if ord(char) > 0xFFFF else 1
        if units > room:
            break
    cut = text[:end]
    line = cut.rfind("\n")
    if line > len(cut) // 2:
        cut = cut[:line]
    return cut.rstrip() + MORE
