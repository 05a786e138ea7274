"""Writes that arrive together go to the database as one statement (a group commit).

Under load many tasks finish a step at once (the outbox's rows of a round, the poller's chats,
the poster bots' calls) and each has one small write to make before it goes on. `Batched`
gathers the writes that come in the same turn of the event loop, and those that come while
a write is under way, into one call of `write`; each caller returns once the write holding
its item is done (or raises what that write raised), so "written before it goes on" holds
for every caller, as with a write of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batched(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[object]]) -> None:
        self._write = write
        self._items: list[T] = []
        self._done: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        """`item` written, with whatever else came meanwhile. Never inside a transaction:
        the write runs in the context of the caller that started it, and is others' too."""
        self._items.append(item)
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            # Consumed here too, so a write whose callers all went away warns of nothing.
            self._done.add_done_callback(_consume)
        done = self._done
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run())
        await asyncio.shield(done)

    async def _run(self) -> None:
        try:
            while self._items:
                await asyncio.sleep(0)  # what else finishes in this turn joins in
                items, self._items = self._items, []
                done, self._done = self._done, None
                assert done is not None
                try:
                    await self._write(items)
                except Exception as exc:
                    if not done.done():
                        done.set_exception(exc)
                except BaseException:
                    if not done.done():
                        done.cancel()
                    raise
                else:
                    if not done.done():
                        done.set_result(None)
        except BaseException:
            # Cancelled (a stop): what waits for a later write is not left waiting.
            if self._done is not None and not self._done.done():
                self._done.cancel()
            self._items, self._done = [], None
            raise

    async def flush(self) -> None:
        """Everything added so far written (before a stop, say)."""
        if self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
