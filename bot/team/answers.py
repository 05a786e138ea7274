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

from aiogram.exceptions import AiogramError

from core.channels import TemporaryFailure
from tgapi.errors import translate
from tgapi.text import TEXT_LIMIT, split, utf16_len

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
        except Exception as exc:
            failure = translate(exc)
            if failure is None and not isinstance(exc, AiogramError):
                raise  # no trouble with Telegram: a bug, the database
            wait = failure.retry_after or 0.5 if isinstance(failure, TemporaryFailure) else None
            if attempt == 2 or wait is None or wait > MAX_INLINE_WAIT:
                log.warning("%s dropped: %s", what, exc)
                return None
            await asyncio.sleep(wait)
    return None


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text` cut at a line break (or a word, or anywhere) so that it fits one Telegram
    message."""
    if utf16_len(text) <= limit:
        return text
    parts = split(text, (), limit - utf16_len(MORE))
    return (parts[0][0].rstrip() if parts else "") + MORE
