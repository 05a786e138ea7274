"""A post that shows several client messages settles their own post rows with it: they are
never taken up on their own (no round, no reads) once the post is in the topic."""

from __future__ import annotations

import asyncio

from bot.group.rows import TOPIC_POST
from core.models import OutboxItem, OutboxStatus
from tests.e2e.test_delivery_budget import client_posts, running


async def test_the_rows_of_coalesced_messages_are_done_with_their_post(emulator):
    client = await emulator.user("Ann", last_name="Lee")
    async with running(emulator, [], per_minute=3) as (app, chat_id, clock):
        await emulator.send(client["id"], to_bot="acme_help_bot", text="hello first")

        async def posts(n):
            await app.core.outbox.drain()
            found = await client_posts(emulator, chat_id)
            return found if len(found) >= n else None

        await emulator.wait_for(lambda: posts(1), timeout=8)
        for word in ("second", "third", "fourth"):
            await emulator.send(client["id"], to_bot="acme_help_bot", text=f"hello {word}")

        async def rows_waiting() -> bool:
            return await OutboxItem.filter(kind=TOPIC_POST, status="pending").count() == 3

        await emulator.wait_for(rows_waiting, timeout=8)
        for _ in range(5):
            await app.core.outbox.drain()
            await asyncio.sleep(0.05)
        await clock.next_minute(app)
        shown = await emulator.wait_for(lambda: posts(2), timeout=8)
        assert "second" in shown[1]["text"] and "fourth" in shown[1]["text"]
        rows = await OutboxItem.filter(kind=TOPIC_POST).order_by("id")
        assert [r.status for r in rows] == [OutboxStatus.SENT] * 4
        head, *settled = rows[1:]
        assert head.started_at is not None
        assert [r.result for r in settled] == [{"coalesced_into": head.id}] * 2
        assert all(r.started_at is None for r in settled)  # never taken up on their own
