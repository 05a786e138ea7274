"""What a team update has done already, so that a re-run of it does each step once.

A handler records a step after it made its change; when the poller runs the update again
(its answer failed, the process died), the recorded step is skipped and only what is left
happens. Keys name the Telegram message (or button press) and the step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram.types import CallbackQuery, Message

from bot.storage import Once

# A re-run comes within minutes (the poller's retries, a restart): older records only weigh.
KEEP = timedelta(days=7)
PRUNE_EVERY = 500
_marked = 0


def update_key(message: Message, step: str) -> str:
    return f"upd:{message.chat.id}:{message.message_id}:{step}"


def press_key(query: CallbackQuery, step: str) -> str:
    return f"upd:cb:{query.id}:{step}"


async def done(key: str) -> bool:
    return await Once.exists(key=key)


async def mark(key: str, now: datetime) -> None:
    global _marked
    await Once.get_or_create(key=key, defaults={"created_at": now})
    _marked += 1
    if _marked % PRUNE_EVERY == 0:
        await prune(now)


async def prune(now: datetime) -> int:
    """Forget the steps of updates older than a week; how many were forgotten."""
    return await Once.filter(key__startswith="upd:", created_at__lt=now - KEEP).delete()
