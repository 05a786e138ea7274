"""Due outbox rows are chosen in SQL: the head of every lane, most urgent first, with no
window of the first N rows, so a backlog never hides a client reply. Rows waiting for a spent
budget are left alone (no writes), and the side effects of a change are written in the
change's own transaction: a durable subscriber that fails rolls the change back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from core.conversation import SEND_TO_CLIENT
from core.events import MessageCreated, MessageEdited, StatusChanged
from core.lifecycle import DialogStatus
from core.models import (
    Channel,
    Dialog,
    Event,
    Message,
    MessageKind,
    Operator,
    OutboxItem,
    OutboxStatus,
)
from core.outbox import Priority, enqueue
from core.service import Core
from tests.core.helpers import inbound, write

pytestmark = pytest.mark.usefixtures("db")

BACKLOG = 1500
COSMETIC = "test.title"


class Done:
    """A handler that records what it did."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def __call__(self, item: OutboxItem) -> None:
        self.names.append(item.payload.get("name") or item.kind)


async def backlog(core: Core, count: int = BACKLOG) -> None:
    """`count` pending cosmetic rows (a title to redraw for each of many dialogs), older than
    anything queued after them."""
    now = core.ctx.wall.now()
    await OutboxItem.bulk_create(
        [
            OutboxItem(
                kind=COSMETIC,
                payload={"dialog_id": n},
                priority=int(Priority.COSMETIC),
                merge_key=f"status:{n}",
                not_before=now,
                created_at=now,
            )
            for n in range(count)
        ]
    )


class Statements(logging.Handler):
    """The SQL statements tortoise runs (one DEBUG record of `tortoise.db_client` each)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.funcName.startswith("execute"):
            args = record.args
            self.texts.append(str(args[0] if isinstance(args, tuple) and args else record.msg))

    def writes(self) -> list[str]:
        return [
            t for t in self.texts if t.lstrip().split(" ", 1)[0].upper() in WRITES and "outbox" in t
        ]


WRITES = {"INSERT", "UPDATE", "DELETE"}


@pytest.fixture
def statements() -> Iterator[Statements]:
    logger = logging.getLogger("tortoise.db_client")
    handler, level = Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# ---- a backlog never hides a client reply ----------------------------------------------------


async def test_a_reply_behind_a_backlog_of_cosmetic_rows_goes_in_the_first_round(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    cosmetic, replies = Done(), []

    async def send(item: OutboxItem) -> None:
        replies.append(item.payload["message_id"])

    core.outbox.handle(COSMETIC, cosmetic)
    core.outbox.handle(SEND_TO_CLIENT, send)
    dialog = (await write(core, telegram)).dialog
    await backlog(core)
    reply = await core.conversation.reply(dialog.id, operator, "On it!")

    assert await core.outbox.run_once() == core.outbox.concurrency

    assert replies == [reply.id]
    # The backlog is still there, taken in turn.
    pending = await OutboxItem.filter(kind=COSMETIC, status=OutboxStatus.PENDING).count()
    assert pending == BACKLOG - (core.outbox.concurrency - 1)


async def test_the_newest_lane_head_is_seen_behind_a_backlog_of_lanes(core: Core) -> None:
    """Every lane's head counts, however many rows other lanes hold before it."""
    done = Done()
    core.outbox.handle("test.work", done)
    now = core.ctx.wall.now()
    await OutboxItem.bulk_create(
        [
            OutboxItem(
                kind="test.work",
                payload={"name": f"cosmetic {n}"},
                priority=int(Priority.COSMETIC),
                lane=f"topic:{n % 50}",
                not_before=now,
                created_at=now,
            )
            for n in range(BACKLOG)
        ]
    )
    await enqueue(core.ctx, "test.work", {"name": "reply"}, priority=Priority.CLIENT_REPLY)
    core.outbox.concurrency = 1

    await core.outbox.run_once()

    assert done.names == ["reply"]


# ---- lanes ------------------------------------------------------------------------------------


async def test_a_lane_goes_in_order_whatever_the_priorities(core: Core) -> None:
    done = Done()
    core.outbox.handle("test.work", done)
    core.outbox.concurrency = 10
    await enqueue(core.ctx, "test.work", {"name": "a1"}, priority=Priority.COSMETIC, lane="a")
    await enqueue(core.ctx, "test.work", {"name": "a2"}, priority=Priority.CLIENT_REPLY, lane="a")
    await enqueue(core.ctx, "test.work", {"name": "b1"}, priority=Priority.TOPIC_MESSAGE, lane="b")
    await enqueue(core.ctx, "test.work", {"name": "free"}, priority=Priority.PRIVATE)

    # One round: each lane's head only.
    await core.outbox.run_once()
    assert sorted(done.names) == ["a1", "b1", "free"]
    await core.outbox.run_once()
    assert done.names[3:] == ["a2"]


