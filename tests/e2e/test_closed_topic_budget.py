"""A topic closed by hand refuses a client's post (TOPIC_CLOSED) while the group's budget is
spent: the topic is reopened once the budget allows, before the post is tried again, and the
message is posted once. (Nothing waits in a handler: the outbox row comes back later.)"""

from __future__ import annotations

from typing import Any

from bot.storage import TopicLink
from core.models import Dialog, OutboxItem
from tests.e2e.test_delivery_budget import client_posts, running


async def test_a_topic_closed_by_hand_is_reopened_when_the_budget_allows_then_posted_once(
    emulator: Any,
) -> None:
    ann = await emulator.user("Ann", last_name="Lee")
    async with running(emulator, [], per_minute=5) as (app, chat_id, clock):
        await emulator.send(ann["id"], to_bot="acme_help_bot", text="hello first")

        async def posted(needle: str) -> list[dict[str, Any]]:
            await app.core.outbox.drain()
            return [p for p in await client_posts(emulator, chat_id) if needle in p["text"]]

        async def all_done() -> bool:
            await app.core.outbox.drain()
            return not await OutboxItem.filter(status="pending").exists()

        await emulator.wait_for(lambda: posted("hello first"), timeout=8)
        (topic,) = await emulator.topics(chat_id)
        await clock.next_minute(app)
        await emulator.wait_for(all_done, timeout=8)
        # One call is left this minute: the client's post takes it, and the reopen finds none.
        budget = app.desk.gateway.budget
        while budget.room() > 1:
            budget.take()
        # Someone closed the topic by hand; Telegram refuses the post once.
        await app.bot.close_forum_topic(chat_id, topic["thread_id"])
        await emulator.fault(
            method="sendMessage",
            chat_id=chat_id,
            description="Bad Request: TOPIC_CLOSED",
            times=1,
        )
        await emulator.send(ann["id"], to_bot="acme_help_bot", text="hello again")

        async def refused() -> list[dict[str, Any]]:
            await app.core.outbox.drain()
            return [c for c in await emulator.calls("sendMessage") if not c["ok"]]

        await emulator.wait_for(refused, timeout=8)
        await clock.next_minute(app)
        await emulator.wait_for(lambda: posted("hello again"), timeout=8)
        await emulator.wait_for(all_done, timeout=8)

        assert len(await posted("hello again")) == 1
        reopened = [c for c in await emulator.calls("reopenForumTopic") if c["ok"]]
        assert len(reopened) == 1
        # Reopened before the post went again: the topic shows it open, and so does eadesk.
        posts = [
            c
            for c in await emulator.calls("sendMessage")
            if "hello again" in str(c["params"].get("text"))
        ]
        assert posts[-1]["ok"] and reopened[0]["t"] < posts[-1]["t"], (reopened, posts)
        (now,) = await emulator.topics(chat_id)
        assert not now["closed"]
        (dialog,) = await Dialog.all()
        assert not (await TopicLink.get(dialog_id=dialog.id)).closed
