"""The team group's outbox rows: their kinds, the budgets they wait for, and the rows that
several parts queue (a notice in the topic, the topic's title)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.context import CoreContext
from core.models import OutboxItem, OutboxStatus
from core.outbox import Priority, enqueue

TOPIC_POST = "topic.post"
TOPIC_EDIT = "topic.edit"
TOPIC_STATUS = "topic.status"
TOPIC_NOTICE = "topic.notice"
PRIVATE_NOTE = "private.note"
TOPIC_MARK = "topic.mark"
# The outbox's budgets: the team bot's own group calls, and posts by any poster (main + relays).
GROUP = "group"
POSTERS = "group.posters"
# A title or reopen waiting for the client's messages to be posted looks again this much later.
LOOKS_AFTER_POSTS = 1.0


async def queue_notice(ctx: CoreContext, dialog_id: int, key: str, **values: Any) -> None:
    """A short line from the bot in the dialog's topic, in the team's language."""
    await enqueue(
        ctx,
        TOPIC_NOTICE,
        {"dialog_id": dialog_id, "key": key, "values": values},
        priority=Priority.TOPIC_MESSAGE,
        lane=f"topic:{dialog_id}",
    )


async def queue_title(ctx: CoreContext, dialog_id: int) -> None:
    await enqueue(
        ctx,
        TOPIC_STATUS,
        {"dialog_id": dialog_id},
        priority=Priority.COSMETIC,
        merge_key=f"status:{dialog_id}",
    )


async def posts_pending(dialog_id: int) -> bool:
    """Client messages wait to be posted into the dialog's topic (a row that keeps
    failing does not count): the topic's looks follow them, never go first."""
    return await OutboxItem.filter(
        kind=TOPIC_POST,
        lane=f"topic:{dialog_id}",
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
        attempts=0,
    ).exists()


async def settle_posts(dialog_id: int, shown: set[int], into: int, now: datetime) -> int:
    """The post rows of `shown` (client messages a post or the card shows now) are done with
    it, `into` naming it: nothing is left for them to post, and no round takes them up. Call
    in the transaction that keeps the post's copies. Returns how many."""
    if not shown:
        return 0
    waiting = await OutboxItem.filter(
        kind=TOPIC_POST, lane=f"topic:{dialog_id}", status=OutboxStatus.PENDING
    ).values("id", "payload")
    done = [w["id"] for w in waiting if (w["payload"] or {}).get("message_id") in shown]
    if done:
        await OutboxItem.filter(id__in=done, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.SENT, done_at=now, result={"coalesced_into": into}
        )
    return len(done)
