"""The outbox under load and under failure, end to end through the emulator.

A backlog of cosmetic work (titles of many dialogs to redraw) never delays an operator's
reply: the client has it after one round of the outbox, with the backlog still waiting.
Client messages waiting for the group's budget are left alone until it frees: not taken,
not put off, not written. And a change whose side effects cannot be queued is not made at
all: the client's message is stored again when its update is processed again, and shows in
the topic once.
"""

from __future__ import annotations

from typing import Any

from bot.group.rows import TOPIC_STATUS
from core.events import MessageCreated
from core.models import Dialog, Message, MessageKind, OutboxItem, OutboxStatus
from core.outbox import Priority
from tests.e2e.conftest import Desk, bot_says, open_topic
from tests.e2e.test_delivery_budget import client_posts, running

BACKLOG = 1500


async def title_backlog(desk: Desk, count: int = BACKLOG) -> None:
    """`count` dialogs of the client whose topic titles wait to be redrawn (cosmetic rows,
    queued before anything that follows)."""
    dialog = await desk.dialog()
    now, wall = desk.clock.now(), desk.app.core.ctx.wall.now()
    await Dialog.bulk_create(
        [
            Dialog(
                client_id=dialog.client_id,  # type: ignore[attr-defined]
                channel_id=dialog.channel_id,  # type: ignore[attr-defined]
                chat_key=f"backlog-{n}",
                created_at=now,
                last_message_at=now,
            )
            for n in range(count)
        ]
    )
    ids = await Dialog.filter(chat_key__startswith="backlog-").values_list("id", flat=True)
    await OutboxItem.bulk_create(
        [
            OutboxItem(
                kind=TOPIC_STATUS,
                payload={"dialog_id": dialog_id},
                priority=int(Priority.COSMETIC),
                merge_key=f"status:{dialog_id}",
                not_before=wall,
                created_at=wall,
            )
            for dialog_id in ids
        ]
    )


async def cosmetic_pending() -> int:
    return await OutboxItem.filter(kind=TOPIC_STATUS, status=OutboxStatus.PENDING).count()


async def test_an_operator_reply_is_not_held_up_by_a_backlog_of_cosmetic_work(desk: Desk):
    thread = await open_topic(desk)
    worker = desk.app.core.outbox
    # The test turns the outbox's rounds itself, to count them.
    await worker.stop()
    await title_backlog(desk)

    await desk.in_topic(thread, "Looking into it now")

    async def reply_stored() -> bool:
        return await Message.filter(kind=MessageKind.OUT).exists()

    await desk.emu.wait_for(reply_stored, timeout=8)
    await worker.run_once()

    async def at_client() -> list[dict[str, Any]]:
        return [m for m in await desk.client_chat() if "Looking into it now" in m.get("text", "")]

    assert await desk.emu.wait_for(at_client, timeout=8)
    # One round: the reply went first, the backlog waits its turn.
    assert await cosmetic_pending() >= BACKLOG - worker.concurrency


async def test_a_message_whose_side_effects_cannot_be_queued_is_stored_when_tried_again(
    desk: Desk,
):
    thread = await open_topic(desk)
    failures = [RuntimeError("the outbox table is locked")]

    async def queue_fails_once(event: MessageCreated) -> None:
        if event.kind == "in" and failures:
            raise failures.pop()

    desk.app.core.bus.on_change(MessageCreated, queue_fails_once)

    await desk.client_says("Are you there?")

    # Rolled back the first time (nothing stored, nothing queued), stored when the poller
    # takes the update up again: in the topic once.
    await desk.wait(lambda: bot_says(desk, thread, "Are you there?"), timeout=15)
    await desk.settle()
    assert not failures
    assert len(await bot_says(desk, thread, "Are you there?")) == 1
    assert await Message.filter(text="Are you there?").count() == 1


async def test_client_messages_waiting_for_the_group_budget_are_left_untouched(emulator):
    client = await emulator.user("Ann", last_name="Lee")
    async with running(emulator, [], per_minute=3) as (app, chat_id, clock):
        await emulator.send(client["id"], to_bot="acme_help_bot", text="hello first")

        async def posts(n: int) -> list[dict[str, Any]] | None:
            await app.core.outbox.drain()
            found = await client_posts(emulator, chat_id)
            return found if len(found) >= n else None

        # The topic, its card and the first post spend this minute's budget.
        await emulator.wait_for(lambda: posts(1), timeout=8)
        await emulator.send(client["id"], to_bot="acme_help_bot", text="hello again")

        async def queued() -> OutboxItem | None:
            return await OutboxItem.filter(kind="topic.post", status=OutboxStatus.PENDING).first()

        row = await emulator.wait_for(queued, timeout=8)
        for _ in range(5):
            await app.core.outbox.drain()
        # Never taken (no `sending`, no start), never put off (no attempt, no reason, the
        # same moment it was due): no write at all while it waits.
        waited = await OutboxItem.get(id=row.id)
        assert waited.status is OutboxStatus.PENDING and waited.started_at is None
        assert (waited.attempts, waited.last_error) == (0, None)
        assert waited.not_before == row.not_before

        await clock.next_minute(app)
        shown = await emulator.wait_for(lambda: posts(2), timeout=8)
        assert "hello again" in shown[1]["text"]
