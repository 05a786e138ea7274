"""What the poller stores before telling Telegram it has an update: anything a client can send."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from core.clock import FrozenClock
from core.models import InboxItem
from tgapi.polling import DurablePoller


async def test_an_update_with_text_no_database_holds_is_stored(db, clock: FrozenClock):
    bot = Bot("123456:test-token")
    try:
        poller = DurablePoller(bot, Dispatcher(), clock)
        update = Update.model_validate(
            {
                "update_id": 7,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": 42, "type": "private", "first_name": "A\ud800"},
                    "from": {"id": 42, "is_bot": False, "first_name": "A\ud800"},
                    # PostgreSQL's jsonb refuses NUL; no database holds half a surrogate pair.
                    "text": "nul\x00here",
                },
            }
        )
        await poller.store(update)
        stored = await InboxItem.get(source="telegram:123456", key="7")
        assert stored.payload["message"]["text"] == "nulhere"
        assert stored.payload["message"]["from"]["first_name"] == "A?"
    finally:
        await bot.session.close()
