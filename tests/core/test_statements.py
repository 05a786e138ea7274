"""What the core's hot paths cost in SQL statements (counted as the bench counts them):
a client's message into an open dialog, a round of the outbox."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bench.counters import SqlCensus, census_between
from core.models import Channel, Message, OutboxItem, OutboxStatus
from core.outbox import enqueue
from core.service import Core
from tests.core.helpers import write

pytestmark = pytest.mark.usefixtures("db")


@asynccontextmanager
async def counted() -> AsyncIterator[Counter[str]]:
    """The statements run inside, by shape."""
    census = SqlCensus()
    census.install()
    shapes: Counter[str] = Counter()
    try:
        before = census.snapshot()
        yield shapes
        shapes.update(census_between(before["by_text"], census.snapshot()["by_text"]))
    finally:
        census.uninstall()


def of(shapes: Counter[str], start: str, table: str) -> int:
    return sum(n for text, n in shapes.items() if text.startswith(start) and f'"{table}"' in text)


async def test_a_message_into_an_open_dialog_reads_the_dialog_once_and_nothing_else(
    core: Core, telegram: Channel
) -> None:
    first = await write(core, telegram, text="hello")
    async with counted() as shapes:
        again = await write(core, telegram, text="me again")
    assert again.dialog.id == first.dialog.id and not again.duplicate
    # The dialog with its current episode and the sender's contact, in one statement; no
    # read of the contact, the episode or the message's id on their own.
    reads = [text for text in shapes if text.startswith("SELECT")]
    assert len(reads) == 1 and sum(shapes[t] for t in reads) == 1, shapes
    assert reads[0].split(" FROM ")[-1].startswith('"dialog"'), reads
    assert of(shapes, "INSERT", "message") == 1
    stored = await Message.get(id=again.message.id)
    assert stored.episode_id == first.message.episode_id  # type: ignore[attr-defined]
    assert stored.sender_contact_id == first.message.sender_contact_id  # type: ignore[attr-defined]


async def test_a_message_delivered_twice_is_still_stored_once(
    core: Core, telegram: Channel
) -> None:
    first = await write(core, telegram, external_id="m-twice")
    again = await write(core, telegram, external_id="m-twice")
    assert again.duplicate and again.message.id == first.message.id
    assert await Message.filter(external_id="m-twice").count() == 1


async def test_a_new_display_name_is_kept_though_the_contact_is_known(
    core: Core, telegram: Channel
) -> None:
    from core.ingest import Sender
    from core.models import Contact, ContactKind

    await write(core, telegram, sender=Sender(ContactKind.TELEGRAM, "42", "Anna", "@anna"))
    await write(core, telegram, sender=Sender(ContactKind.TELEGRAM, "42", "Anna", "@anna_k"))
    contact = await Contact.get(kind=ContactKind.TELEGRAM, value="42")
    assert contact.display == "@anna_k"


async def rows(core: Core, n: int, handler: Callable[[OutboxItem], Awaitable[Any]]) -> None:
    core.outbox.handle("test.work", handler)
    for number in range(n):
        await enqueue(core.ctx, "test.work", {"n": number}, lane=f"lane:{number}")


async def test_a_round_takes_its_rows_in_one_statement_and_writes_their_outcomes_in_one(
    core: Core,
) -> None:
    async def handler(item: OutboxItem) -> dict[str, Any]:
        await asyncio.sleep(0)  # a call: they all finish together
        return {"done": item.payload["n"]}

    await rows(core, 5, handler)
    async with counted() as shapes:
        assert await core.outbox.run_once() == 5
    # One to mark them `sending` before any call, one for their outcomes after.
    assert of(shapes, "UPDATE", "outboxitem") == 2, shapes
    done = await OutboxItem.filter(kind="test.work").order_by("id")
    assert [r.status for r in done] == [OutboxStatus.SENT] * 5
    assert [r.result for r in done] == [{"done": n} for n in range(5)]


async def test_a_row_is_sending_before_its_call_and_each_outcome_is_its_own(
    core: Core,
) -> None:
    from core.outbox import GiveUp, RetryLater

    seen: list[str] = []

    async def handler(item: OutboxItem) -> None:
        row = await OutboxItem.get(id=item.id)
        seen.append(row.status.value)
        await asyncio.sleep(0)
        if item.payload["n"] == 1:
            raise RetryLater(30, "later")
        if item.payload["n"] == 2:
            raise GiveUp("never")

    await rows(core, 3, handler)
    await core.outbox.run_once()
    assert seen == ["sending"] * 3
    done = await OutboxItem.filter(kind="test.work").order_by("id")
    assert [r.status for r in done] == [
        OutboxStatus.SENT,
        OutboxStatus.PENDING,
        OutboxStatus.FAILED,
    ]
    assert done[1].last_error == "later" and done[1].attempts == 1
    assert done[2].last_error == "never"
