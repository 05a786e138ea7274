"""What a client's channel could not carry of an operator's message, told in the topic.

The core fits every reply to its channel (core.adapt) and says what it left out (an edit the
channel cannot make, a sticker it does not take, a file over its limit) with the delivery:
each becomes a one-line notice in the dialog's topic, queued in the same transaction
(a durable outbox row), in the group's language. So does formatting the channel cannot
show, but for a link (its address goes with the words) and a mention (its name does).
"""

from __future__ import annotations

from typing import Any

from bot.i18n import t
from core.adapt import LeftOut, Omission
from core.events import ContentLeftOut
from core.models import Channel, Dialog
from core.sizes import describe_size

NOTICE = "notice.left_out."


def notice_values(left: LeftOut, channel: str, lang: str) -> dict[str, Any]:
    """The values of `left`'s line; words in `lang` are put in now (the group's language
    does not change while a row waits)."""
    values: dict[str, Any] = {"channel": channel}
    if left.what == Omission.FORMATTING:  # `kind`: the span kinds, comma-separated
        values["kinds"] = ", ".join(t(f"spans.{k}", lang) for k in left.kind.split(",") if k)
        return values
    kind = t(f"kinds.{left.kind}", lang) if left.kind else ""
    if left.what == Omission.KIND:
        values["kinds"] = kind
    elif left.what in (Omission.TOO_LARGE, Omission.UNAVAILABLE):
        values["name"] = left.name or kind
        values["size"] = describe_size(left.size) if left.size is not None else "?"
        values["limit"] = describe_size(left.limit) if left.limit is not None else "?"
        values["reason"] = left.reason
    return values


class LeftOutNotices:
    def __init__(self, desk: Any) -> None:
        # bot.group.notices.Notices: its `notice` queues a line in the topic, `lang` the group's.
        self.desk = desk

    async def on_left_out(self, event: ContentLeftOut) -> None:
        """Inside the delivery's transaction: a notice row per thing left out."""
        dialog = await Dialog.get(id=event.dialog_id)
        channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
        for raw in event.left_out:
            left = LeftOut.from_json(raw)
            values = notice_values(left, channel.name, self.desk.lang)
            await self.desk.notice(dialog.id, NOTICE + left.what, **values)
