"""Crash safety of the outbox: a row is `sending` (committed) before its call; a row a crash
cut off mid-call is found at startup, counted as interrupted and made again, in its lane's
order; work a handler had already stored is not sent twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.clock import FrozenClock
from core.context import CoreContext
from core.models import Channel, Message, Operator, OutboxItem, OutboxStatus
from core.outbox import INTERRUPTED, MAX_ATTEMPTS, OutboxWorker, enqueue
from core.service import Core
from tests.core.helpers import write
from tests.core.test_outbox import FakeConnector

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def connector(core: Core, telegram: Channel) -> FakeConnector:
    fake = FakeConnector(telegram)
    core.connectors.register(telegram.id, fake)
    return fake


def restarted(core: Core) -> Core:
    """A new process on the same database: the same handlers, nothing in memory."""
    fresh = Core(CoreContext(clock=core.ctx.clock))
    fresh.outbox.handlers = dict(core.outbox.handlers)
    return fresh


async def cut_off(row: OutboxItem) -> None:
    """What kill -9 leaves behind while a row's call is under way."""
    await OutboxItem.filter(id=row.id).update(status=OutboxStatus.SENDING)


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.seen_status: list[OutboxStatus] = []

    async def __call__(self, item: OutboxItem) -> dict[str, Any]:
        stored = await OutboxItem.get(id=item.id)
        self.seen_status.append(stored.status)
        assert stored.started_at is not None
        self.names.append(item.payload["name"])
        return {"ok": True}


async def test_a_row_is_sending_while_its_call_is_under_way(core: Core) -> None:
    calls = Calls()
    core.outbox.handle("test.work", calls)
    await enqueue(core.ctx, "test.work", {"name": "one"})

    await core.outbox.drain()

    assert calls.names == ["one"]
    assert calls.seen_status == [OutboxStatus.SENDING]
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.SENT and row.interrupted == 0 and row.attempts == 0
    assert row.started_at is not None and row.done_at is not None


async def test_a_call_cut_off_by_the_process_dying_is_made_again_and_counted(core: Core) -> None:
    entered = asyncio.Event()
    calls: list[str] = []

    async def hangs(item: OutboxItem) -> None:
        calls.append(item.payload["name"])
        entered.set()
        await asyncio.Event().wait()  # the answer never comes: the process dies here

    core.outbox.handle("test.work", hangs)
    await enqueue(core.ctx, "test.work", {"name": "one"})
    round_ = asyncio.create_task(core.outbox.run_once())
    await asyncio.wait_for(entered.wait(), 5)
    round_.cancel()
    await asyncio.gather(round_, return_exceptions=True)
    assert (await OutboxItem.get()).status is OutboxStatus.SENDING

    after = restarted(core)
    done: list[str] = []

    async def works(item: OutboxItem) -> None:
        done.append(item.payload["name"])

    after.outbox.handle("test.work", works)
    # Not taken again before the restart looked at it.
    assert await after.outbox.run_once() == 0
    assert await after.outbox.recover() == 1

    row = await OutboxItem.get()
    assert row.status is OutboxStatus.PENDING
    assert (row.interrupted, row.attempts, row.last_error) == (1, 1, INTERRUPTED)
    await after.outbox.drain()
    assert calls == ["one"] and done == ["one"]
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.SENT and row.interrupted == 1
    # Nothing left in flight: a second recovery finds nothing.
    assert await after.outbox.recover() == 0


async def test_a_cut_off_row_holds_its_lane_and_goes_first_after_recovery(core: Core) -> None:
    calls = Calls()
    core.outbox.handle("test.work", calls)
    a1 = await OutboxItem.get(id=await enqueue(core.ctx, "test.work", {"name": "a1"}, lane="a"))
    await enqueue(core.ctx, "test.work", {"name": "a2"}, lane="a")
    await enqueue(core.ctx, "test.work", {"name": "b1"}, lane="b")
    await cut_off(a1)

    await core.outbox.drain()
    assert calls.names == ["b1"]  # a2 waits behind a1, whose outcome is unknown

    assert await core.outbox.recover() == 1
    await core.outbox.drain()
    assert calls.names == ["b1", "a1", "a2"]
    statuses = await OutboxItem.all().values_list("status", flat=True)
    assert set(statuses) == {OutboxStatus.SENT}


