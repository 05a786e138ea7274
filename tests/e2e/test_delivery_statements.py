"""A post that shows several client messages settles their own post rows with it: they are
never taken up on their own (no round, no reads) once the post is in the topic."""

from __future__ import annotations

import asyncio

from bot.group.rows import TOPIC_POST
from core.models import Message, OutboxItem, OutboxStatus
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


async def test_the_rows_of_texts_the_card_shows_are_done_with_the_card(emulator):
    first = await emulator.user("Ann", last_name="Lee")
    second = await emulator.user("Bob", last_name="Ray")
    async with running(emulator, [], per_minute=2) as (app, chat_id, clock):
        await emulator.send(first["id"], to_bot="acme_help_bot", text="hello from Ann")

        async def cards(n):
            await app.core.outbox.drain()
            found = [
                m
                for m in await emulator.messages(chat_id)
                if m["from"]["is_bot"] and "👤" in (m.get("text") or "")
            ]
            return found if len(found) >= n else None

        await emulator.wait_for(lambda: cards(1), timeout=8)
        # Ann's topic and card spent the minute: Bob's texts wait for his card.
        for word in ("one", "two"):
            await emulator.send(second["id"], to_bot="acme_help_bot", text=f"hello bob {word}")

        async def bobs_rows_waiting() -> bool:
            rows = await OutboxItem.filter(kind=TOPIC_POST, status="pending").count()
            return rows == 2

        await emulator.wait_for(bobs_rows_waiting, timeout=8)

        async def bobs_card():
            found = await cards(2)
            if found is None:
                await clock.next_minute(app)  # the topic, the board: more than one minute's
            return found

        shown = await emulator.wait_for(bobs_card, timeout=10, interval=0.2)
        card = shown[1]["text"]
        assert "hello bob one" in card and "hello bob two" in card
        for _ in range(5):
            await app.core.outbox.drain()
            await asyncio.sleep(0.05)
        showing = [
            m for m in await emulator.messages(chat_id) if "hello bob" in (m.get("text") or "")
        ]
        assert len(showing) == 1  # the card alone shows them
        bob = await Message.filter(text="hello bob one").first()
        assert bob is not None
        rows = await OutboxItem.filter(kind=TOPIC_POST, lane=f"topic:{bob.dialog_id}")
        assert len(rows) == 2
        assert all(r.result.get("coalesced_into") for r in rows)
        assert all(r.started_at is None for r in rows)  # never taken up on their own
