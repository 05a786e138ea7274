"""What the durable poller costs in SQL statements: a long poll's updates stored in one, taken up
from memory, marked processed together; a poll that brings nothing reads and writes nothing."""

from __future__ import annotations

from typing import Any

from aiogram import Dispatcher, Router
from aiogram.types import Message

from bench.counters import SqlCensus, census_between
from core.clock import FrozenClock
from core.models import InboxItem
from tgapi.polling import DurablePoller

TOKEN = "880002:poller-statements"
BOT = "poller_statements_bot"


def of(shapes: dict[str, int], start: str) -> int:
    """The poller's statements on the inbox (the test's own counting left out)."""
    return sum(
        n
        for text, n in shapes.items()
        if text.startswith(start) and "inboxitem" in text and "COUNT(" not in text
    )


async def test_a_batch_is_stored_in_one_statement_and_marked_together(
    emulator: Any, db: str, clock: FrozenClock
) -> None:
    await emulator.bot(TOKEN, username=BOT)
    people = [await emulator.user(name) for name in ("Ann", "Bob", "Cy", "Di")]
    # Waiting before the poller starts: one getUpdates brings them all.
    for person in people:
        await emulator.send(person["id"], to_bot=BOT, text=f"hi from {person['id']}")
    seen: list[str] = []
    router = Router()

    @router.message()
    async def handle(message: Message) -> None:
        seen.append(message.text or "")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    census = SqlCensus()
    census.install()
    poller = DurablePoller(emulator.make_bot(TOKEN), dispatcher, clock, timeout=1)
    try:
        before = census.snapshot()
        polls = len(await emulator.calls("getUpdates"))
        poller.start()

        async def all_marked() -> bool:
            return await InboxItem.filter(processed_at__not_isnull=True).count() == len(people)

        await emulator.wait_for(all_marked, timeout=10)
        handled = census.snapshot()
        # Two more polls that bring nothing.
        await emulator.wait_for(lambda: _more_polls(emulator, polls + 3), timeout=10, interval=0.1)
        idle = census.snapshot()
    finally:
        await poller.stop()
        census.uninstall()
    assert sorted(seen) == sorted(f"hi from {p['id']}" for p in people)
    busy = census_between(before["by_text"], handled["by_text"])
    assert of(busy, "INSERT") == 1, busy
    # The start's two: where polling left off, and what was stored and not processed.
    assert of(busy, "SELECT") == 2, busy
    assert 1 <= of(busy, "UPDATE") < len(people), busy
    quiet = census_between(handled["by_text"], idle["by_text"])
    assert not any("inboxitem" in text and "COUNT(" not in text for text in quiet), quiet
    stored = await InboxItem.all()
    assert all(item.attempts == 1 and item.error == "" for item in stored)


async def _more_polls(emulator: Any, at_least: int) -> bool:
    return len(await emulator.calls("getUpdates")) >= at_least