async def test_the_worker_recovers_when_it_starts(core: Core) -> None:
    calls = Calls()
    core.outbox.handle("test.work", calls)
    row = await OutboxItem.get(id=await enqueue(core.ctx, "test.work", {"name": "one"}))
    await cut_off(row)

    after = restarted(core)
    after.outbox.start()
    try:
        for _ in range(100):
            if calls.names:
                break
            await asyncio.sleep(0.02)
    finally:
        await after.outbox.stop()
    assert calls.names == ["one"]
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.SENT and row.interrupted == 1


async def test_a_reply_delivered_before_the_crash_is_not_sent_again(
    core: Core, telegram: Channel, operator: Operator, connector: FakeConnector
) -> None:
    """The crash came after the handler stored `delivered_at`, before the row said `sent`."""
    dialog = (await write(core, telegram)).dialog
    message = await core.conversation.reply(dialog.id, operator, "Done!")
    await core.outbox.drain()
    row = await OutboxItem.get()
    await cut_off(row)

    after = restarted(core)
    assert await after.outbox.recover() == 1
    await after.outbox.drain()

    assert connector.sent == [("chat-1", "Done!")]
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.SENT and row.interrupted == 1
    assert row.result == {"already": True}
    assert (await Message.get(id=message.id)).delivered_at is not None


async def test_a_reply_cut_off_before_it_was_stored_goes_out_again(
    core: Core, telegram: Channel, operator: Operator, connector: FakeConnector
) -> None:
    """Its outcome is unknown, so it is sent again: at least once, and the row says so."""
    dialog = (await write(core, telegram)).dialog
    await core.conversation.reply(dialog.id, operator, "Done!")
    await cut_off(await OutboxItem.get())

    after = restarted(core)
    await after.outbox.recover()
    await after.outbox.drain()

    assert connector.sent == [("chat-1", "Done!")]
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.SENT and row.interrupted == 1


async def test_a_row_that_keeps_bringing_the_process_down_fails_in_the_end(core: Core) -> None:
    calls = Calls()
    core.outbox.handle("test.work", calls)
    row = await OutboxItem.get(id=await enqueue(core.ctx, "test.work", {"name": "poison"}))
    await OutboxItem.filter(id=row.id).update(
        status=OutboxStatus.SENDING, attempts=MAX_ATTEMPTS - 1
    )

    assert await core.outbox.recover() == 1

    row = await OutboxItem.get()
    assert row.status is OutboxStatus.FAILED and row.done_at is not None
    assert row.last_error == INTERRUPTED
    await core.outbox.drain()
    assert calls.names == []


async def test_a_row_replaced_by_its_merge_key_before_it_is_taken_is_not_sent(
    core: Core, clock: FrozenClock
) -> None:
    calls = Calls()
    worker: OutboxWorker = core.outbox
    worker.handle("test.card", calls)
    await enqueue(core.ctx, "test.card", {"name": "v1"}, merge_key="card:1")
    [stale] = await worker.due(core.ctx.wall.now(), 10)
    # A newer state arrives between the pick and the call.
    await enqueue(core.ctx, "test.card", {"name": "v2"}, merge_key="card:1")

    await worker._process(stale)
    await worker.drain()

    assert calls.names == ["v2"]


async def test_a_newer_merge_key_row_does_not_replace_one_in_flight(core: Core) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def slow(item: OutboxItem) -> None:
        entered.set()
        await release.wait()
        done.append(item.payload["name"])

    core.outbox.handle("test.card", slow)
    await enqueue(core.ctx, "test.card", {"name": "v1"}, merge_key="card:1")
    round_ = asyncio.create_task(core.outbox.run_once())
    await asyncio.wait_for(entered.wait(), 5)
    await enqueue(core.ctx, "test.card", {"name": "v2"}, merge_key="card:1")
    assert await OutboxItem.filter(merge_key="card:1").count() == 2
    release.set()
    await round_
    await core.outbox.drain()

    assert done == ["v1", "v2"]
    rows = await OutboxItem.filter(merge_key="card:1").order_by("id")
    assert [r.status for r in rows] == [OutboxStatus.SENT, OutboxStatus.SENT]
