"""Messages the bot keeps up to date by editing: the client card of a topic, the board."""

from __future__ import annotations

import hashlib

from tortoise import fields
from tortoise.models import Model

from core.prepared import PreparedSelect


class Panel(Model):
    # "card:<dialog id>" or "board"; `digest` is what the message shows now.
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    chat_id = fields.BigIntField()
    message_id = fields.BigIntField(null=True)
    # The bot that posted it (only that bot may edit it); null: the team bot.
    bot_id = fields.BigIntField(null=True)
    digest = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField()


async def panel_at(key: str) -> Panel | None:
    """The panel kept under `key`, if it was ever posted."""
    return await _PANEL_BY_KEY.first(key=key)


# Built once: read for every card and board redraw (see core/prepared.py).
_PANEL_BY_KEY = PreparedSelect(Panel, lambda key: Panel.filter(key=key).limit(1), key=str)


def digest_of(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()