async def test_a_head_not_yet_due_or_in_flight_holds_its_lane(core: Core) -> None:
    done = Done()
    core.outbox.handle("test.work", done)
    await enqueue(core.ctx, "test.work", {"name": "later"}, lane="a", delay=timedelta(hours=1))
    await enqueue(core.ctx, "test.work", {"name": "behind it"}, lane="a")
    in_flight = await OutboxItem.get(
        id=await enqueue(core.ctx, "test.work", {"name": "in flight"}, lane="b")
    )
    await OutboxItem.filter(id=in_flight.id).update(status=OutboxStatus.SENDING)
    await enqueue(core.ctx, "test.work", {"name": "behind the call"}, lane="b")
    await enqueue(core.ctx, "test.work", {"name": "alone"}, lane="c")

    await core.outbox.drain()

    assert done.names == ["alone"]


async def test_rows_of_kinds_nobody_handles_are_left_alone(core: Core) -> None:
    done = Done()
    core.outbox.handle("test.work", done)
    stranger = await OutboxItem.get(id=await enqueue(core.ctx, "test.unknown", {}))
    await enqueue(core.ctx, "test.work", {"name": "mine"})

    assert await core.outbox.run_once() == 1
    assert await core.outbox.run_once() == 0

    assert done.names == ["mine"]
    assert (await OutboxItem.get(id=stranger.id)).status is OutboxStatus.PENDING


# ---- budgets ----------------------------------------------------------------------------------


