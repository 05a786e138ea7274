"""Filters run where the update is: no thread hop per filter.

aiogram runs a filter that is a plain function — every magic filter (`F.chat.type ==
"private"`, `F.text.regexp(...)`, tgapi.filters.CONTENT) — through `asyncio.to_thread`, as if
it could block. eadesk's plain filters only look at the update (its async ones, such as a
member check, stay awaited as before), and a client message passes a dozen or more of them on
its way through the routers: each was a worker thread's round trip (a context copy, a future,
the loop woken through its self-pipe), about a tenth of eadesk's CPU per client message in
the bench's profile. `inline_filters` makes them ordinary calls.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any

from aiogram.dispatcher.event.handler import FilterObject


async def _call_inline(self: FilterObject, *args: Any, **kwargs: Any) -> Any:
    result = partial(self.callback, *args, **self._prepare_kwargs(kwargs))()
    if self.awaitable or inspect.isawaitable(result):
        return await result
    return result


def inline_filters() -> None:
    """Every aiogram filter that is a plain function is called in the event loop's thread
    (idempotent; handlers themselves are left as they are)."""
    FilterObject.call = _call_inline  # type: ignore[method-assign, assignment]
