"""The Telegram side's own tables: which topic shows a dialog, what was done once, the group's
calls. (Which post shows which message is core's MessageCopy.)"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from core.prepared import PreparedSelect

BOT_APP: dict[str, Any] = {
    "models": ["bot.storage", "bot.team.panels"],
    "migrations": "bot.migrations",
}
EXTRA_APPS: dict[str, dict[str, Any]] = {"bot": BOT_APP}


class TopicLink(Model):
    # One topic per dialog, reused for the dialog's whole life.
    id = fields.IntField(primary_key=True)
    dialog: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "core.Dialog", related_name="topic", on_delete=fields.CASCADE
    )
    chat_id = fields.BigIntField()
    thread_id = fields.BigIntField()
    title = fields.CharField(max_length=128)
    # The status the title/icon shows now: changed only when the status really changes.
    shown_status = fields.CharField(max_length=16, default="open")
    closed = fields.BooleanField(default=False)
    card_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        unique_together = (("chat_id", "thread_id"),)


async def topic_link(dialog_id: int) -> TopicLink | None:
    """The topic that shows the dialog, if it has one yet."""
    return await _TOPIC_OF_DIALOG.first(dialog_id=dialog_id)


# Built once: read for every post into a topic (see core/prepared.py).
_TOPIC_OF_DIALOG = PreparedSelect(
    TopicLink, lambda dialog_id: TopicLink.filter(dialog_id=dialog_id).limit(1), dialog_id=int
)


class Once(Model):
    # "Tell the topic once": a notice already given is remembered here.
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=191, unique=True)
    created_at = fields.DatetimeField()


class GroupCall(Model):
    # One message a bot sent into the team group (an album: one row per item), written before
    # the call goes out, kept about a minute: a restart starts the group's budget from these.
    id = fields.IntField(primary_key=True)
    bot_id = fields.BigIntField()
    at = fields.DatetimeField()

    class Meta:
        indexes = (("bot_id", "at"),)