class Window:
    """A budget the test opens and closes: `wait` seconds until a call fits, `room` calls."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 100

    def wait(self) -> float:
        return self.seconds

    def room(self) -> int:
        return 0 if self.seconds > 0 else self.calls


async def test_rows_waiting_for_a_spent_budget_cost_no_writes(
    core: Core, statements: Statements
) -> None:
    group, private = Done(), Done()
    window = Window()
    core.outbox.budget("group", window.wait, window.room)
    core.outbox.handle("test.post", group, budget="group")
    core.outbox.handle("test.private", private)
    for n in range(3):
        await enqueue(core.ctx, "test.post", {"name": f"post {n}"}, lane=f"topic:{n}")
    before = {r.id: r for r in await OutboxItem.all()}
    window.seconds = 2.0

    statements.texts.clear()
    for _ in range(5):
        assert await core.outbox.run_once() == 0
    # One read a round, and not one write: the rows were not taken, not deferred.
    assert len(statements.texts) == 5 and statements.writes() == [], statements.texts
    # Other work goes on meanwhile.
    await enqueue(core.ctx, "test.private", {"name": "note"})
    assert await core.outbox.run_once() == 1
    assert group.names == [] and private.names == ["note"]
    for row in await OutboxItem.filter(kind="test.post"):
        old = before[row.id]
        assert row.status is OutboxStatus.PENDING and row.started_at is None
        assert (row.attempts, row.not_before, row.last_error) == (0, old.not_before, None)
    # The worker sleeps until the budget frees, not polling the table meanwhile.
    assert core.outbox.poll > 2.0
    assert await core.outbox.pause() == 2.0

    window.seconds = 0.0
    await core.outbox.drain()
    assert sorted(group.names) == ["post 0", "post 1", "post 2"]


async def test_a_round_takes_no_more_rows_of_a_budget_than_fit_into_it(core: Core) -> None:
    done = Done()
    window = Window()
    window.calls = 2
    core.outbox.budget("group", window.wait, window.room)
    core.outbox.handle("test.post", done, budget="group")
    for n in range(5):
        await enqueue(core.ctx, "test.post", {"name": f"post {n}"}, lane=f"topic:{n}")

    assert await core.outbox.run_once() == 2
    assert done.names == ["post 0", "post 1"]
    assert await OutboxItem.filter(status=OutboxStatus.PENDING, attempts=0).count() == 3


async def test_a_budget_within_another_counts_against_both(core: Core) -> None:
    """One bot's calls (a board) are within all posters' (a client's post): the one call
    left goes to the more urgent row, and the other is not even taken to race it."""
    done = Done()
    team, posters = Window(), Window()
    team.calls = posters.calls = 1
    core.outbox.budget("group", team.wait, team.room, within="group.posters")
    core.outbox.budget("group.posters", posters.wait, posters.room)
    core.outbox.handle("test.board", done, budget="group")
    core.outbox.handle("test.post", done, budget="group.posters")
    await enqueue(core.ctx, "test.board", {"name": "board"}, priority=Priority.COSMETIC)
    await enqueue(core.ctx, "test.post", {"name": "post"}, priority=Priority.TOPIC_MESSAGE)

    assert await core.outbox.run_once() == 1
    assert done.names == ["post"]
    board = await OutboxItem.get(kind="test.board")
    assert (board.status, board.attempts, board.started_at) == (OutboxStatus.PENDING, 0, None)

    # The next round, the post done, the board has its call.
    assert await core.outbox.run_once() == 1
    assert done.names == ["post", "board"]


async def test_a_spent_budget_holds_the_lanes_its_rows_head(core: Core) -> None:
    done = Done()
    window = Window()
    core.outbox.budget("group", window.wait, window.room)
    core.outbox.handle("test.post", done, budget="group")
    core.outbox.handle("test.mark", done)
    await enqueue(core.ctx, "test.post", {"name": "post"}, lane="topic:1")
    await enqueue(core.ctx, "test.mark", {"name": "mark after the post"}, lane="topic:1")
    await enqueue(core.ctx, "test.mark", {"name": "mark elsewhere"}, lane="topic:2")
    window.seconds = 10.0

    await core.outbox.drain()
    assert done.names == ["mark elsewhere"]

    window.seconds = 0.0
    await core.outbox.drain()
    assert done.names == ["mark elsewhere", "post", "mark after the post"]


async def test_a_row_that_waited_for_its_budget_is_told_so(core: Core) -> None:
    seen: list[bool] = []
    window = Window()

    async def post(item: OutboxItem) -> None:
        seen.append(core.outbox.waited_for_budget(item))

    core.outbox.budget("group", window.wait, window.room)
    core.outbox.handle("test.post", post, budget="group")
    await enqueue(core.ctx, "test.post", {})
    await core.outbox.drain()
    window.seconds = 5.0
    await enqueue(core.ctx, "test.post", {})
    await core.outbox.drain()
    window.seconds = 0.0
    await core.outbox.drain()

    assert seen == [False, True]


# ---- durable subscribers ----------------------------------------------------------------------


class Broken(Exception):
    pass


async def test_a_durable_subscriber_queues_its_row_with_the_change(
    core: Core, telegram: Channel
) -> None:
    async def post(event: MessageCreated) -> None:
        await enqueue(core.ctx, "topic.post", {"message_id": event.message_id}, lane="topic")

    core.bus.on_change(MessageCreated, post)
    message = (await write(core, telegram)).message

    [row] = await OutboxItem.filter(kind="topic.post")
    assert row.payload == {"message_id": message.id}


async def test_a_failing_durable_subscriber_rolls_a_client_message_back(
    core: Core, telegram: Channel
) -> None:
    """Nothing half-done: neither the message (nor its new dialog) nor any row queued before
    the failure; the connector's caller sees the error and tries again."""
    failures = [Broken("the database went away")]

    async def post(event: MessageCreated) -> None:
        await enqueue(core.ctx, "topic.post", {"message_id": event.message_id})

    async def fails(event: MessageCreated) -> None:
        if failures:
            raise failures.pop()

    core.bus.on_change(MessageCreated, post)
    core.bus.on_change(MessageCreated, fails)

    with pytest.raises(Broken):
        await write(core, telegram, external_id="m-1", text="Hello")

    assert not await Message.exists()
    assert not await Dialog.exists()
    assert not await OutboxItem.exists()

    # Tried again, it is stored once, with its row.
    result = await write(core, telegram, external_id="m-1", text="Hello")
    assert [m.text for m in await Message.all()] == ["Hello"]
    [row] = await OutboxItem.all()
    assert row.payload == {"message_id": result.message.id}


async def test_a_failing_durable_subscriber_rolls_a_status_change_back(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    published: list[Any] = []

    async def fails(event: StatusChanged) -> None:
        raise Broken("no")

    async def after(event: StatusChanged) -> None:
        published.append(event)

    core.bus.on_change(StatusChanged, fails)
    core.bus.subscribe(StatusChanged, after)

    with pytest.raises(Broken):
        await core.dialogs.close(dialog.id, operator)

    assert (await Dialog.get(id=dialog.id)).status is DialogStatus.OPEN
    assert not await Event.filter(dialog_id=dialog.id, name="dialog.close").exists()
    # What comes after the commit never heard of it.
    assert published == []


async def test_a_failing_durable_subscriber_rolls_an_edit_and_a_reply_back(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    first = await write(core, telegram, external_id="m-1", text="Helo")

    async def fails(event: Any) -> None:
        raise Broken("no")

    core.bus.on_change(MessageEdited, fails)
    core.bus.on_change(MessageCreated, fails)

    with pytest.raises(Broken):
        await core.ingest.edited(inbound(telegram, external_id="m-1", text="Hello"))
    with pytest.raises(Broken):
        await core.conversation.reply(first.dialog.id, operator, "Hi!")

    assert [m.text for m in await Message.all()] == ["Helo"]
    assert not await Message.filter(kind=MessageKind.OUT).exists()
    assert not await OutboxItem.exists()


async def test_a_durable_subscriber_answers_with_events_that_reach_everyone(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    """A follow-up event (say, the client can be reached again) goes through the durable
    subscribers inside the change, and to the others after the commit."""
    durable: list[str] = []
    after: list[str] = []

    async def on_message(event: MessageCreated) -> list[StatusChanged]:
        durable.append("message")
        return [StatusChanged(dialog_id=event.dialog_id, old="open", new="open")]

    async def on_status(event: StatusChanged) -> None:
        durable.append("status")

    async def told(event: Any) -> None:
        after.append(type(event).__name__)

    core.bus.on_change(MessageCreated, on_message)
    core.bus.on_change(StatusChanged, on_status)
    core.bus.subscribe(MessageCreated, told)
    core.bus.subscribe(StatusChanged, told)

    await write(core, telegram)

    assert durable == ["message", "status"]
    assert after == ["MessageCreated", "StatusChanged"]
