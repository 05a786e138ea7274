"""The visitor's dialog as they see it: their messages and the replies that reached them
(never the team's notes), each with its cursor.

A message's cursor is the id of the row that made it visible to the visitor — its first copy
on the client's side, written when a visitor's message is taken in or a reply is sent, one
at a time under `lock` — so cursors grow in the order messages became visible, not in the
order they were written: a reply written before the visitor's newer message but sent after
it gets the larger cursor, and a tab that resumes after the newer one still gets the reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tortoise.expressions import Subquery

from connectors.webchat.identity import Tokens
from connectors.webchat.wire import iso
from core import copies
from core.clock import Clock
from core.models import Dialog, Message, MessageCopy, MessageKind, fit_key


class Feed:
    def __init__(
        self,
        clock: Clock,
        channel_id: Callable[[], int],
        tokens: Callable[[], Tokens],
        base_url: Callable[[], str],
    ) -> None:
        self.clock = clock
        self.channel_id = channel_id
        self.tokens = tokens
        self.base_url = base_url
        # Held while a message becomes visible (its row written) and is pushed: cursors are
        # given and pushed in one order.
        self.lock = asyncio.Lock()

    async def dialog(self, key: str) -> Dialog | None:
        return await Dialog.get_or_none(channel_id=self.channel_id(), chat_key=fit_key(key, 255))

    async def show(
        self,
        message_id: int,
        dialog_id: int,
        external_id: str,
        data: dict[str, Any] | None = None,
        *,
        new: bool = False,
    ) -> int:
        """The message is visible to the visitor from now on: its cursor (call under `lock`;
        once more is no change). `new`: it cannot have been shown yet (nothing to look up)."""
        first = None
        if not new:
            first = (
                await MessageCopy.filter(message_id=message_id, side=copies.CLIENT, chat="")
                .order_by("position")
                .first()
            )
        if first is not None:
            return int(first.id)
        row = await MessageCopy.create(
            message_id=message_id,
            dialog_id=dialog_id,
            side=copies.CLIENT,
            chat="",
            external_id=fit_key(external_id, 255),
            position=0,
            data=data or {},
            created_at=self.clock.now(),
        )
        return int(row.id)

    async def _admit(self, dialog_id: int) -> None:
        """The dialog's client messages that came in another way (an answer to a reply by
        e-mail) become visible in the chat too."""
        shown = MessageCopy.filter(dialog_id=dialog_id, side=copies.CLIENT, chat="")
        unseen = (
            Message.filter(dialog_id=dialog_id, kind=MessageKind.IN)
            .exclude(id__in=Subquery(shown.values("message_id")))
            .order_by("id")
        )
        if await unseen.exists():
            async with self.lock:
                for message in await unseen:  # again: another read may have shown them
                    await self.show(message.id, dialog_id, f"in:{message.id}", new=True)

    async def history(self, key: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        """What the visitor sees after cursor `after`, the latest `limit`, oldest first."""
        dialog = await self.dialog(key)
        if dialog is None:
            return []
        await self._admit(dialog.id)
        rows = (
            await MessageCopy.filter(
                dialog_id=dialog.id, side=copies.CLIENT, chat="", position=0, id__gt=after
            )
            .select_related("message")
            .order_by("-id")
            .limit(limit)
        )
        messages = []
        for row in reversed(rows):
            msg = self.msg_of(row.message, row)
            if msg is not None:
                messages.append(msg)
        return messages

    async def find(self, key: str, client_id: str) -> dict[str, Any] | None:
        """The visitor's message with this client_id, as they see it (None: not taken yet)."""
        row = (
            await MessageCopy.filter(
                dialog__channel_id=self.channel_id(),
                dialog__chat_key=fit_key(key, 255),
                side=copies.CLIENT,
                chat="",
                external_id=fit_key(f"wc:{client_id}", 255),
            )
            .select_related("message")
            .first()
        )
        return self.msg_of(row.message, row) if row is not None else None

    def msg_of(self, message: Message, row: MessageCopy) -> dict[str, Any] | None:
        if message.kind == MessageKind.IN:
            return self.visitor_msg(message, row.id)
        shown = row.data.get("msg") if row.data else None
        return {**shown, "cursor": row.id} if isinstance(shown, dict) else None

    def visitor_msg(self, message: Message, cursor: int) -> dict[str, Any]:
        external = message.external_id or ""
        msg: dict[str, Any] = {
            "id": message.id,
            "cursor": cursor,
            "from": "visitor",
            "author": None,
            "text": message.text,
            "spans": [],
            "attachments": [
                self.attachment(message.id, index, raw)
                for index, raw in enumerate(message.attachments or [])
            ],
            "at": iso(message.created_at),
        }
        if external.startswith("wc:"):
            msg["client_id"] = external[3:]
        return msg

    def attachment(self, message_id: int, index: int, raw: dict[str, Any]) -> dict[str, Any]:
        signature = self.tokens().sign(f"{message_id}:{index}")
        return {
            "kind": raw.get("kind", "document"),
            "name": raw.get("name") or "",
            "mime": raw.get("mime") or "",
            "size": raw.get("size"),
            "url": f"{self.base_url()}/webchat/files/{message_id}/{index}?sig={signature}",
        }
