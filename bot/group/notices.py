"""Lines from the bot in a dialog's topic (a reply not delivered, a client unreachable or
reachable again, a topic made anew…) and the 💔 mark on a reply that did not arrive."""

from __future__ import annotations

import logging
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ReactionTypeEmoji

from bot.group.gateway import Gateway
from bot.group.rows import TOPIC_MARK, TOPIC_NOTICE, queue_notice, queue_title
from bot.i18n import SUPPORTED, catalog, t
from core import copies
from core.events import CoreEvent, DeliveryFailed, ReachabilityChanged
from core.models import Dialog, Message, OutboxItem, OutboxStatus
from core.outbox import Priority, RetryLater, enqueue
from core.sizes import describe_size
from tgapi.errors import ThreadGone, TopicClosed, call

log = logging.getLogger(__name__)

# On an operator's reply that did not reach the client. (Telegram takes only the emoji of its
# reaction list: ⚠️ is not one of them.)
UNDELIVERED_MARK = "💔"
# What a client's channel could not carry into a message (core.ingest.Inbound.notices): the
# line of each key; a key the locales do not know reads as the `other` line.
INBOUND = "notice.inbound."
# Values that are sizes in bytes, shown as people read them.
_SIZES = frozenset({"size", "limit"})


def size_text(size: int, lang: str) -> str:
    amount, _, unit = describe_size(size).partition(" ")
    return f"{amount} {t(f'size.{unit}', lang)}"


def inbound_line(key: str, values: dict[str, Any], lang: str) -> str:
    """The topic's line for one thing a channel could not carry in, in `lang`."""
    shown = {
        name: size_text(value, lang) if name in _SIZES and isinstance(value, int) else value
        for name, value in values.items()
    }
    line = catalog(lang).get(INBOUND + key) if lang in SUPPORTED else None
    if line:
        try:
            return line.format(**shown)
        except (KeyError, IndexError, ValueError):
            pass  # the channel's values do not fit the line
    return t(INBOUND + "other", lang)


class Notices:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.core = gateway.core
        self.lang = gateway.lang

    async def notice(self, dialog_id: int, key: str, **values: Any) -> None:
        """A short line from the bot in the dialog's topic, in the team's language."""
        await queue_notice(self.core.ctx, dialog_id, key, **values)

    async def inbound(self, message: Message) -> None:
        """What the client's channel could not carry into `message`: one notice in the
        topic, a line each, right after the message's post (the topic's lane keeps order).
        Queued in the ingest's transaction."""
        lines = [n for n in message.notices or [] if isinstance(n, dict) and n.get("key")]
        if not lines:
            return
        dialog_id = message.dialog_id  # type: ignore[attr-defined]
        await enqueue(
            self.core.ctx,
            TOPIC_NOTICE,
            {"dialog_id": dialog_id, "message_id": message.id, "lines": lines},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog_id}",
        )

    async def on_delivery_failed(self, event: DeliveryFailed) -> list[CoreEvent]:
        dialog = await Dialog.get(id=event.dialog_id)
        # Every reply that did not arrive is marked; the topic's line comes once per blocking.
        await enqueue(
            self.core.ctx,
            TOPIC_MARK,
            {"dialog_id": dialog.id, "message_id": event.message_id},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog.id}",
        )
        key = "notice.unreachable" if dialog.unreachable else "notice.not_delivered"
        if key == "notice.unreachable" and not await self.gateway.first_time(
            f"unreachable:{dialog.id}"
        ):
            return []
        await self.notice(dialog.id, key, reason=event.reason)
        if not dialog.unreachable:
            return []
        await queue_title(self.core.ctx, dialog.id)
        return [ReachabilityChanged(dialog_id=dialog.id, at=self.gateway.now(), reachable=False)]

    async def reachable_again(self, dialog_id: int) -> list[CoreEvent]:
        """A client the topic was told cannot be reached wrote again: told, marks removed."""
        await self.notice(dialog_id, "notice.reachable_again")
        await queue_title(self.core.ctx, dialog_id)
        return [ReachabilityChanged(dialog_id=dialog_id, at=self.gateway.now(), reachable=True)]

    async def post_notice(self, item: OutboxItem) -> None:
        gateway = self.gateway
        dialog = await Dialog.get(id=item.payload["dialog_id"])
        link = await gateway.topic_of(dialog)
        if "lines" in item.payload:
            text = "\n".join(
                inbound_line(str(line["key"]), line.get("values") or {}, self.lang)
                for line in item.payload["lines"]
            )
        else:
            text = t(item.payload["key"], self.lang, **item.payload.get("values", {}))
        try:
            await gateway.group_call(
                lambda: gateway.bot.send_message(
                    gateway.chat_id, text, message_thread_id=link.thread_id
                )
            )
        except ThreadGone:
            await gateway.heal(dialog, link)
            raise RetryLater(0, "topic recreated", waiting=True) from None
        except TopicClosed:
            await gateway.reopen(dialog, link)
            raise RetryLater(0, "topic reopened", waiting=True) from None

    async def mark_undelivered(self, item: OutboxItem) -> None:
        """A 💔 reaction on the operator's reply that did not reach the client (reactions cost
        no group message); where the group takes no reactions, one line for a run of them."""
        gateway = self.gateway
        message = await Message.get(id=item.payload["message_id"])
        ids = await copies.ids_of(message.id, copies.TEAM, gateway.chat_id)
        if ids:
            mark = ReactionTypeEmoji(emoji=UNDELIVERED_MARK)
            try:
                await call(gateway.bot.set_message_reaction(gateway.chat_id, int(ids[0]), [mark]))
                return
            except (TelegramBadRequest, ThreadGone, TopicClosed) as exc:
                log.info("no reaction on %s (%s): a line instead", ids[0], exc)
        dialog_id = int(item.payload["dialog_id"])
        if not await Dialog.exists(id=dialog_id, unreachable=True):
            return  # "not delivered: why" has a line of its own already
        key = f"undelivered:{dialog_id}"
        waiting = await OutboxItem.filter(merge_key=key, status=OutboxStatus.PENDING).first()
        count = 1 + (int(waiting.payload["values"]["count"]) if waiting else 0)
        await enqueue(
            self.core.ctx,
            TOPIC_NOTICE,
            {"dialog_id": dialog_id, "key": "notice.undelivered", "values": {"count": count}},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog_id}",
            merge_key=key,
        )
