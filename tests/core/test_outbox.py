"""Operator replies: stored, queued in the durable outbox, delivered by the dialog's connector;
temporary failures are retried later, an unreachable client marks the dialog."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.channels import (
    Capabilities,
    Outgoing,
    RecipientUnreachable,
    Sent,
    Sink,
    TemporaryFailure,
)
from core.clock import FrozenClock
from core.conversation import SEND_TO_CLIENT
from core.copies import Origin
from core.events import DeliveryFailed, MessageCreated
from core.models import (
    Channel,
    ChannelKind,
    Dialog,
    Episode,
    Event,
    Message,
    MessageKind,
    Operator,
    OutboxItem,
    OutboxStatus,
)
from core.outbox import Priority, RetryLater, enqueue
from core.service import Core
from tests.core.helpers import Recorder, write

pytestmark = pytest.mark.usefixtures("db")


class FakeConnector:
    """A channel that records what it was asked to send and fails when told to."""

    kind = ChannelKind.TELEGRAM
    name = "fake"
    capabilities = Capabilities(edits=True, replies=True)

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.key = channel.key
        self.sent: list[tuple[str, str]] = []
        self.outgoing: list[Outgoing] = []
        self.edited: list[tuple[str, list[str], dict]] = []
        self.failures: list[Exception] = []

    async def start(self, sink: Sink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def webhooks(self) -> list:
        return []

    async def check(self) -> list[str]:
        return []

    async def send(self, out: Outgoing) -> Sent:
        if self.failures:
            raise self.failures.pop(0)
        self.outgoing.append(out)
        self.sent.append((out.chat_key, out.content.text))
        return Sent([f"client-{len(self.sent)}"], data={"text_ids": [f"client-{len(self.sent)}"]})

    async def edit(self, out: Outgoing, copies: list[str], data: dict) -> Sent | None:
        self.edited.append((out.content.text, copies, data))
        return None


@pytest.fixture
def connector(core: Core, telegram: Channel) -> FakeConnector:
    fake = FakeConnector(telegram)
    core.connectors.register(telegram.id, fake)
    return fake


async def make_due() -> None:
    """Let every waiting row go now, whichever clock the worker reads: the retry moment is
    checked by the tests themselves, waiting it out is not."""
    for row in await OutboxItem.filter(status=OutboxStatus.PENDING):
        row.not_before = row.created_at
        await row.save(update_fields=["not_before"])


async def test_reply_stores_the_message_and_queues_it(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = (await write(core, telegram)).dialog
    clock.advance(timedelta(minutes=4))
    published.clear()

    message = await core.conversation.reply(dialog.id, operator, "How can I help?")

    stored = await Message.get(id=message.id)
    assert stored.kind is MessageKind.OUT and stored.text == "How can I help?"
    assert stored.author_id == operator.id and stored.sender_name == "Olga"  # type: ignore[attr-defined]
    assert stored.delivered_at is None
    episode = await Episode.get(dialog_id=dialog.id)
    assert stored.episode_id == episode.id  # type: ignore[attr-defined]
    assert episode.first_response_at == clock.now()
    after = await Dialog.get(id=dialog.id)
    assert after.waiting_since is None and after.last_message_at == clock.now()
    [row] = await OutboxItem.all()
    assert (row.kind, row.payload, row.status) == (
        SEND_TO_CLIENT,
        {"message_id": message.id},
        OutboxStatus.PENDING,
    )
    assert row.priority == Priority.CLIENT_REPLY and row.lane == f"dialog:{dialog.id}:out"
    [created] = published.events
    assert isinstance(created, MessageCreated)
    assert (created.kind, created.message_id, created.actor_id) == ("out", message.id, operator.id)

    # The first response is the first one only.
    clock.advance(timedelta(minutes=1))
    await core.conversation.reply(dialog.id, operator, "Anything else?")
    assert (await Episode.get(id=episode.id)).first_response_at == clock.now() - timedelta(
        minutes=1
    )


async def test_the_same_operator_message_twice_is_one_reply(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    # Written as post 5 of the team's chat: that post seen twice is one reply.
    post = Origin(chat="-100", ids=("5",), via="telegram:1")
    one = await core.conversation.reply(dialog.id, operator, "hi", origin=post)
    two = await core.conversation.reply(dialog.id, operator, "hi", origin=post)
    assert one.id == two.id
    assert await Message.filter(kind=MessageKind.OUT).count() == 1
    assert await OutboxItem.all().count() == 1


async def test_worker_delivers_through_the_connector(
    core: Core, telegram: Channel, operator: Operator, connector: FakeConnector
) -> None:
    dialog = (await write(core, telegram)).dialog
    message = await core.conversation.reply(dialog.id, operator, "Done!")

    await core.outbox.drain()

    assert connector.sent == [("chat-1", "Done!")]
    assert (await Message.get(id=message.id)).delivered_at is not None
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.SENT and row.done_at is not None
    assert row.result == {"external_ids": ["client-1"]}
    # Nothing is sent twice.
    await core.outbox.drain()
    assert len(connector.sent) == 1


async def test_temporary_failure_is_retried_with_backoff(
    core: Core, telegram: Channel, operator: Operator, connector: FakeConnector
) -> None:
    dialog = (await write(core, telegram)).dialog
    await core.conversation.reply(dialog.id, operator, "hello")
    before = (await OutboxItem.get()).not_before
    connector.failures = [TemporaryFailure("502 Bad Gateway")]

    assert await core.outbox.run_once() == 1

    row = await OutboxItem.get()
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error == "502 Bad Gateway"
    assert timedelta(seconds=2) <= row.not_before - before < timedelta(seconds=3)
    assert connector.sent == []
    # Not due yet: the worker leaves it alone.
    assert await core.outbox.run_once() == 0

    await make_due()
    await core.outbox.drain()
    assert connector.sent == [("chat-1", "hello")]
    assert (await OutboxItem.get()).status is OutboxStatus.SENT


async def test_retry_after_from_the_channel_is_honoured(
    core: Core, telegram: Channel, operator: Operator, connector: FakeConnector
) -> None:
    dialog = (await write(core, telegram)).dialog
    await core.conversation.reply(dialog.id, operator, "hello")
    before = (await OutboxItem.get()).not_before
    connector.failures = [TemporaryFailure("Too Many Requests", retry_after=30)]
    await core.outbox.run_once()
    row = await OutboxItem.get()
    assert timedelta(seconds=30) <= row.not_before - before < timedelta(seconds=31)


async def test_unreachable_client_fails_the_row_and_marks_the_dialog(
    core: Core,
    telegram: Channel,
    operator: Operator,
    connector: FakeConnector,
    published: Recorder,
) -> None:
    dialog = (await write(core, telegram)).dialog
    message = await core.conversation.reply(dialog.id, operator, "hello")
    connector.failures = [RecipientUnreachable("Forbidden: bot was blocked by the user")]
    published.clear()

    await core.outbox.drain()

    row = await OutboxItem.get()
    assert row.status is OutboxStatus.FAILED
    assert row.last_error == "Forbidden: bot was blocked by the user"
    stored = await Message.get(id=message.id)
    assert stored.delivered_at is None
    assert stored.failed_reason == "Forbidden: bot was blocked by the user"
    assert (await Dialog.get(id=dialog.id)).unreachable
    assert await Event.filter(dialog_id=dialog.id, name="dialog.unreachable").count() == 1
    [failed] = published.events
    assert isinstance(failed, DeliveryFailed)
    assert (failed.dialog_id, failed.message_id) == (dialog.id, message.id)
    # A failed row is kept for inspection and never retried.
    await make_due()
    await core.outbox.drain()
    assert connector.sent == []


async def test_without_a_connector_the_reply_waits(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    await core.conversation.reply(dialog.id, operator, "hello")
    await core.outbox.run_once()
    row = await OutboxItem.get()
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    assert "no connector" in (row.last_error or "")


async def test_a_lane_keeps_its_order_behind_a_failure(
    core: Core, telegram: Channel, operator: Operator, connector: FakeConnector
) -> None:
    anna = (await write(core, telegram, "anna")).dialog
    boris = (await write(core, telegram, "boris")).dialog
    for text in ("one", "two", "three"):
        await core.conversation.reply(anna.id, operator, text)
    await core.conversation.reply(boris.id, operator, "hi Boris")
    connector.failures = [TemporaryFailure("timeout")]

    await core.outbox.drain()

    # "one" failed and waits; "two" and "three" wait behind it; Boris is not held up.
    assert connector.sent == [("boris", "hi Boris")]
    await make_due()
    await core.outbox.drain()
    assert connector.sent[1:] == [("anna", "one"), ("anna", "two"), ("anna", "three")]


async def test_lanes_run_in_order_and_priorities_first(core: Core) -> None:
    done: list[str] = []

    async def handler(item: OutboxItem) -> None:
        done.append(item.payload["name"])

    core.outbox.handle("test.work", handler)
    core.outbox.concurrency = 1
    await enqueue(core.ctx, "test.work", {"name": "board"}, priority=Priority.COSMETIC)
    await enqueue(core.ctx, "test.work", {"name": "a1"}, priority=Priority.COSMETIC, lane="a")
    await enqueue(core.ctx, "test.work", {"name": "a2"}, priority=Priority.CLIENT_REPLY, lane="a")
    await enqueue(core.ctx, "test.work", {"name": "reply"}, priority=Priority.CLIENT_REPLY)

    await core.outbox.drain()

    assert done.index("a1") < done.index("a2")
    assert done[0] == "reply"
    assert sorted(done) == ["a1", "a2", "board", "reply"]


async def test_merge_key_keeps_only_the_newest_pending_row(core: Core) -> None:
    done: list[int] = []

    async def handler(item: OutboxItem) -> None:
        done.append(item.payload["version"])

    core.outbox.handle("test.card", handler)
    for version in (1, 2, 3):
        await enqueue(core.ctx, "test.card", {"version": version}, merge_key="card:1")
    await enqueue(core.ctx, "test.card", {"version": 100}, merge_key="card:2")

    pending = await OutboxItem.filter(status=OutboxStatus.PENDING).order_by("id")
    assert [r.payload["version"] for r in pending] == [3, 100]
    await core.outbox.drain()
    assert sorted(done) == [3, 100]

    # A row already sent is history, not something to replace.
    await enqueue(core.ctx, "test.card", {"version": 4}, merge_key="card:1")
    assert await OutboxItem.filter(merge_key="card:1").count() == 2


async def test_failures_back_off_more_each_time_and_budget_waits_do_not_count(
    core: Core,
) -> None:
    async def failing(item: OutboxItem) -> None:
        raise RetryLater(1.0, "502 Bad Gateway")

    async def waiting(item: OutboxItem) -> None:
        raise RetryLater(5.0, "group budget", waiting=True)

    core.outbox.handle("test.fail", failing)
    core.outbox.handle("test.wait", waiting)
    row = await OutboxItem.get(id=await enqueue(core.ctx, "test.fail", {}))
    delays = []
    for _ in range(4):
        await OutboxItem.filter(id=row.id).update(not_before=core.ctx.wall.now())
        before = core.ctx.wall.now()
        await core.outbox.run_once()
        row = await OutboxItem.get(id=row.id)
        delays.append(round((row.not_before - before).total_seconds()))
    assert delays == [2, 4, 8, 16]
    assert row.attempts == 4 and row.status is OutboxStatus.PENDING

    patient = await OutboxItem.get(id=await enqueue(core.ctx, "test.wait", {}))
    for _ in range(3):
        await OutboxItem.filter(id=patient.id).update(not_before=core.ctx.wall.now())
        await core.outbox.run_once()
    patient = await OutboxItem.get(id=patient.id)
    assert patient.attempts == 0 and patient.status is OutboxStatus.PENDING
